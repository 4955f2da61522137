"""The Provenance of one ingested message or CSV chunk (https://hl7.org/fhir/R4/provenance.html).

Shape (pure; the pipeline fills in the references once the transaction has run):

- ``target``: every resource the payload created, updated or matched (a fact already
  stored is still attested by this message);
- ``recorded``: when the gateway received the payload; ``occurredDateTime``: the
  message's own time (MSH-7), when given;
- ``activity``: ``v3-DataOperation`` CREATE, or UPDATE when the payload merged or
  updated patients;
- ``agent``: the sending professional as ``author`` (PractitionerRole, on behalf of the
  source Organization) when the payload names one, and the sending system as
  ``informant`` (its idNat_Struct; display: client id and, for HL7, MSH-3/MSH-4);
- ``entity`` (role ``source``): the message id (MSH-10, in the source's ``message``
  identifier system) and the SHA-256 of the raw payload as a Named Information URI
  (RFC 6920, ``ni:///sha-256;…``);
- ``extension`` :data:`ASSUMPTION`: one ``valueString`` per normalisation assumption
  (Europe/Paris offset assumed, unit converted, encoding sniffed…), as the issue asks.

As in the v2-to-FHIR IG (segment MSH → Provenance), the Provenance describes the
transformation of one message; it is written by the gateway itself, never by a client
(:mod:`gateway.intake.gateway_writer`).
"""

from __future__ import annotations

import base64
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from gateway.fhir.identifiers import IDNAT_STRUCT
from gateway.fhir.instant import format_instant

ASSUMPTION = "https://dmp-gateway.fr/fhir/StructureDefinition/ingestion-assumption"
PARTICIPANT = "http://terminology.hl7.org/CodeSystem/provenance-participant-type"
DATA_OPERATION = "http://terminology.hl7.org/CodeSystem/v3-DataOperation"
MAX_ASSUMPTIONS = 200


def named_information(sha256_hex: str) -> str:
    """``ni:///sha-256;<base64url>`` (RFC 6920 §3) for a SHA-256 digest in hex."""
    digest = base64.urlsafe_b64encode(bytes.fromhex(sha256_hex)).rstrip(b"=").decode()
    return f"ni:///sha-256;{digest}"


@dataclass(frozen=True, slots=True)
class ProvenanceFacts:
    """What the Provenance says; references are literal (``Type/id``)."""

    targets: Sequence[str]
    recorded: int  # microseconds
    structure: str  # the sender's idNat_Struct
    source_display: str
    payload_sha256: str
    message_system: str
    message_id: str | None = None
    occurred: str | None = None
    authors: Sequence[str] = ()
    organization: str | None = None  # the sender's Organization, when stored
    assumptions: Sequence[str] = ()
    update: bool = False
    description: str = ""


def _agent(code: str, who: dict[str, Any], on_behalf: str | None = None) -> dict[str, Any]:
    agent: dict[str, Any] = {"type": {"coding": [{"system": PARTICIPANT, "code": code}]}}
    agent["who"] = who
    if on_behalf:
        agent["onBehalfOf"] = {"reference": on_behalf}
    return agent


def _unique(values: Iterable[str]) -> list[str]:
    return list(dict.fromkeys(values))


def build_provenance(facts: ProvenanceFacts) -> dict[str, Any]:
    """The Provenance resource (no id: the gateway writer creates it)."""
    assumptions = _unique(facts.assumptions)
    if len(assumptions) > MAX_ASSUMPTIONS:
        hidden = len(assumptions) - MAX_ASSUMPTIONS
        assumptions = [*assumptions[:MAX_ASSUMPTIONS], f"… and {hidden} more assumptions"]
    agents = [
        _agent("author", {"reference": author}, facts.organization)
        for author in _unique(facts.authors)
    ]
    agents.append(
        _agent(
            "informant",
            {
                "type": "Organization",
                "identifier": {"system": IDNAT_STRUCT, "value": facts.structure},
                "display": facts.source_display,
            },
        )
    )
    entities: list[dict[str, Any]] = []
    if facts.message_id:
        what: dict[str, Any] = {
            "identifier": {"system": facts.message_system, "value": facts.message_id}
        }
        if facts.description:
            what["display"] = facts.description
        entities.append({"role": "source", "what": what})
    entities.append(
        {
            "role": "source",
            "what": {
                "identifier": {
                    "system": "urn:ietf:rfc:3986",
                    "value": named_information(facts.payload_sha256),
                },
                "display": f"SHA-256 {facts.payload_sha256}",
            },
        }
    )
    resource: dict[str, Any] = {"resourceType": "Provenance"}
    if assumptions:
        resource["extension"] = [{"url": ASSUMPTION, "valueString": a} for a in assumptions]
    resource["target"] = [{"reference": t} for t in _unique(facts.targets)]
    if facts.occurred:
        resource["occurredDateTime"] = facts.occurred
    resource["recorded"] = format_instant(facts.recorded)
    resource["activity"] = {
        "coding": [{"system": DATA_OPERATION, "code": "UPDATE" if facts.update else "CREATE"}]
    }
    resource["agent"] = agents
    resource["entity"] = entities
    return resource
