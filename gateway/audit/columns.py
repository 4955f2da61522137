"""The search columns of a log entry, read back from its bytes.

The Merkle tree covers an entry's bytes, not the columns the log is searched by
(``agent``, ``outcome``, ``purpose``…, and the patients of ``/me/access-log``). Those
are written from the same facts as the bytes (:mod:`gateway.audit.entries`); this
module derives them from the bytes alone, so that ``dmp-gateway audit verify`` can
check that no column was edited to hide an entry from an auditor's search or from a
patient's access log while the tree still verifies.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any, NamedTuple

import orjson

from gateway.audit.codes import ACCESS_MODE, DCM, ENTITY_TYPE, PARTICIPATION


class Columns(NamedTuple):
    recorded: int
    event_type: str
    interaction: str
    action: str
    outcome: int
    purpose: str
    agent: str | None
    client: str | None
    structure: str | None
    patients: tuple[str, ...]


def _code(concept: Any, system: str | None = None) -> str | None:
    codings = concept.get("coding") if isinstance(concept, dict) and "coding" in concept else None
    for c in codings if codings is not None else [concept]:
        if isinstance(c, dict) and (system is None or c.get("system") == system):
            return str(c.get("code")) if c.get("code") is not None else None
    return None


_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def _micros(instant: str) -> int:
    """Microseconds since the epoch of an instant as :func:`format_instant` writes it."""
    return (datetime.fromisoformat(instant.replace("Z", "+00:00")) - _EPOCH) // timedelta(
        microseconds=1
    )


def columns_of(content: bytes) -> Columns:
    """The columns an entry's bytes stand for; ValueError if they are not an entry."""
    try:
        event: dict[str, Any] = orjson.loads(content)
        agents: list[dict[str, Any]] = event.get("agent") or []
        user = client = structure = None
        purpose = "normal"
        for agent in agents:
            kind = _code(agent.get("type"))
            who = agent.get("who") or {}
            value = (who.get("identifier") or {}).get("value")
            if kind == "IRCP" and _code(agent.get("type"), PARTICIPATION):
                user = value
            elif kind == "110153" and _code(agent.get("type"), DCM):
                client = value
            elif kind == "PRF":
                structure = value
            if agent.get("requestor"):
                for reason in agent.get("purposeOfUse") or []:
                    purpose = _code(reason, ACCESS_MODE) or purpose
        patients = tuple(
            dict.fromkeys(
                ref.removeprefix("Patient/")
                for e in event.get("entity") or []
                if _code(e.get("type"), ENTITY_TYPE) == "1"
                and isinstance(ref := (e.get("what") or {}).get("reference"), str)
                and ref.startswith("Patient/")
            )
        )
        return Columns(
            recorded=_micros(event["recorded"]),
            event_type=str(_code(event["type"])),
            interaction=str(_code(event["subtype"][0])),
            action=str(event["action"]),
            outcome=int(event["outcome"]),
            purpose=purpose,
            agent=user,
            client=client,
            structure=structure,
            patients=patients,
        )
    except (KeyError, IndexError, TypeError, ValueError, AttributeError) as exc:
        raise ValueError(f"not a log entry: {type(exc).__name__}") from None


def same_client(derived: str | None, stored: str | None) -> bool:
    """A caller without a client id is written ``unknown`` in the event, NULL in the column."""
    return derived == stored or (derived == "unknown" and stored is None)
