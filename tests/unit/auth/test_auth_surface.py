"""The public surface of gateway.auth and gateway.policy, and the demo identities."""

from __future__ import annotations

import gateway.auth
import gateway.policy
from gateway.auth import demo
from gateway.fhir.identifiers import is_valid_finess, is_valid_idnat_ps, is_valid_nir


def test_exported_members() -> None:
    assert sorted(gateway.auth.__all__) == sorted([
        "REASONS", "Client", "ClientKey", "ClientRegistry", "InMemoryReplayGuard", "RateLimit",
        "RegistryError", "ReplayGuard", "TokenReason", "TokenRejected", "TokenRules",
        "load_registry", "parse_client", "parse_registry", "registry_document", "verify",
    ])  # fmt: skip
    assert sorted(gateway.policy.__all__) == sorted([
        "REASONS", "AccessMatrix", "Action", "ConsentSummary", "Decision", "Effect",
        "LabelChange", "Obligation", "PatientFacts", "Policy", "PolicyOptions", "Reason",
        "ResourceClasses", "ResourceFacts", "Verdict", "Vote", "check_create", "check_update",
        "evaluate", "final_effect", "label_update", "labels_of", "load_matrix",
        "load_resource_classes", "parallel", "parse_matrix", "parse_resource_classes",
        "patient_facts_from_consents", "patient_of", "regulates", "resource_facts", "serial",
        "summarise_consent",
    ])  # fmt: skip
    for module in (gateway.auth, gateway.policy):
        assert all(hasattr(module, name) for name in module.__all__)


def test_demo_identities_carry_valid_keys() -> None:
    professionals = [a for a in demo.ACTORS.values() if a.kind == "professional"]
    assert len(professionals) >= 5
    assert all(is_valid_idnat_ps(a.subject) for a in professionals)
    assert all(is_valid_nir(ins) for ins in demo.PATIENT_INS)
    for structure in (demo.HOSPITAL, demo.PHARMACY, demo.EHPAD, demo.SAMU):
        assert structure.startswith("1")
        assert is_valid_finess(structure[1:])
    assert (demo.IDEC.profession, demo.IDEC.role) == ("60", "330")  # DOMAIN.md §2
