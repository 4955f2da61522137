"""The vocabulary of logged AuditEvents: code systems, interaction and action codes.

Code systems are the ones IHE BALP uses (https://profiles.ihe.net/ITI/BALP/) on the
R4 AuditEvent (https://hl7.org/fhir/R4/auditevent.html), plus two of the gateway's
own for facts no published code system covers.
"""

from __future__ import annotations

from typing import Literal

Interaction = Literal[
    "read",
    "vread",
    "update",
    "patch",
    "delete",
    "history",
    "history-instance",
    "history-type",
    "history-system",
    "create",
    "search",
    "search-type",
    "search-system",
    "capabilities",
    "transaction",
    "batch",
    "operation",
]
"""http://hl7.org/fhir/R4/codesystem-restful-interaction.html"""

Action = Literal["C", "R", "U", "D", "E"]
Outcome = Literal[0, 4, 8, 12]

DCM = "http://dicom.nema.org/resources/ontology/DCM"
EVENT_TYPE = "http://terminology.hl7.org/CodeSystem/audit-event-type"
RESTFUL = "http://hl7.org/fhir/restful-interaction"
ACT_REASON = "http://terminology.hl7.org/CodeSystem/v3-ActReason"
PARTICIPATION = "http://terminology.hl7.org/CodeSystem/v3-ParticipationType"
ENTITY_TYPE = "http://terminology.hl7.org/CodeSystem/audit-entity-type"
OBJECT_ROLE = "http://terminology.hl7.org/CodeSystem/object-role"
SOURCE_TYPE = "http://terminology.hl7.org/CodeSystem/security-source-type"
BALP_ENTITY = "https://profiles.ihe.net/ITI/BALP/CodeSystem/BasicAuditEntityType"
PROFESSION = "https://mos.esante.gouv.fr/NOS/TRE_G15-ProfessionSante/FHIR/TRE-G15-ProfessionSante"
# The DMP's access modes (TRE_R248) kept verbatim; no published FHIR URL was at hand.
ACCESS_MODE = "https://dmp-gateway.fr/fhir/CodeSystem/access-mode"
CALLER_KIND = "https://dmp-gateway.fr/fhir/CodeSystem/caller-kind"
JTI = "urn:ietf:params:oauth:jwt-claim:jti"

REST, SECURITY_ALERT, USER_AUTHENTICATION = "rest", "110113", "110114"
EMERGENCY_OVERRIDE_STARTED, LOGIN = "110127", "110122"

PURPOSE_CODES: dict[str, str] = {"normal": "TREAT", "centre_15": "ETREAT", "bris_de_glace": "BTG"}
"""Access mode → v3-ActReason purpose of use; the mode itself is kept as a second coding."""

ALERT_MODES = frozenset({"bris_de_glace", "centre_15"})
"""Modes that add a security alert to the log (DOMAIN.md §3 rule 3)."""

BALP_ACTION: dict[str, Action] = {
    "read": "R",
    "vread": "R",
    "history": "R",
    "history-instance": "R",
    "history-type": "R",
    "history-system": "R",
    "capabilities": "R",
    "create": "C",
    "update": "U",
    "patch": "U",
    "delete": "D",
    "search": "E",
    "search-type": "E",
    "search-system": "E",
    "transaction": "E",
    "batch": "E",
    "operation": "E",
}
"""The action BALP gives each interaction (queries and operations are Execute)."""


def coding(system: str, code: str) -> dict[str, str]:
    """A Coding without display: displays would add a third to every entry."""
    return {"system": system, "code": code}


def outcome_for_status(status: int) -> Outcome:
    """BALP outcome for an HTTP status: 0 success, 4 refused request, 8 server failure."""
    if status < 400:
        return 0
    return 4 if status < 500 else 8
