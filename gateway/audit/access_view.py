"""What a patient sees of one logged access: who, in which role and structure, when,
doing what, in which mode (DOMAIN.md §5, CSP: the patient sees the traces).

Read from the logged AuditEvent itself (:mod:`gateway.audit.events`), so the view
shows exactly what the log vouches for. Entries carry identifiers and codes, not
names: the actor is its idNat_PS (or the client software for system callers), and a
caller resolves names from the directory if it wants to show them.
"""

from __future__ import annotations

from typing import Any

import orjson

from gateway.audit.codes import ACCESS_MODE, CALLER_KIND, PROFESSION, RESTFUL
from gateway.fhir.identifiers import IDNAT_STRUCT


def _codes(concepts: Any, system: str) -> list[str]:
    out: list[str] = []
    for concept in concepts if isinstance(concepts, list) else []:
        codings = concept.get("coding") if isinstance(concept, dict) else None
        for coding in codings if isinstance(codings, list) else []:
            if isinstance(coding, dict) and coding.get("system") == system:
                out.append(str(coding.get("code")))
    return out


def _requestor(agents: list[dict[str, Any]]) -> dict[str, Any]:
    return next((a for a in agents if a.get("requestor") is True), {})


def _identifier(agent: dict[str, Any]) -> dict[str, Any]:
    who = agent.get("who")
    ident = who.get("identifier") if isinstance(who, dict) else None
    return ident if isinstance(ident, dict) else {}


def access_view(seq: int, content: bytes) -> dict[str, Any]:
    """The patient-facing summary of the logged event ``content`` at ``seq``."""
    event: dict[str, Any] = orjson.loads(content)
    agents = [a for a in event.get("agent", []) if isinstance(a, dict)]
    user = _requestor(agents)
    client = next((a for a in agents if _is_type(a, "110153")), {})
    structure = next(
        (
            _identifier(a).get("value")
            for a in agents
            if _identifier(a).get("system") == IDNAT_STRUCT
        ),
        None,
    )
    purposes = user.get("purposeOfUse") or []
    mode = (_codes(purposes, ACCESS_MODE) or ["normal"])[0]
    actor: dict[str, Any] = {
        "kind": (_codes(user.get("role"), CALLER_KIND) or ["unknown"])[0],
        "identifier": _identifier(user) or None,
        "profession": next(iter(_codes(user.get("role"), PROFESSION)), None),
        "software": (client.get("who") or {}).get("display"),
    }
    view: dict[str, Any] = {
        "seq": seq,
        "date": event.get("recorded"),
        "actor": actor,
        "structure": structure,
        "action": event.get("action"),
        "interaction": next(iter(_subtype_codes(event)), None),
        "outcome": event.get("outcome"),
        "mode": mode,
    }
    justification = next((p.get("text") for p in purposes if isinstance(p, dict)), None)
    if justification:
        view["justification"] = justification
    return view


def _is_type(agent: dict[str, Any], code: str) -> bool:
    kind = agent.get("type")
    codings = kind.get("coding") if isinstance(kind, dict) else None
    return any(isinstance(c, dict) and c.get("code") == code for c in codings or [])


def _subtype_codes(event: dict[str, Any]) -> list[str]:
    return [
        str(c.get("code"))
        for c in event.get("subtype", [])
        if isinstance(c, dict) and c.get("system") == RESTFUL
    ]
