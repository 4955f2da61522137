"""Access control for the shared record: a pure, total policy engine (DOMAIN.md §3).

``evaluate(context, action, resource, facts, policy=...) -> Decision``; see
:mod:`gateway.policy.engine` for the flow and ``gateway/policy/README.md`` for the rules,
the consent shapes and the choices made where the sources are silent.
"""

from __future__ import annotations

from gateway.policy.classes import ResourceClasses, load_resource_classes, parse_resource_classes
from gateway.policy.consent import patient_facts_from_consents, summarise_consent
from gateway.policy.decision import Decision
from gateway.policy.engine import Policy, evaluate
from gateway.policy.facts import Action, ConsentSummary, PatientFacts, ResourceFacts
from gateway.policy.labels import labels_of
from gateway.policy.matrix import AccessMatrix, load_matrix, parse_matrix
from gateway.policy.options import PolicyOptions
from gateway.policy.reasons import REASONS, Obligation, Reason
from gateway.policy.resource_facts import patient_of, resource_facts
from gateway.policy.rules import regulates
from gateway.policy.vote import Effect, Verdict, Vote, final_effect, parallel, serial
from gateway.policy.writes import LabelChange, check_create, check_update, label_update

__all__ = [
    "REASONS",
    "AccessMatrix",
    "Action",
    "ConsentSummary",
    "Decision",
    "Effect",
    "LabelChange",
    "Obligation",
    "PatientFacts",
    "Policy",
    "PolicyOptions",
    "Reason",
    "ResourceClasses",
    "ResourceFacts",
    "Verdict",
    "Vote",
    "check_create",
    "check_update",
    "evaluate",
    "final_effect",
    "label_update",
    "labels_of",
    "load_matrix",
    "load_resource_classes",
    "parallel",
    "parse_matrix",
    "parse_resource_classes",
    "patient_facts_from_consents",
    "patient_of",
    "regulates",
    "resource_facts",
    "serial",
    "summarise_consent",
]
