"""Every interaction leaves exactly the audit entries it should (issue 7), over HTTP."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from sqlalchemy import create_engine, select

from gateway.auth import demo
from gateway.config import AuditSettings
from gateway.storage import schema as s
from tests.audit_support import sequencer_held
from tests.demo_server import DemoGateway, demo_gateway

ALICE, BRUNO, CHLOE, _ = demo.PATIENT_INS


@pytest.fixture
def gw(tmp_path: Path, sqlite_template: Path) -> Iterator[DemoGateway]:
    with demo_gateway(tmp_path, sqlite_template) as gateway:
        yield gateway


def _entries(gw: DemoGateway, after: int) -> list[tuple[str, str, int, str, list[str]]]:
    engine = create_engine(gw.settings.sqlalchemy_url)
    with engine.connect() as conn:
        rows = conn.execute(
            select(
                s.audit_entry.c.seq,
                s.audit_entry.c.event_type,
                s.audit_entry.c.interaction,
                s.audit_entry.c.outcome,
                s.audit_entry.c.purpose,
            )
            .where(s.audit_entry.c.seq > after)
            .order_by(s.audit_entry.c.seq)
        ).all()
        patients: dict[int, list[str]] = {}
        for pid, seq in conn.execute(select(s.audit_patient.c.patient_id, s.audit_patient.c.seq)):
            patients.setdefault(seq, []).append(pid)
    engine.dispose()
    return [
        (r.event_type, r.interaction, r.outcome, r.purpose, sorted(patients.get(r.seq, [])))
        for r in rows
    ]


def _size(gw: DemoGateway) -> int:
    engine = create_engine(gw.settings.sqlalchemy_url)
    with engine.connect() as conn:
        value = conn.execute(
            select(s.audit_entry.c.seq).order_by(s.audit_entry.c.seq.desc()).limit(1)
        ).scalar()
    engine.dispose()
    return int(value or 0)


def test_each_interaction_is_recorded_once_with_its_outcome_and_patients(gw: DemoGateway) -> None:
    start = _size(gw)
    hr = {
        "resourceType": "Observation",
        "status": "final",
        "code": {"coding": [{"system": "http://loinc.org", "code": "8867-4"}]},
        "subject": {"reference": "Patient/alice"},
    }
    with gw.client("physician", patient=ALICE) as physician:
        assert physician.get("/Patient/alice").status_code == 200  # read
        created = physician.post("/Observation", json=hr)  # create
        rid = created.json()["id"]
        assert (
            physician.put(
                f"/Observation/{rid}", json={**created.json(), "status": "amended"}
            ).status_code
            == 200
        )  # update
        assert physician.get(f"/Observation/{rid}/_history").status_code == 200  # history
        assert (
            physician.get(
                "/Patient", params={"identifier": f"urn:oid:1.2.250.1.213.1.4.8|{ALICE}"}
            ).status_code
            == 200
        )  # search
        assert physician.delete(f"/Observation/{rid}").status_code == 204  # delete
    with gw.client("dentist", patient=ALICE) as dentist:
        assert dentist.get("/Patient/alice").status_code == 404  # refused, hidden
    with gw.client(
        "physician",
        patient=CHLOE,
        purpose_of_use="bris_de_glace",
        justification="patiente inconsciente",
    ) as emergency:
        assert emergency.get("/Patient/chloe").status_code == 200  # break-the-glass
    assert (
        httpx.get(
            gw.server.url + "/fhir/Patient/alice", headers={"authorization": "Bearer a.b.c"}
        ).status_code
        == 401
    )
    expected = [
        ("rest", "read", 0, "normal", ["alice"]),
        ("rest", "create", 0, "normal", ["alice"]),
        ("rest", "update", 0, "normal", ["alice"]),
        ("rest", "history-instance", 0, "normal", ["alice"]),
        ("rest", "search-type", 0, "normal", ["alice"]),
        ("rest", "delete", 0, "normal", ["alice"]),
        ("rest", "read", 4, "normal", ["alice"]),  # refused: her log shows the attempt
        ("rest", "read", 0, "bris_de_glace", ["chloe"]),
        # DICOM 110113 security alert, subtype 110127 emergency override started
        ("110113", "110127", 0, "bris_de_glace", ["chloe"]),
        # DICOM 110114 user authentication, subtype 110122 login: only the jti is kept
        ("110114", "110122", 4, "normal", []),
    ]
    got = _entries(gw, start)
    assert [(t, i, o, p, pts) for t, i, o, p, pts in got] == expected, got


def test_a_read_whose_audit_entry_cannot_be_written_returns_503_and_no_data(
    tmp_path: Path, sqlite_template: Path
) -> None:
    quick = AuditSettings(append_timeout_seconds=0.3)
    with (
        demo_gateway(tmp_path, sqlite_template, audit=quick) as gw,
        gw.client("physician", patient=ALICE) as physician,
        sequencer_held(gw.settings),
    ):
        r = physician.get("/Patient/alice")
    assert r.status_code == 503
    assert r.json()["resourceType"] == "OperationOutcome"
    assert "Dupont" not in r.text, "no data leaves without its audit record"


def test_a_failed_write_records_its_refusal_and_nothing_else(gw: DemoGateway) -> None:
    start = _size(gw)
    with gw.client("dentist", patient=ALICE) as dentist:
        r = dentist.post(
            "/Observation",
            json={
                "resourceType": "Observation",
                "status": "final",
                "code": {"text": "x"},
                "subject": {"reference": "Patient/alice"},
            },
        )
    assert r.status_code == 403
    # The refusal names the patient of the refused write: it shows in her access log.
    assert _entries(gw, start) == [("rest", "create", 4, "normal", ["alice"])]


def test_a_refused_read_names_the_patient_it_was_about(gw: DemoGateway) -> None:
    """A read refused by the rules (404: hidden) is recorded with the patient of what was
    asked for, so the patient and auditors find the attempt; the caller learns nothing
    more (the same 404 as for an id that does not exist, recorded without a patient)."""
    start = _size(gw)
    with gw.client("physician", patient=ALICE) as physician:
        hidden = physician.get("/Patient/bruno")
        missing = physician.get("/Patient/nobody-at-all")
    assert hidden.status_code == missing.status_code == 404
    assert hidden.json()["issue"][0]["details"] == missing.json()["issue"][0]["details"]
    assert _entries(gw, start) == [
        ("rest", "read", 4, "normal", ["bruno"]),
        ("rest", "read", 4, "normal", []),
    ]
    log = httpx.get(
        gw.server.url + "/me/access-log",
        headers={"authorization": f"Bearer {gw.token('patient', patient=BRUNO)}"},
    )
    assert log.status_code == 200, log.text
    attempts = [e for e in log.json()["entries"] if e["outcome"] == "4"]
    assert [(e["actor"]["identifier"]["value"], e["interaction"]) for e in attempts] == [
        (demo.PHYSICIAN.subject, "read")
    ]


@pytest.mark.parametrize(
    ("method", "path", "headers", "body", "status", "interaction"),
    [
        (
            "POST",
            "/Observation",
            {"content-type": "application/fhir+json"},
            b"{not json",
            400,
            "create",
        ),
        (
            "PUT",
            "/Patient/alice",
            {"content-type": "application/fhir+xml"},
            b"<Patient/>",
            415,
            "update",
        ),
        ("GET", "/Patient/alice", {"accept": "application/fhir+xml"}, None, 406, "read"),
        ("GET", "/Patient?_format=xml", {}, None, 415, "search-type"),
        ("POST", "/Observation", {"content-type": "application/fhir+json"}, b"", 400, "create"),
    ],
)
def test_a_request_refused_before_dispatch_is_recorded_too(
    gw: DemoGateway,
    method: str,
    path: str,
    headers: dict[str, str],
    body: bytes | None,
    status: int,
    interaction: str,
) -> None:
    start = _size(gw)
    with gw.client("physician", patient=ALICE) as physician:
        r = physician.request(method, path, headers=headers, content=body)
    assert r.status_code == status, r.text
    assert _entries(gw, start) == [("rest", interaction, 4, "normal", [])]


def test_auditors_search_the_log_through_fhir_and_others_cannot(gw: DemoGateway) -> None:
    with gw.client("physician", patient=ALICE) as physician:
        assert physician.get("/Patient/alice").status_code == 200
        assert physician.get("/AuditEvent").status_code == 403
        written = physician.post("/AuditEvent", json={"resourceType": "AuditEvent"})
        assert written.status_code == 405
    with gw.client("admin") as admin:
        assert admin.get("/AuditEvent").status_code == 403, "separation of duties"
    with gw.client("auditor") as auditor:
        found = auditor.get("/AuditEvent", params={"patient": "alice", "_total": "accurate"})
        assert found.status_code == 200
        bundle = found.json()
        assert bundle["total"] >= 1
        first = bundle["entry"][0]["resource"]
        assert first["resourceType"] == "AuditEvent"
        assert auditor.get(f"/AuditEvent/{first['id']}").json()["id"] == first["id"]
        assert auditor.get("/AuditEvent", params={"nonsense": "1"}).status_code == 400
        assert auditor.get("/AuditEvent/999999999").status_code == 404


def _patient_of(resource: dict[str, object]) -> str | None:
    if resource.get("resourceType") == "Patient":
        return str(resource["id"])
    for name in ("subject", "patient"):
        ref = resource.get(name)
        if isinstance(ref, dict) and str(ref.get("reference", "")).startswith("Patient/"):
            return str(ref["reference"]).removeprefix("Patient/")
    return None


def test_each_change_feed_answer_is_recorded_with_the_patients_it_disclosed(
    gw: DemoGateway,
) -> None:
    start = _size(gw)
    with gw.client("physician", patient=ALICE) as physician:
        feed = physician.get(gw.server.url + "/sync/changes", params={"limit": "1000"})
        bad = physician.get(gw.server.url + "/sync/changes", params={"cursor": "forged"})
    assert feed.status_code == 200, feed.text
    assert bad.status_code == 400
    disclosed = {
        p
        for e in feed.json().get("entry", [])
        if "resource" in e and (p := _patient_of(e["resource"])) is not None
    }
    assert disclosed, "the demo physician sees some of the record"
    assert _entries(gw, start) == [
        ("rest", "history-system", 0, "normal", sorted(disclosed)),
        ("rest", "history-system", 4, "normal", []),
    ]
