"""``/ingest`` over real HTTP: ACKs, CSV summaries, the quarantine endpoints, bad input."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from gateway.app import build_services
from gateway.auth import demo
from tests.demo_server import DemoGateway, demo_gateway
from tests.integration.intake.support import CSV, hl7, load_demo
from tests.support import LiveServer

FINESS = {"finess": "750712184"}
HL7_TYPE = "x-application/hl7-v2+er7"


@pytest.fixture
def http(server: LiveServer) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=server.url, timeout=60) as client:
        yield client


def _msa(body: bytes, charset: str = "utf-8") -> list[str]:
    segment = next(s for s in body.decode(charset).split("\r") if s.startswith("MSA"))
    return segment.split("|")


def _counts(outcome: dict[str, Any]) -> dict[str, int]:
    return {e["url"]: e["valueInteger"] for e in outcome["extension"][0]["extension"]}


def test_hl7_message_gets_its_ack_and_a_resend_the_same_ack(http: httpx.Client) -> None:
    first = http.post("/ingest/hl7v2", params=FINESS, content=hl7("fr-adt-a01-admission-ins.hl7"))
    assert first.status_code == 200
    assert first.headers["content-type"] == f"{HL7_TYPE}; charset=utf-8"
    assert first.headers["x-ingest-status"] == "accepted"
    assert first.headers["x-provenance"].startswith("Provenance/")
    assert _msa(first.content)[1:3] == ["AA", "TIL-ADT-000101"]
    again = http.post("/ingest/hl7v2", params=FINESS, content=hl7("fr-adt-a01-admission-ins.hl7"))
    assert again.content == first.content
    assert again.headers["x-ingest-status"] == "duplicate"
    assert again.headers["x-ingest-first-status"] == "accepted"


def test_a_latin1_message_is_acked_in_latin1(http: httpx.Client) -> None:
    r = http.post("/ingest/hl7v2", params=FINESS, content=hl7("fr-adt-a08-latin1-lf.hl7"))
    assert r.headers["content-type"] == f"{HL7_TYPE}; charset=iso-8859-1"
    assert _msa(r.content, "latin-1")[1] == "AA"


def test_random_bytes_get_an_ar_and_are_kept(http: httpx.Client) -> None:
    r = http.post("/ingest/hl7v2", params=FINESS, content=b"\x00\x01 not a message \xff")
    assert r.status_code == 200 and _msa(r.content)[1] == "AR"
    entry = http.get(f"/ingest/quarantine/{r.headers['x-quarantine-id']}").json()
    assert entry["payloadBase64"] and entry["reason"] == "rejected"


@pytest.mark.parametrize(
    ("params", "body", "status"),
    [(FINESS, b"  \r\n", 400), ({}, b"MSH|^~\\&|", 403), ({"finess": "123"}, b"MSH|", 403)],
)
def test_what_is_not_a_message_is_an_operation_outcome(
    http: httpx.Client, params: dict[str, str], body: bytes, status: int
) -> None:
    r = http.post("/ingest/hl7v2", params=params, content=body)
    assert r.status_code == status
    assert r.json()["resourceType"] == "OperationOutcome"


def test_csv_summary_per_row_and_column(http: httpx.Client) -> None:
    http.post("/ingest/csv/residents", params=FINESS, content=(CSV / "residents.csv").read_bytes())
    r = http.post(
        "/ingest/csv/vitals", params=FINESS, content=(CSV / "vitals-mixed.csv").read_bytes()
    )
    assert r.status_code == 200
    outcome = r.json()
    assert _counts(outcome) == {"submitted": 13, "accepted": 5, "duplicates": 0, "quarantined": 8}
    assert r.headers["x-ingest-quarantined"] == "8"
    located = [i for i in outcome["issue"] if i.get("location") == ["line 7, column 'Valeur'"]]
    assert located and "(quarantine " in located[0]["diagnostics"]


def test_unknown_kind_and_unusable_file(http: httpx.Client) -> None:
    assert http.post("/ingest/csv/invoices", params=FINESS, content=b"a;b").status_code == 404
    r = http.post("/ingest/csv/vitals", params=FINESS, content=b"\x89PNG garbage")
    assert r.status_code == 400
    assert _counts(r.json())["quarantined"] == 1
    listed = http.get("/ingest/quarantine", params={"kind": "csv:vitals"}).json()["entries"]
    assert len(listed) == 1 and listed[0]["format"] == "csv"


def _replays(server: LiveServer) -> dict[str, float]:
    """``gateway_ingest_messages_total{channel="replay"}`` by outcome (the server's
    counters run across tests)."""
    found = re.findall(
        r'gateway_ingest_messages_total\{channel="replay",outcome="(\w+)"\} ([\d.]+)',
        httpx.get(server.url + "/metrics").text,
    )
    return {outcome: float(n) for outcome, n in found}


def test_quarantine_filters_paging_replay_and_discard(
    http: httpx.Client, server: LiveServer
) -> None:
    r = http.post(
        "/ingest/csv/vitals", params=FINESS, content=(CSV / "vitals-long.csv").read_bytes()
    )
    assert _counts(r.json())["quarantined"] == 7, "residents unknown yet"
    http.post("/ingest/hl7v2", params=FINESS, content=b"garbage")
    entries: list[dict[str, Any]] = []
    url: str | None = "/ingest/quarantine?kind=csv:vitals&_count=3&date=ge2020-01-01"
    while url:
        page = http.get(url).json()
        entries += page["entries"]
        url = page.get("next")
    assert len(entries) == 7 and len({e["id"] for e in entries}) == 7
    assert http.get("/ingest/quarantine", params={"date": "lt2020-01-01"}).json()["entries"] == []
    assert http.get("/ingest/quarantine", params={"date": "ge2020-13-01"}).status_code == 400
    http.post("/ingest/csv/residents", params=FINESS, content=(CSV / "residents.csv").read_bytes())
    before = _replays(server)
    replay = http.post(f"/ingest/quarantine/{entries[0]['id']}/$replay")
    assert replay.json()["status"] == "accepted"
    assert replay.headers["x-ingest-status"] == "accepted"
    assert _replays(server) == {**before, "accepted": before.get("accepted", 0) + 1}, (
        "a replay is counted by its outcome, not as refused"
    )
    assert http.post(f"/ingest/quarantine/{entries[0]['id']}/$replay").status_code == 409
    assert http.delete(f"/ingest/quarantine/{entries[1]['id']}").status_code == 204
    gone = http.get(f"/ingest/quarantine/{entries[1]['id']}").json()
    assert gone["status"] == "discarded" and "payload" not in gone
    assert http.post(f"/ingest/quarantine/{entries[1]['id']}/$replay").status_code == 410
    assert http.get("/ingest/quarantine/nope").status_code == 404


@pytest.mark.parametrize(
    ("query", "name", "code"),
    [
        ("bogus=1", "bogus", "GW-1100"),
        ("finess=750712184", "finess", "GW-1100"),
        ("status=foo", "status", "GW-1103"),
        ("status=open,replayed", "status", "GW-1103"),
        ("reason=other", "reason", "GW-1103"),
        ("kind=csv:vitals&kind=ADT^A01", "kind", "GW-1102"),
        ("source=a&source=b", "source", "GW-1102"),
        ("date=2026-13-01", "date", "GW-1103"),
        ("date=ge2026-01-01T00:00:00", "date", "GW-1103"),
        ("date=ne2026-01-01", "date", "GW-1102"),
        ("_count=0", "_count", "GW-1106"),
        ("_count=501", "_count", "GW-1106"),
        ("_count=ten", "_count", "GW-1106"),
        ("_count=5&_count=6", "_count", "GW-1106"),
        ("cursor=nope", "cursor", "GW-1601"),
    ],
)
def test_quarantine_listing_refuses_unknown_parameters_and_invalid_values(
    http: httpx.Client, query: str, name: str, code: str
) -> None:
    r = http.get(f"/ingest/quarantine?{query}")
    assert r.status_code == 400, r.text
    (issue,) = r.json()["issue"]
    assert issue["expression"] == [name]
    assert issue["details"]["coding"][0]["code"] == code


def test_quarantine_listing_takes_every_documented_parameter_and_its_next_links(
    http: httpx.Client,
) -> None:
    http.post("/ingest/csv/vitals", params=FINESS, content=(CSV / "vitals-long.csv").read_bytes())
    for status in ("open", "replayed", "discarded"):
        for reason in ("rejected", "conflict", "review"):
            r = http.get("/ingest/quarantine", params={"status": status, "reason": reason})
            assert r.status_code == 200, r.text
    assert http.get("/ingest/quarantine?kind=&status=&_count=").status_code == 200, (
        "an empty value is no filter, as in a FHIR search"
    )
    source = http.get("/ingest/quarantine?kind=csv:vitals").json()["entries"][0]["source"]
    query = (
        f"kind=csv:vitals&source={source}&reason=rejected&status=open"
        "&date=ge2020-01-01&date=lt2999-01-01&_count=2"
    )
    url: str | None = f"/ingest/quarantine?{query}"
    pages = 0
    while url:
        r = http.get(url)
        assert r.status_code == 200, r.text
        page = r.json()
        assert all(e["kind"] == "csv:vitals" for e in page["entries"])
        url = page.get("next")
        if url:
            assert httpx.URL(url).params.get_list("date") == ["ge2020-01-01", "lt2999-01-01"]
        pages += 1
    assert pages > 1


@settings(
    max_examples=30,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(st.binary(max_size=300), st.sampled_from(["hl7v2", "csv/vitals", "csv/residents"]))
def test_random_payloads_never_crash_the_endpoints(
    http: httpx.Client, payload: bytes, route: str
) -> None:
    r = http.post(f"/ingest/{route}", params=FINESS, content=payload)
    assert r.status_code in (200, 400), r.text[:300]


# -- with authentication, the demo actors ---------------------------------------------------


@pytest.fixture(scope="module")
def gw(tmp_path_factory: pytest.TempPathFactory, sqlite_template: Path) -> Iterator[DemoGateway]:
    with demo_gateway(tmp_path_factory.mktemp("ingest"), sqlite_template) as gateway:
        services = build_services(gateway.settings)
        try:
            load_demo(services)
        finally:
            services.store.engine.dispose()
        yield gateway


def _client(gw: DemoGateway, actor: str, **facts: Any) -> httpx.Client:
    client = gw.client(actor, **facts)
    client.base_url = httpx.URL(gw.server.url)
    return client


def test_a_pharmacist_feeds_a_dispensation_with_a_token(gw: DemoGateway) -> None:
    with _client(gw, "pharmacist") as pharmacist:
        r = pharmacist.post("/ingest/hl7v2", content=hl7("demo-rds-o13-alice.hl7"))
    assert _msa(r.content)[1] == "AA", r.text
    with _client(gw, "pharmacist", patient=demo.PATIENT_INS[0]) as pharmacist:
        search = pharmacist.get("/fhir/MedicationDispense", params={"identifier": "DISP-0001/1"})
    assert search.status_code == 200 and search.json()["total"] == 1


def test_who_sees_the_quarantine(gw: DemoGateway) -> None:
    with _client(gw, "pharmacist") as pharmacist:
        r = pharmacist.post("/ingest/hl7v2", content=hl7("fr-rds-o13-dispensation-cip13.hl7"))
        assert _msa(r.content)[1] == "AE", "a pharmacist may not open a record"
        entry_id = r.headers["x-quarantine-id"]
        mine = pharmacist.get(f"/ingest/quarantine/{entry_id}").json()
        assert "MARTIN" in mine["payload"]
        listed = pharmacist.get("/ingest/quarantine").json()["entries"]
        assert entry_id in {e["id"] for e in listed}
    with _client(gw, "admin") as admin:
        seen = admin.get(f"/ingest/quarantine/{entry_id}").json()
        assert "payload" not in seen and "diagnostics" not in seen["issues"][0]
        refused = admin.post(f"/ingest/quarantine/{entry_id}/$replay")
        assert refused.status_code == 403, "the admin sees the entry: forbidden, not missing"
        issue = refused.json()["issue"][0]
        assert "only its sender" in issue["diagnostics"]
        assert issue["details"]["coding"][0]["code"] == "GW-2013"
        assert admin.post("/ingest/quarantine/nope/$replay").status_code == 404
    with _client(gw, "physician", patient=demo.PATIENT_INS[0]) as physician:
        assert physician.get(f"/ingest/quarantine/{entry_id}").status_code == 404
        assert physician.post(f"/ingest/quarantine/{entry_id}/$replay").status_code == 404
        assert physician.delete(f"/ingest/quarantine/{entry_id}").status_code == 404
        assert physician.get("/ingest/quarantine").json()["entries"] == []
    with _client(gw, "auditor") as auditor:
        assert auditor.get("/ingest/quarantine").status_code == 403
    with _client(gw, "patient") as patient:
        assert patient.post("/ingest/hl7v2", content=b"MSH|").status_code == 403
    with _client(gw, "admin") as admin:
        assert admin.delete(f"/ingest/quarantine/{entry_id}").status_code == 204


def test_a_colleague_of_the_same_client_and_structure_does_not_see_a_senders_entry(
    gw: DemoGateway,
) -> None:
    alice = demo.PATIENT_INS[0]
    message = hl7("demo-mdm-t02-alice.hl7").replace(b"||19850312|F|", b"||19851399|F|")
    with _client(gw, "physician") as physician:
        r = physician.post("/ingest/hl7v2", content=message)
        assert r.headers["x-ingest-status"] == "quarantined", r.text
        entry_id = r.headers["x-quarantine-id"]
        assert "DUPONT" in physician.get(f"/ingest/quarantine/{entry_id}").json()["payload"]
    with _client(gw, "dentist", patient=alice) as dentist:
        assert dentist.get("/fhir/Patient/alice").status_code == 404, "no care relationship"
        assert entry_id not in {
            e["id"] for e in dentist.get("/ingest/quarantine").json()["entries"]
        }
        assert dentist.get(f"/ingest/quarantine/{entry_id}").status_code == 404
        assert dentist.post(f"/ingest/quarantine/{entry_id}/$replay").status_code == 404
        assert dentist.delete(f"/ingest/quarantine/{entry_id}").status_code == 404
    with _client(gw, "nurse") as nurse:
        assert entry_id not in {e["id"] for e in nurse.get("/ingest/quarantine").json()["entries"]}
    with _client(gw, "physician") as physician:
        kept = physician.get(f"/ingest/quarantine/{entry_id}").json()
        assert kept["status"] == "open" and "payload" in kept
        listed = physician.get("/ingest/quarantine", params={"source": kept["source"]})
        assert entry_id in {e["id"] for e in listed.json()["entries"]}
    with _client(gw, "admin") as admin:
        entries = admin.get("/ingest/quarantine", params={"source": kept["source"]}).json()
        assert entry_id in {e["id"] for e in entries["entries"]}
        assert all(e["source"] == kept["source"] for e in entries["entries"])
        assert all("payload" not in e for e in entries["entries"])
        assert admin.get("/ingest/quarantine", params={"source": "nobody"}).json() == {
            "entries": []
        }
    with _client(gw, "ehpad") as ehpad:
        r = ehpad.post("/ingest/hl7v2", content=b"not hl7 at all")
        own = r.headers["x-quarantine-id"]
        assert own in {e["id"] for e in ehpad.get("/ingest/quarantine").json()["entries"]}
        other = ehpad.get("/ingest/quarantine", params={"source": kept["source"]})
        assert other.status_code == 200 and other.json()["entries"] == [], (
            "another client's source: none of the caller's entries, never all of them"
        )


def test_a_review_flag_does_not_show_a_patient_hidden_from_the_sender(gw: DemoGateway) -> None:
    header = "N° résident;Nom de naissance;Prénoms;Date de naissance;Sexe;INS;Statut identité"
    body = f"{header}\r\nR0777;DUPONT;Alice;12/03/1985;F;;PROV\r\n".encode()
    with _client(gw, "ehpad") as ehpad:
        assert ehpad.get("/fhir/Patient/alice").status_code == 404
        r = ehpad.post("/ingest/csv/residents", content=body)
        assert r.status_code == 200 and _counts(r.json())["accepted"] == 1, r.text
        assert "Patient/alice" not in r.text and "flagged for identity review" in r.text
        (flag,) = ehpad.get("/ingest/quarantine", params={"reason": "review"}).json()["entries"]
        assert flag["details"]["candidates"] == []
        assert "Patient/alice" not in str(flag)


def test_ingest_needs_a_token(gw: DemoGateway) -> None:
    with httpx.Client(base_url=gw.server.url) as anonymous:
        r = anonymous.post("/ingest/hl7v2", content=hl7("demo-rds-o13-alice.hl7"))
    assert r.status_code == 401 and r.json()["resourceType"] == "OperationOutcome"


def test_another_value_for_a_known_vital_is_a_conflict_not_a_duplicate(
    http: httpx.Client,
) -> None:
    http.post("/ingest/hl7v2", params=FINESS, content=hl7("fr-adt-a01-admission-ins.hl7"))
    oru = hl7("fr-oru-r01-constantes-ehpad.hl7")
    assert http.post("/ingest/hl7v2", params=FINESS, content=oru).headers["x-ingest-status"] == (
        "accepted"
    )
    other = oru.replace(b"TIL-ORU-001207", b"TIL-ORU-009999").replace(b"|72|bpm|", b"|120|bpm|")
    answer = http.post("/ingest/hl7v2", params=FINESS, content=other)
    assert answer.headers["x-ingest-status"] == "quarantined"
    assert _msa(answer.content)[1:3] == ["AE", "TIL-ORU-009999"]
    assert "ERR||OBX^2|205^" in answer.content.decode()
