"""AuditEvents built from records: valid R4 (R4B models), BALP-shaped, canonical bytes."""

from __future__ import annotations

import base64
import json
from dataclasses import replace
from typing import Any, get_args

import orjson
import pytest
from fhir.resources.R4B.auditevent import AuditEvent
from hypothesis import given, settings
from hypothesis import strategies as st

from gateway.access.context import AccessContext, CallerKind, PurposeOfUse
from gateway.audit.access_view import access_view
from gateway.audit.codes import (
    ACCESS_MODE,
    ACT_REASON,
    BALP_ACTION,
    DCM,
    RESTFUL,
    Interaction,
    outcome_for_status,
)
from gateway.audit.entries import as_resource, authentication_failure, canonical_json, log_entries
from gateway.audit.events import AuditRecord, ResourceVersion, cleaned
from gateway.fhir.identifiers import IDNAT_PS, IDNAT_STRUCT, INS_NIR

ORIGIN = "audit.test.example/log"
T0 = 1_767_225_600_123_456  # 2026-01-01T00:00:00.123456Z

DOCTOR = AccessContext(
    kind="professional",
    client_id="lgc-42",
    subject="810000000001",
    profession="10",
    specialty="SM26",
    structure="1750000001",
    software="CabinetPlus 3.2",
    request_id="req-1",
)


def record(ctx: AccessContext = DOCTOR, **kw: Any) -> AuditRecord:
    values: dict[str, Any] = {"interaction": "read", "ctx": ctx, "recorded": T0, **kw}
    return AuditRecord(**values)


def event_of(content: bytes) -> dict[str, Any]:
    AuditEvent.model_validate(orjson.loads(content))  # raises if not valid R4(B)
    parsed: dict[str, Any] = orjson.loads(content)
    return parsed


def codes(concepts: list[dict[str, Any]], system: str) -> list[str]:
    return [c["code"] for cc in concepts for c in cc["coding"] if c.get("system") == system]


@pytest.mark.parametrize("interaction", get_args(Interaction))
def test_every_interaction_gives_a_valid_balp_event(interaction: Interaction) -> None:
    (entry,) = log_entries(record(interaction=interaction), ORIGIN)
    event = event_of(entry.content)
    assert event["type"]["code"] == "rest"
    assert event["subtype"] == [{"system": RESTFUL, "code": interaction}]
    assert event["action"] == BALP_ACTION[interaction] == entry.action
    assert event["recorded"] == "2026-01-01T00:00:00.123456Z"
    assert event["outcome"] == "0"
    assert "id" not in event  # the id is the sequence number, given when served
    assert entry.interaction == interaction and entry.event_type == "rest"


def test_the_user_agent_carries_idnat_ps_profession_structure_and_purpose() -> None:
    (entry,) = log_entries(record(), ORIGIN)
    agents = event_of(entry.content)["agent"]
    user = next(a for a in agents if a["requestor"])
    assert user["who"]["identifier"] == {"system": IDNAT_PS, "value": "810000000001"}
    assert "10" in codes(
        user["role"],
        "https://mos.esante.gouv.fr/NOS/TRE_G15-ProfessionSante/FHIR/TRE-G15-ProfessionSante",
    )
    assert codes(user["purposeOfUse"], ACT_REASON) == ["TREAT"]
    assert codes(user["purposeOfUse"], ACCESS_MODE) == ["normal"]
    client = next(a for a in agents if a["type"]["coding"][0]["code"] == "110153")
    assert client["who"] == {"identifier": {"value": "lgc-42"}, "display": "CabinetPlus 3.2"}
    structure = [
        a["who"]["identifier"]
        for a in agents
        if a["who"].get("identifier", {}).get("system") == IDNAT_STRUCT
    ]
    assert structure == [{"system": IDNAT_STRUCT, "value": "1750000001"}]
    server = next(a for a in agents if a["type"]["coding"][0]["code"] == "110152")
    assert server["who"]["identifier"]["value"] == ORIGIN
    assert (entry.agent, entry.client, entry.structure, entry.purpose) == (
        "810000000001",
        "lgc-42",
        "1750000001",
        "normal",
    )


def test_patients_resources_query_and_request_id_are_entities() -> None:
    rec = record(
        interaction="search-type",
        patients=["p1", "p2", "p1"],
        resources=[ResourceVersion("Observation", "o1", 3), ResourceVersion("Patient", "p2")],
        query=b"Observation?patient=p1,p2&code=http://loinc.org|718-7",
    )
    (entry,) = log_entries(rec, ORIGIN)
    entities = event_of(entry.content)["entity"]
    whats = [e.get("what") for e in entities]
    assert whats[:5] == [
        {"identifier": {"value": "req-1"}},
        {"reference": "Patient/p1"},
        {"reference": "Patient/p2"},
        {"reference": "Observation/o1/_history/3"},
        {"reference": "Patient/p2"},
    ]
    query = entities[-1]
    assert base64.b64decode(query["query"]) == rec.query
    assert query["role"]["code"] == "24"
    assert entry.patients == ("p1", "p2")


@pytest.mark.parametrize("mode", ["bris_de_glace", "centre_15"])
def test_emergency_modes_add_a_security_alert_with_the_justification(mode: PurposeOfUse) -> None:
    ctx = AccessContext(
        kind="professional",
        client_id="samu",
        subject="810000000002",
        purpose_of_use=mode,
        justification="Patient inconscient, pronostic vital engagé",
        request_id="req-2",
    )
    rest, alert = log_entries(record(ctx, patients=["p9"]), ORIGIN)
    rest_event, alert_event = event_of(rest.content), event_of(alert.content)
    user = next(a for a in rest_event["agent"] if a["requestor"])
    expected = {"bris_de_glace": "BTG", "centre_15": "ETREAT"}[mode]
    assert codes(user["purposeOfUse"], ACT_REASON) == [expected]
    assert codes(user["purposeOfUse"], ACCESS_MODE) == [mode]
    assert user["purposeOfUse"][0]["text"] == ctx.justification
    assert alert_event["type"] == {"system": DCM, "code": "110113"}
    assert alert_event["subtype"] == [{"system": DCM, "code": "110127"}]
    details = {
        d["type"]: d["valueString"] for e in alert_event["entity"] for d in e.get("detail", [])
    }
    assert details == {"access-mode": mode, "justification": ctx.justification}
    assert {"reference": "Patient/p9"} in [e.get("what") for e in alert_event["entity"]]
    assert (alert.event_type, alert.interaction, alert.purpose, alert.patients) == (
        "110113",
        "110127",
        mode,
        ("p9",),
    )


def test_a_normal_access_has_no_alert_and_no_justification() -> None:
    ctx = AccessContext(kind="professional", subject="810000000001", justification="ignored")
    (entry,) = log_entries(record(ctx), ORIGIN)
    assert b"ignored" not in entry.content


def test_authentication_failure_keeps_only_the_jti() -> None:
    entry = authentication_failure(
        recorded=T0, origin=ORIGIN, reason="GW-2001 expired", jti="jti-123", request_id="r"
    )
    event = event_of(entry.content)
    assert event["type"] == {"system": DCM, "code": "110114"}
    assert event["outcome"] == "4" and event["outcomeDesc"] == "GW-2001 expired"
    identifiers = [e["what"]["identifier"] for e in event["entity"]]
    assert {"system": "urn:ietf:params:oauth:jwt-claim:jti", "value": "jti-123"} in identifiers
    assert (entry.event_type, entry.agent, entry.patients) == ("110114", None, ())


def test_system_and_patient_callers() -> None:
    ehpad = AccessContext(kind="system", client_id="ehpad-7", structure="1750000002")
    (entry,) = log_entries(record(ehpad), ORIGIN)
    agents = event_of(entry.content)["agent"]
    requestors = [a for a in agents if a["requestor"]]
    assert [a["who"]["identifier"]["value"] for a in requestors] == ["ehpad-7"]
    patient = AccessContext(kind="patient", client_id="mes", subject="277076322082910")
    (entry,) = log_entries(record(patient), ORIGIN)
    user = next(a for a in event_of(entry.content)["agent"] if a["requestor"])
    assert user["who"]["identifier"] == {"system": INS_NIR, "value": "277076322082910"}


def test_entries_are_canonical_json_serialised_once() -> None:
    (entry,) = log_entries(record(patients=["é"]), ORIGIN)
    assert entry.content == canonical_json(orjson.loads(entry.content))
    assert b" " not in entry.content.replace(b"CabinetPlus 3.2", b"")
    assert "é".encode() in entry.content  # UTF-8, not \u escapes
    keys = list(json.loads(entry.content))
    assert keys == sorted(keys)
    assert as_resource(entry.content, 41)["id"] == "41"


def test_outcome_for_status() -> None:
    assert [outcome_for_status(s) for s in (200, 201, 304, 400, 403, 404, 500, 503)] == [
        0,
        0,
        0,
        4,
        4,
        4,
        8,
        8,
    ]


def test_access_view_reads_back_who_what_when_and_how() -> None:
    ctx = AccessContext(
        kind="professional",
        client_id="c",
        subject="810000000003",
        profession="60",
        structure="1750000003",
        purpose_of_use="bris_de_glace",
        justification="urgence",
    )
    rest, _ = log_entries(record(ctx, interaction="vread"), ORIGIN)
    view = access_view(7, rest.content)
    assert view == {
        "seq": 7,
        "date": "2026-01-01T00:00:00.123456Z",
        "actor": {
            "kind": "professional",
            "identifier": {"system": IDNAT_PS, "value": "810000000003"},
            "profession": "60",
            "software": None,
        },
        "structure": "1750000003",
        "action": "R",
        "interaction": "vread",
        "outcome": "0",
        "mode": "bris_de_glace",
        "justification": "urgence",
    }


_text = st.text(st.characters(blacklist_categories=("Cs", "Cc")), min_size=1, max_size=30)
_contexts = st.builds(
    AccessContext,
    kind=st.sampled_from(get_args(CallerKind)),
    client_id=st.none() | _text,
    subject=st.none() | _text,
    profession=st.none() | _text,
    specialty=st.none() | _text,
    role=st.none() | _text,
    structure=st.none() | _text,
    purpose_of_use=st.sampled_from(get_args(PurposeOfUse)),
    justification=st.none() | _text,
    software=st.none() | _text,
    request_id=st.none() | _text,
)


@settings(max_examples=150, deadline=None)
@given(
    ctx=_contexts,
    interaction=st.sampled_from(get_args(Interaction)),
    outcome=st.sampled_from([0, 4, 8, 12]),
    patients=st.lists(st.from_regex(r"[A-Za-z0-9\-.]{1,64}", fullmatch=True), max_size=5),
    query=st.none() | st.binary(max_size=50),
    reason=st.none() | _text,
)
def test_any_record_gives_valid_events(
    ctx: AccessContext,
    interaction: Interaction,
    outcome: int,
    patients: list[str],
    query: bytes | None,
    reason: str | None,
) -> None:
    rec = AuditRecord(
        interaction=interaction,
        ctx=ctx,
        recorded=T0,
        outcome=outcome,  # type: ignore[arg-type]
        patients=patients,
        query=query,
        reason=reason,
    )
    entries = log_entries(rec, ORIGIN)
    assert len(entries) == (2 if ctx.purpose_of_use != "normal" else 1)
    for entry in entries:
        event = event_of(entry.content)
        assert entry.content == canonical_json(event)
        view = access_view(0, entry.content)
        assert view["mode"] == ctx.purpose_of_use


def _fhir_string(value: str) -> str | None:
    """The cleaning rule, spelled out: lone surrogates replaced, every whitespace a
    plain space, trimmed, blank made None."""
    value = value.encode("utf-8", "replace").decode("utf-8")
    return "".join(" " if c.isspace() else c for c in value).strip() or None


# Any code point, ASCII controls and lone surrogates included (the fast ASCII path of
# the cleaning must agree with the general one everywhere).
_any_text = st.text(st.characters(codec=None), max_size=20) | st.text(
    st.characters(max_codepoint=0x7F), max_size=20
)


@settings(max_examples=300, deadline=None)
@given(subject=_any_text, reason=_any_text, software=_any_text)
def test_cleaning_follows_the_rule_for_any_text(subject: str, reason: str, software: str) -> None:
    rec = AuditRecord(
        "read", replace(DOCTOR, subject=subject, software=software), T0, reason=reason
    )
    out = cleaned(rec)
    assert out.ctx.subject == _fhir_string(subject)
    assert out.ctx.software == _fhir_string(software)
    assert out.reason == _fhir_string(reason)
    assert cleaned(out) is out  # idempotent, and a clean record is returned as it is
