"""AuditEvents built from a small record, shaped after IHE BALP on the R4 AuditEvent.

See https://profiles.ihe.net/ITI/BALP/ and https://hl7.org/fhir/R4/auditevent.html.

- ``type`` is ``rest`` and ``subtype`` the restful-interaction code; ``action``
  C/R/U/D/E; ``outcome`` 0/4/8/12 with a short ``outcomeDesc``;
- agents: the user (``requestor``; idNat_PS, INS or other subject in
  ``who.identifier``, caller kind, profession, specialty and role in ``role``, the
  access mode in ``purposeOfUse``), the client software (DICOM 110153 "Source Role
  ID"), the structure (idNat_Struct) and this server (DICOM 110152 "Destination Role
  ID"). A caller without a user (an EHPAD's system token) makes the client the
  requestor;
- entities: the request id (BALP ``XrequestId``), one per distinct patient
  (``Patient/id``, role Patient), one per resource version (``Type/id/_history/n``,
  role Domain Resource), and the raw query (``entity.query``, base64, role Query)
  with the operation name, if any, in ``entity.detail``.

Break-the-glass and centre-15 accesses add a security alert (DICOM 110113, subtype
110127 "Emergency Override Started") carrying the mode and the justification. A
rejected token gives a failed user authentication (DICOM 110114, subtype 110122
"Login") that keeps only the token's ``jti``.

Events carry references and codes, never clinical values, names or tokens. The one
free text is the emergency justification, which DOMAIN.md §5 requires in every event
(``purposeOfUse.text``). Events have no ``id``: a logged event's id is its sequence
number, added when it is served, so the logged bytes do not depend on their position.
These functions return dicts; :mod:`gateway.audit.entries` serialises them once.
"""

from __future__ import annotations

import base64
from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Any

from gateway.access.context import AccessContext
from gateway.audit.codes import (
    ACCESS_MODE,
    ACT_REASON,
    BALP_ACTION,
    BALP_ENTITY,
    CALLER_KIND,
    DCM,
    EMERGENCY_OVERRIDE_STARTED,
    ENTITY_TYPE,
    EVENT_TYPE,
    JTI,
    LOGIN,
    OBJECT_ROLE,
    PARTICIPATION,
    PROFESSION,
    PURPOSE_CODES,
    RESTFUL,
    SECURITY_ALERT,
    SOURCE_TYPE,
    USER_AUTHENTICATION,
    Action,
    Interaction,
    Outcome,
    coding,
)
from gateway.fhir.identifiers import IDNAT_PS, IDNAT_STRUCT, INS_NIR
from gateway.fhir.instant import format_instant

Json = dict[str, Any]


@dataclass(frozen=True, slots=True)
class ResourceVersion:
    """A resource version an interaction touched: ``Type/id/_history/version``."""

    resource_type: str
    id: str
    version: int | None = None

    def reference(self) -> str:
        base = f"{self.resource_type}/{self.id}"
        return base if self.version is None else f"{base}/_history/{self.version}"


@dataclass(frozen=True, slots=True)
class AuditRecord:
    """What happened, in the terms the log records; one per interaction.

    ``recorded`` is in microseconds since the Unix epoch. ``patients`` are Patient ids
    (for searches: every distinct patient of the results *after* access filtering).
    ``query`` is the raw request (path relative to the FHIR base, ``?``, and the raw
    query string), logged as base64. ``reason`` is a short ``outcomeDesc`` such as a
    ``GW-nnnn`` code: never clinical content. ``action`` defaults to BALP's.
    """

    interaction: Interaction
    ctx: AccessContext
    recorded: int
    outcome: Outcome = 0
    reason: str | None = None
    action: Action | None = None
    patients: Sequence[str] = ()
    resources: Sequence[ResourceVersion] = ()
    query: bytes | None = None
    operation: str | None = None  # e.g. "$everything", "audit-export"

    @property
    def balp_action(self) -> Action:
        return self.action or BALP_ACTION[self.interaction]


def _text(value: str | None) -> str | None:
    """A FHIR string from a token claim or a message: every kind of whitespace made a
    plain space, lone surrogates replaced, blank made None (FHIR forbids empty strings)."""
    if value is None:
        return None
    if value.isascii() and value.isprintable():
        # The usual claim: no surrogates, and space is its only whitespace (printable
        # ASCII has no control characters), so only the strip applies. Every append
        # cleans about seven strings; the general path is a Python loop per character.
        return value.strip() or None
    value = value.encode("utf-8", "replace").decode("utf-8")
    return "".join(" " if c.isspace() else c for c in value).strip() or None


def cleaned(record: AuditRecord) -> AuditRecord:
    """``record`` with its free strings made valid FHIR strings (idempotent).

    Returns ``record`` itself when it is clean already (the usual case, and always the
    case for a cleaned record): :func:`dataclasses.replace` costs more than the checks.
    """
    c = record.ctx
    strings = (c.client_id, c.subject, c.structure, c.justification, c.software, c.request_id)
    clean = tuple(_text(v) for v in strings)
    reason = _text(record.reason)
    if clean == strings and reason == record.reason:
        return record
    client_id, subject, structure, justification, software, request_id = clean
    ctx = replace(
        c,
        client_id=client_id,
        subject=subject,
        structure=structure,
        justification=justification,
        software=software,
        request_id=request_id,
    )
    return replace(record, ctx=ctx, reason=reason)


def _subject_system(ctx: AccessContext) -> str | None:
    if ctx.kind == "patient":
        return INS_NIR
    if ctx.kind in ("professional", "auditor", "admin"):
        return IDNAT_PS
    return None


def purpose_of_use(ctx: AccessContext) -> Json:
    """v3-ActReason code and the DMP mode verbatim; the justification in ``text``."""
    concept: Json = {
        "coding": [
            coding(ACT_REASON, PURPOSE_CODES[ctx.purpose_of_use]),
            coding(ACCESS_MODE, ctx.purpose_of_use),
        ]
    }
    if ctx.justification and ctx.purpose_of_use != "normal":
        concept["text"] = ctx.justification
    return concept


def _code(value: str | None) -> str | None:
    """A FHIR code from a token claim: inner whitespace collapsed, None if blank."""
    return " ".join(value.split()) or None if value else None


def _user(ctx: AccessContext, subject: str) -> Json:
    roles = [{"coding": [coding(CALLER_KIND, ctx.kind)]}]
    profession, specialty, role = _code(ctx.profession), _code(ctx.specialty), _code(ctx.role)
    if profession:
        roles.append({"coding": [coding(PROFESSION, profession)]})
    if specialty:
        roles.append({"coding": [{"code": specialty}]})
    if role:
        roles.append({"coding": [{"code": role}]})
    system = _subject_system(ctx)
    identifier = {"system": system, "value": subject} if system else {"value": subject}
    return {
        "type": {"coding": [coding(PARTICIPATION, "IRCP")]},
        "who": {"identifier": identifier},
        "requestor": True,
        "role": roles,
        "purposeOfUse": [purpose_of_use(ctx)],
    }


def _client(ctx: AccessContext) -> Json:
    who: Json = {"identifier": {"value": ctx.client_id or "unknown"}}
    if ctx.software:
        who["display"] = ctx.software
    client: Json = {
        "type": {"coding": [coding(DCM, "110153")]},
        "who": who,
        "requestor": ctx.subject is None,
    }
    if ctx.subject is None:  # no user: the software itself is the requestor
        client["role"] = [{"coding": [coding(CALLER_KIND, ctx.kind)]}]
        client["purposeOfUse"] = [purpose_of_use(ctx)]
    return client


def _server(origin: str) -> Json:
    return {
        "type": {"coding": [coding(DCM, "110152")]},
        "who": {"identifier": {"value": origin}},
        "requestor": False,
    }


def agents(ctx: AccessContext, origin: str) -> list[Json]:
    """The user (when there is one), client software, structure and server agents."""
    out = [_user(ctx, ctx.subject)] if ctx.subject is not None else []
    out.append(_client(ctx))
    if ctx.structure:
        out.append(
            {
                "type": {"coding": [coding(PARTICIPATION, "PRF")]},
                "who": {"identifier": {"system": IDNAT_STRUCT, "value": ctx.structure}},
                "requestor": False,
            }
        )
    out.append(_server(origin))
    return out


def source(origin: str) -> Json:
    return {
        "observer": {"identifier": {"value": origin}, "display": "dmp-gateway"},
        "type": [coding(SOURCE_TYPE, "4")],
    }


def request_entity(request_id: str) -> Json:
    return {
        "what": {"identifier": {"value": request_id}},
        "type": coding(BALP_ENTITY, "XrequestId"),
    }


def patient_entities(patients: Sequence[str]) -> list[Json]:
    """One entity per distinct patient, in first-seen order."""
    return [
        {
            "what": {"reference": f"Patient/{pid}"},
            "type": coding(ENTITY_TYPE, "1"),
            "role": coding(OBJECT_ROLE, "1"),
        }
        for pid in dict.fromkeys(patients)
    ]


def _entities(record: AuditRecord) -> list[Json]:
    out = [request_entity(record.ctx.request_id)] if record.ctx.request_id else []
    out += patient_entities(record.patients)
    out += [
        {
            "what": {"reference": res.reference()},
            "type": coding(ENTITY_TYPE, "2"),
            "role": coding(OBJECT_ROLE, "4"),
        }
        for res in dict.fromkeys(record.resources)
    ]
    if record.query is not None or record.operation:
        query: Json = {"type": coding(ENTITY_TYPE, "2"), "role": coding(OBJECT_ROLE, "24")}
        if record.query is not None:
            query["query"] = base64.b64encode(record.query).decode("ascii")
        if record.operation:
            query["detail"] = [{"type": "operation", "valueString": record.operation}]
        out.append(query)
    return out


def rest_event(record: AuditRecord, origin: str) -> Json:
    """The AuditEvent of one RESTful interaction."""
    record = cleaned(record)
    event: Json = {
        "resourceType": "AuditEvent",
        "type": coding(EVENT_TYPE, "rest"),
        "subtype": [coding(RESTFUL, record.interaction)],
        "action": record.balp_action,
        "recorded": format_instant(record.recorded),
        "outcome": str(record.outcome),
        "agent": agents(record.ctx, origin),
        "source": source(origin),
    }
    if record.reason:
        event["outcomeDesc"] = record.reason
    entities = _entities(record)
    if entities:
        event["entity"] = entities
    return event


def security_alert(record: AuditRecord, origin: str) -> Json:
    """DICOM 110113 Security Alert for an emergency access: mode and justification."""
    ctx = cleaned(record).ctx
    entities = [request_entity(ctx.request_id)] if ctx.request_id else []
    entities += patient_entities(record.patients)
    entities.append(
        {
            "type": coding(ENTITY_TYPE, "4"),
            "role": coding(OBJECT_ROLE, "13"),
            "detail": [
                {"type": "access-mode", "valueString": ctx.purpose_of_use},
                {"type": "justification", "valueString": ctx.justification or "(none given)"},
            ],
        }
    )
    return {
        "resourceType": "AuditEvent",
        "type": coding(DCM, SECURITY_ALERT),
        "subtype": [coding(DCM, EMERGENCY_OVERRIDE_STARTED)],
        "action": "E",
        "recorded": format_instant(record.recorded),
        "outcome": str(record.outcome),
        "agent": agents(ctx, origin),
        "source": source(origin),
        "entity": entities,
    }


def authentication_failure_event(
    *,
    recorded: int,
    origin: str,
    reason: str,
    jti: str | None,
    request_id: str | None,
    outcome: Outcome,
) -> Json:
    """DICOM 110114 User Authentication (subtype 110122 Login) that failed.

    Keeps the token's ``jti`` and nothing else of it: never the token, its signature or
    its claims, which cannot be trusted anyway.
    """
    request_id, jti, reason = _text(request_id), _text(jti), _text(reason) or "unknown"
    entities = [request_entity(request_id)] if request_id else []
    if jti:
        entities.append(
            {
                "what": {"identifier": {"system": JTI, "value": jti}},
                "type": coding(ENTITY_TYPE, "2"),
                "role": coding(OBJECT_ROLE, "13"),
            }
        )
    event: Json = {
        "resourceType": "AuditEvent",
        "type": coding(DCM, USER_AUTHENTICATION),
        "subtype": [coding(DCM, LOGIN)],
        "action": "E",
        "recorded": format_instant(recorded),
        "outcome": str(outcome),
        "outcomeDesc": reason,
        "agent": [
            {
                "type": {"coding": [coding(DCM, "110153")]},
                "who": {"display": "unauthenticated caller"},
                "requestor": True,
            },
            _server(origin),
        ],
        "source": source(origin),
    }
    if entities:
        event["entity"] = entities
    return event
