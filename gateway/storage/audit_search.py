"""Auditor search over the audit log: FHIR AuditEvent search parameters → SQL.

For ``GET /fhir/AuditEvent?…`` (auditors only). :func:`audit_conditions` turns the
parameters into conditions on ``audit_entry`` (every parameter must hold; commas
inside one value mean *or*, https://hl7.org/fhir/R4/search.html#combining), and
:func:`audit_select` pages through the matches, newest first. A logged entry's FHIR
id is its sequence number (:func:`gateway.audit.entries.as_resource`).

Parameters (R4 AuditEvent, https://hl7.org/fhir/R4/auditevent.html#search, plus
``structure``):

========== ==================================================================
patient    ``Patient/id`` or ``id``: entries naming that patient
agent      idNat_PS (or INS, client id); also ``agent:identifier=[system|]value``
date       ``recorded``, with the prefixes eq ne gt lt ge le sa eb
action     C R U D E
outcome    0 4 8 12
purpose    v3-ActReason TREAT ETREAT BTG, or the mode normal bris_de_glace centre_15
structure  idNat_Struct
type       rest, 110113 (security alert), 110114 (user authentication)
subtype    restful-interaction code (read, search-type, …), 110127, 110122
_id        sequence numbers
========== ==================================================================
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import ColumnElement, and_, exists, func, or_, select
from sqlalchemy.sql import Select

from gateway.audit.codes import PURPOSE_CODES
from gateway.errors import BadRequest, UnsupportedParameter, shown
from gateway.fhir.instant import parse_range
from gateway.storage import schema as s

_e, _p = s.audit_entry, s.audit_patient
_MODES = {code: mode for mode, code in PURPOSE_CODES.items()} | {m: m for m in PURPOSE_CODES}
_PREFIXES = ("eq", "ne", "gt", "lt", "ge", "le", "sa", "eb")
PARAMETER_TYPES = {
    "patient": ("reference", "Patient/id or id: entries that name the patient"),
    "agent": ("token", "the user's idNat_PS (or the client id of a system caller)"),
    "date": ("date", "when the entry was recorded"),
    "action": ("token", "C, R, U, D or E"),
    "outcome": ("token", "0, 4, 8 or 12"),
    "purpose": ("token", "TREAT, ETREAT, BTG or an access mode (purpose of use)"),
    "structure": ("token", "the caller's structure (idNat_Struct)"),
    "type": ("token", "the event type (rest, security alert, ...)"),
    "subtype": ("token", "the RESTful interaction"),
    "_id": ("token", "sequence numbers in the log"),
}
"""The AuditEvent search parameters served (the log's own columns), with their FHIR
search type and what they match: the CapabilityStatement lists exactly these."""

PARAMETERS = tuple(PARAMETER_TYPES)


def _token(value: str) -> str:
    return value.rpartition("|")[2]


def _bad(name: str, value: str, expected: str) -> BadRequest:
    return BadRequest(
        f"Invalid value '{shown(value)}' for search parameter '{shown(name)}': expected {expected}",
        expression=name,
        code="GW-1302",
    )


def _date(value: str) -> ColumnElement[bool]:
    prefix = value[:2] if value[:2] in _PREFIXES else "eq"
    try:
        low, high = parse_range(value[2:] if value[:2] in _PREFIXES else value, what="date")
    except BadRequest:
        raise _bad("date", value, "a FHIR dateTime after an optional prefix (ge, lt, …)") from None
    t = _e.c.recorded
    return {
        "eq": and_(t >= low, t < high),
        "ne": or_(t < low, t >= high),
        "gt": t >= high,
        "sa": t >= high,
        "ge": t >= low,
        "lt": t < low,
        "eb": t < low,
        "le": t < high,
    }[prefix]


def _one(name: str, modifier: str, value: str) -> ColumnElement[bool]:
    values = value.split(",")
    if name == "patient":
        ids = []
        for v in values:
            kind, _, pid = v.rpartition("/")
            if kind not in ("", "Patient") or not pid:
                raise _bad(name, v, "Patient/id or an id")
            ids.append(pid)
        return exists().where(_p.c.seq == _e.c.seq, _p.c.patient_id.in_(ids))
    if name == "agent":
        if modifier not in ("", "identifier"):
            raise UnsupportedParameter(f"Unsupported modifier ':{modifier}'", expression=name)
        return _e.c.agent.in_([_token(v) for v in values])
    if name == "date":
        return or_(*(_date(v) for v in values))
    if name == "action":
        if not all(v in ("C", "R", "U", "D", "E") for v in values):
            raise _bad(name, value, "C, R, U, D or E")
        return _e.c.action.in_(values)
    if name == "outcome":
        if not all(v in ("0", "4", "8", "12") for v in values):
            raise _bad(name, value, "0, 4, 8 or 12")
        return _e.c.outcome.in_([int(v) for v in values])
    if name == "purpose":
        modes = [_MODES.get(_token(v)) for v in values]
        if None in modes:
            raise _bad(name, value, "TREAT, ETREAT, BTG or an access mode")
        return _e.c.purpose.in_(modes)
    if name == "structure":
        return _e.c.structure.in_([_token(v) for v in values])
    if name == "type":
        return _e.c.event_type.in_([_token(v) for v in values])
    if name == "subtype":
        return _e.c.interaction.in_([_token(v) for v in values])
    if not all(v.isascii() and v.isdigit() and len(v) < 19 for v in values):
        raise _bad(name, value, "sequence numbers")
    return _e.c.seq.in_([int(v) for v in values])


def audit_conditions(params: Sequence[tuple[str, str]]) -> list[ColumnElement[bool]]:
    """SQL conditions on ``audit_entry`` for AuditEvent search parameters.

    Raises :class:`UnsupportedParameter` for an unknown parameter or modifier and
    :class:`BadRequest` for a malformed value, each naming the parameter.
    """
    conds: list[ColumnElement[bool]] = []
    for raw_name, value in params:
        name, _, modifier = raw_name.partition(":")
        if name not in PARAMETERS:
            raise UnsupportedParameter(
                f"Unknown or unsupported search parameter '{raw_name}' for AuditEvent",
                expression=raw_name,
            )
        if modifier == "missing" or (modifier and name != "agent"):
            raise UnsupportedParameter(f"Unsupported modifier in '{raw_name}'", expression=raw_name)
        if value == "":
            continue  # an empty value is ignored (https://hl7.org/fhir/R4/search.html#errors)
        conds.append(_one(name, modifier, value))
    return conds


def audit_select(
    conditions: Sequence[ColumnElement[bool]], *, before_seq: int | None = None, limit: int = 50
) -> Select[Any]:
    """``(seq, content)`` of matching entries, newest first; continue with ``before_seq``."""
    conds = list(conditions)
    if before_seq is not None:
        conds.append(_e.c.seq < before_seq)
    stmt = select(_e.c.seq, _e.c.content)
    if conds:
        stmt = stmt.where(and_(*conds))
    return stmt.order_by(_e.c.seq.desc()).limit(limit)


def audit_count(
    conditions: Sequence[ColumnElement[bool]], *, cap: int | None = None
) -> Select[Any]:
    """How many entries match (``Bundle.total``); with ``cap``, counting stops at
    ``cap + 1`` rows (more than ``cap``: too many to estimate cheaply)."""
    if cap is None:
        stmt = select(func.count()).select_from(_e)
        return stmt.where(and_(*conditions)) if conditions else stmt
    rows = select(_e.c.seq)
    if conditions:
        rows = rows.where(and_(*conditions))
    return select(func.count()).select_from(rows.limit(cap + 1).subquery())


__all__ = ["PARAMETERS", "audit_conditions", "audit_count", "audit_select"]
