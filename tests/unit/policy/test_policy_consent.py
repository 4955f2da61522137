"""Consent shapes -> PatientFacts (issue #6 fixed shapes, and ours)."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from gateway.auth import demo
from gateway.fhir.identifiers import IDNAT_PS
from gateway.policy import PatientFacts, patient_facts_from_consents, summarise_consent
from gateway.policy.labels import TRE_A07

INS = demo.PATIENT_INS[0]
REFS = frozenset({"Patient/p1", INS})
NOW = datetime(2025, 6, 1, tzinfo=UTC)
ACT_REASON = "http://terminology.hl7.org/CodeSystem/v3-ActReason"
REFERENCES = {
    "Practitioner/dr": demo.PHYSICIAN.subject,
    "PractitionerRole/nurse-role": demo.NURSE.subject,
    "Organization/hospital": demo.HOSPITAL,
}
MASQUE = [{"system": TRE_A07, "code": "MASQUE_PS"}]


def consent(provision: dict[str, Any] | None, **extra: Any) -> dict[str, Any]:
    out: dict[str, Any] = {
        "resourceType": "Consent",
        "id": "c1",
        "status": "active",
        "scope": {
            "coding": [
                {
                    "system": "http://terminology.hl7.org/CodeSystem/consentscope",
                    "code": "patient-privacy",
                }
            ]
        },
        "category": [{"coding": [{"system": "http://loinc.org", "code": "59284-0"}]}],
        "patient": {"reference": "Patient/p1"},
    }
    if provision is not None:
        out["provision"] = provision
    out.update(extra)
    return out


def actor(reference: dict[str, Any]) -> list[dict[str, Any]]:
    return [{"role": {"coding": [{"code": "PROV"}]}, "reference": reference}]


def facts(*consents: dict[str, Any], **kw: Any) -> PatientFacts:
    return patient_facts_from_consents(
        list(consents),
        kw.pop("care_teams", []),
        patient_refs=REFS,
        references=REFERENCES,
        now=NOW,
        **kw,
    )


BLOCK_DR = {"type": "deny", "actor": actor({"reference": "Practitioner/dr"})}
CASES: list[tuple[str, dict[str, Any], dict[str, Any]]] = [
    (
        "blocked professional (fixed shape)",
        consent(BLOCK_DR),
        {"blocked_professionals": {demo.PHYSICIAN.subject}},
    ),
    (
        "blocked by PractitionerRole",
        consent({"type": "deny", "actor": actor({"reference": "PractitionerRole/nurse-role"})}),
        {"blocked_professionals": {demo.NURSE.subject}},
    ),
    (
        "blocked by logical idNat_PS",
        consent(
            {"type": "deny", "actor": actor({"identifier": {"system": IDNAT_PS, "value": "8123"}})}
        ),
        {"blocked_professionals": {"8123"}},
    ),
    (
        "blocked structure",
        consent({"type": "deny", "actor": actor({"reference": "Organization/hospital"})}),
        {"blocked_structures": {demo.HOSPITAL}},
    ),
    (
        "BTG opposition (fixed shape)",
        consent({"type": "deny", "purpose": [{"system": ACT_REASON, "code": "BTG"}]}),
        {"btg_opposition": True},
    ),
    (
        "centre-15 opposition (fixed shape)",
        consent({"type": "deny", "purpose": [{"system": ACT_REASON, "code": "ETREAT"}]}),
        {"centre15_opposition": True},
    ),
    (
        "both oppositions",
        consent(
            {
                "type": "deny",
                "purpose": [
                    {"system": ACT_REASON, "code": "BTG"},
                    {"system": ACT_REASON, "code": "ETREAT"},
                ],
            }
        ),
        {"btg_opposition": True, "centre15_opposition": True},
    ),
    (
        "designated professional",
        consent(
            {
                "type": "permit",
                "actor": actor({"reference": "Practitioner/dr"}),
                "securityLabel": MASQUE,
            }
        ),
        {"designated_professionals": {demo.PHYSICIAN.subject}},
    ),
    (
        "MASKED emergency consent",
        consent(
            {
                "type": "permit",
                "purpose": [
                    {"system": ACT_REASON, "code": "BTG"},
                    {"system": ACT_REASON, "code": "ETREAT"},
                ],
                "securityLabel": MASQUE,
            }
        ),
        {"masked_emergency_consent": True},
    ),
    (
        "explicit consent",
        consent({"type": "permit", "actor": actor({"reference": "Practitioner/dr"})}),
        {"consented_professionals": {demo.PHYSICIAN.subject}},
    ),
    (
        "explicit consent for treatment",
        consent(
            {
                "type": "permit",
                "actor": actor({"reference": "Practitioner/dr"}),
                "purpose": [{"system": ACT_REASON, "code": "TREAT"}],
            }
        ),
        {"consented_professionals": {demo.PHYSICIAN.subject}},
    ),
    (
        "general opposition",
        consent(
            {"type": "deny"},
            policyRule={
                "coding": [
                    {"system": "http://terminology.hl7.org/CodeSystem/v3-ActCode", "code": "OPTOUT"}
                ]
            },
        ),
        {"general_opposition": True},
    ),
    (
        "closed record",
        consent(
            None,
            policyRule={
                "coding": [
                    {
                        "system": "https://dmp-gateway.fr/fhir/CodeSystem/record-policy",
                        "code": "closed",
                    }
                ]
            },
        ),
        {"record_closed": True},
    ),
    (
        "care-team opposition with an exception",
        consent(
            {
                "type": "deny",
                "provision": [{"type": "permit", "actor": actor({"reference": "Practitioner/dr"})}],
            }
        ),
        {"care_team_opposition": True, "consented_professionals": {demo.PHYSICIAN.subject}},
    ),
    ("expired provision", consent({**BLOCK_DR, "period": {"end": "2025-01-01T00:00:00Z"}}), {}),
    ("future provision", consent({**BLOCK_DR, "period": {"start": "2026-01-01T00:00:00Z"}}), {}),
    (
        "current provision",
        consent({**BLOCK_DR, "period": {"start": "2025-01-01T00:00:00Z"}}),
        {"blocked_professionals": {demo.PHYSICIAN.subject}},
    ),
    ("inactive consent ignored", consent(BLOCK_DR, status="inactive"), {}),
    ("other scope ignored", consent(BLOCK_DR, scope={"coding": [{"code": "research"}]}), {}),
    (
        "unknown permit ignored",
        consent({"type": "permit", "securityLabel": [{"system": "http://x", "code": "Y"}]}),
        {},
    ),
    (
        "permit narrowed by data ignored",
        consent(
            {
                "type": "permit",
                "actor": actor({"reference": "Practitioner/dr"}),
                "data": [{"meaning": "instance", "reference": {"reference": "Observation/1"}}],
            }
        ),
        {},
    ),
    (
        "deny actor plus purpose blocks entirely",
        consent({**BLOCK_DR, "purpose": [{"system": ACT_REASON, "code": "BTG"}]}),
        {"blocked_professionals": {demo.PHYSICIAN.subject}},
    ),
]
UNREADABLE: list[tuple[str, dict[str, Any]]] = [
    (
        "unresolved blocked actor",
        consent({"type": "deny", "actor": actor({"reference": "Practitioner/unknown"})}),
    ),
    (
        "deny with an unknown purpose",
        consent({"type": "deny", "purpose": [{"system": ACT_REASON, "code": "HRESCH"}]}),
    ),
    ("deny with a label", consent({"type": "deny", "securityLabel": MASQUE})),
    ("deny with a data constraint", consent({"type": "deny", "class": [{"code": "x"}]})),
    ("nested bare deny", consent({"type": "permit", "provision": [{"type": "deny"}]})),
    ("no provision", consent(None)),
    ("provision without type", consent({"actor": actor({"reference": "Practitioner/dr"})})),
    ("unreadable period on a deny", consent({**BLOCK_DR, "period": {"start": "soon"}})),
    ("consent of another patient", consent(BLOCK_DR, patient={"reference": "Patient/p9"})),
    (
        "opt-out with a permit",
        consent(
            {"type": "permit"},
            policyRule={
                "coding": [
                    {"system": "http://terminology.hl7.org/CodeSystem/v3-ActCode", "code": "OPTOUT"}
                ]
            },
        ),
    ),
]


@pytest.mark.parametrize(("name", "resource", "expected"), CASES, ids=[c[0] for c in CASES])
def test_consent_shape(name: str, resource: dict[str, Any], expected: dict[str, Any]) -> None:
    got = facts(resource)
    changes: dict[str, Any] = {
        k: frozenset(v) if isinstance(v, set) else v for k, v in expected.items()
    }
    want = replace(PatientFacts(patient_refs=REFS), **changes)
    assert got == want


@pytest.mark.parametrize(("name", "resource"), UNREADABLE, ids=[u[0] for u in UNREADABLE])
def test_unreadable_deny_fails_closed(name: str, resource: dict[str, Any]) -> None:
    got = facts(resource)
    assert len(got.unreadable) == 1
    assert got.unreadable[0].startswith("Consent/c1: ")


def test_care_teams_and_declared_relationships() -> None:
    team = {
        "resourceType": "CareTeam",
        "status": "active",
        "subject": {"reference": "Patient/p1"},
        "participant": [
            {"member": {"reference": "Practitioner/dr"}},
            {"member": {"reference": "Organization/hospital"}},
            {
                "member": {"reference": "PractitionerRole/nurse-role"},
                "period": {"end": "2024-01-01T00:00:00Z"},
            },
            {"member": {"reference": "Practitioner/unknown"}},
        ],
    }
    inactive = {
        **team,
        "status": "inactive",
        "participant": [{"member": {"reference": "PractitionerRole/nurse-role"}}],
    }
    other = {
        **team,
        "subject": {"reference": "Patient/p9"},
        "participant": [{"member": {"reference": "PractitionerRole/nurse-role"}}],
    }
    patient = {
        "resourceType": "Patient",
        "generalPractitioner": [{"identifier": {"system": IDNAT_PS, "value": "810000000082"}}],
    }
    got = facts(
        care_teams=[team, inactive, other],
        patient=patient,
        declared_treating=["810000000090"],
        groups=["g1"],
        legal_representatives=[demo.PATIENT_INS[1]],
        record_closed=True,
    )
    assert got.care_team_professionals == {demo.PHYSICIAN.subject, "810000000082", "810000000090"}
    assert got.care_team_structures == {demo.HOSPITAL}
    assert got.groups == {"g1"}
    assert got.legal_representatives == {demo.PATIENT_INS[1]}
    assert got.record_closed
    assert got.unreadable == ()


def test_summary_of_a_grant_and_of_a_block() -> None:
    grant = consent({"type": "permit", "actor": actor({"reference": "Practitioner/dr"})})
    assert summarise_consent(grant, REFERENCES).shapes == {"access-grant"}
    assert summarise_consent(grant, REFERENCES).actors == {demo.PHYSICIAN.subject}
    mixed = consent(
        {
            "type": "deny",
            "provision": [{"type": "permit", "actor": actor({"reference": "Practitioner/dr"})}],
        }
    )
    assert summarise_consent(mixed, REFERENCES).shapes == {"care-team-opposition", "access-grant"}


JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=8),
    lambda inner: (
        st.lists(inner, max_size=3)
        | st.dictionaries(
            st.sampled_from(
                [
                    "type",
                    "actor",
                    "reference",
                    "purpose",
                    "securityLabel",
                    "system",
                    "code",
                    "coding",
                    "provision",
                    "period",
                    "start",
                    "end",
                    "data",
                    "identifier",
                    "value",
                    "status",
                    "scope",
                    "patient",
                    "policyRule",
                ]
            ),
            inner,
            max_size=4,
        )
    ),
    max_leaves=12,
)


@settings(max_examples=300, deadline=None)
@given(provision=JSON, extra=st.dictionaries(st.sampled_from(["policyRule", "patient"]), JSON))
def test_no_consent_crashes_the_reader(provision: Any, extra: dict[str, Any]) -> None:
    resource = consent(None, **extra)
    resource["provision"] = provision
    got = facts(resource)
    assert isinstance(got, PatientFacts)
    summarise_consent(resource, REFERENCES)
