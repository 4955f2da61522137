"""``/audit/*`` and ``/me/access-log`` over a live server, on both back-ends."""

from __future__ import annotations

import base64
import contextlib
from collections.abc import Iterator, Mapping
from typing import Any

import httpx
import orjson
import pytest

from gateway.access.context import AccessContext
from gateway.app import create_app
from gateway.audit.checkpoint import verify_checkpoint
from gateway.audit.events import AuditRecord
from gateway.audit.merkle import leaf_hash, verify_consistency, verify_inclusion
from gateway.audit.verifier import verify_export
from gateway.config import AuditSettings, Settings
from gateway.fhir.identifiers import INS_NIR
from gateway.record.repository import Repository
from gateway.storage import audit_checkpoints, audit_reads
from gateway.storage.audit_log import AuditLog
from tests.audit_support import T0, entries, professional, sequencer_held
from tests.support import LiveServer, live_server


def b64(text: str) -> bytes:
    return base64.b64decode(text)


@pytest.fixture
def http(server: LiveServer) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=server.url, timeout=60) as client:
        yield client


@pytest.fixture
def audit(server: LiveServer) -> AuditLog:
    log: AuditLog = server.app.state.audit
    return log


def checkpoint_of(http: httpx.Client, audit: AuditLog, size: int | None = None) -> Any:
    r = http.get("/audit/checkpoint", params={} if size is None else {"size": size})
    assert r.status_code == 200, r.text
    assert r.headers["content-type"].startswith("text/plain")
    cp = verify_checkpoint(r.text, [audit.signer.signer.verifier_key])
    assert int(r.headers["x-audit-tree-size"]) == cp.size
    return cp


def last_entry(audit: AuditLog) -> dict[str, Any]:
    size = audit.head().size
    lines = list(audit_reads.export_lines(audit.engine, audit_reads.ExportFilter()))
    assert len(lines) == size
    entry: dict[str, Any] = orjson.loads(lines[-1])["entry"]
    return entry


def test_checkpoints_and_proofs_verify(http: httpx.Client, audit: AuditLog) -> None:
    items = entries(20)
    audit.append_standalone(items[:13])
    first = audit.checkpoint()
    audit.append_standalone(items[13:])
    second = audit.checkpoint()
    assert (first.size, second.size) == (13, 20)
    latest = checkpoint_of(http, audit)
    assert latest.size == 20  # the read above is logged after the checkpoint it returns
    old = checkpoint_of(http, audit, 13)
    for index in (0, 7, 12):
        r = http.get("/audit/proof/inclusion", params={"index": index, "size": 13})
        assert r.status_code == 200, r.text
        body = r.json()
        assert b64(body["leaf_hash"]) == leaf_hash(items[index].content)
        proof = [b64(h) for h in body["proof"]]
        assert verify_inclusion(leaf_hash(items[index].content), index, 13, proof, old.root)
    r = http.get("/audit/proof/consistency", params={"first": 13, "second": 20})
    proof = [b64(h) for h in r.json()["proof"]]
    assert verify_consistency(13, 20, proof, old.root, latest.root)


def test_every_read_of_the_log_is_itself_logged(http: httpx.Client, audit: AuditLog) -> None:
    audit.append_standalone(entries(3))
    before = audit.head().size
    r = http.get("/audit/proof/inclusion?index=1&size=3")
    assert r.status_code == 200
    assert audit.head().size == before + 1
    event = last_entry(audit)
    query = next(e for e in event["entity"] if e.get("role", {}).get("code") == "24")
    assert b64(query["query"]) == b"audit/proof/inclusion?index=1&size=3"
    assert query["detail"] == [{"type": "operation", "valueString": "audit-proof-inclusion"}]
    assert (event["action"], event["outcome"]) == ("R", "0")


@pytest.mark.parametrize(
    ("path", "expression"),
    [
        ("/audit/proof/inclusion?index=5&size=3", "index"),
        ("/audit/proof/inclusion?index=0&size=99", "size"),
        ("/audit/proof/inclusion?index=x&size=3", "index"),
        ("/audit/proof/consistency?first=0&second=3", "first"),
        ("/audit/proof/consistency?first=1", "second"),
        ("/audit/export?since=yesterday", "since"),
    ],
)
def test_bad_parameters_give_400_naming_them_and_are_logged(
    http: httpx.Client, audit: AuditLog, path: str, expression: str
) -> None:
    audit.append_standalone(entries(3))
    r = http.get(path)
    assert r.status_code == 400, r.text
    issue = r.json()["issue"][0]
    assert issue["expression"] == [expression]
    event = last_entry(audit)
    assert event["outcome"] == "4"


def test_unknown_checkpoint_size_is_404(http: httpx.Client) -> None:
    r = http.get("/audit/checkpoint", params={"size": 12345})
    assert r.status_code == 404
    assert r.json()["resourceType"] == "OperationOutcome"


def test_export_streams_the_whole_log_and_filters(http: httpx.Client, audit: AuditLog) -> None:
    audit.append_standalone(entries(30))
    audit.checkpoint()
    r = http.get("/audit/export")
    assert r.status_code == 200
    assert r.headers["content-type"].startswith("application/x-ndjson")
    lines = r.content.splitlines(keepends=True)
    assert len(lines) == 31  # 30 entries, then the export's own record
    with audit.engine.connect() as conn:
        notes = "".join(audit_checkpoints.all_notes(conn))
    verdict = verify_export(lines, notes, [audit.signer.signer.verifier_key])
    assert verdict.ok and verdict.verified_size == 30, verdict.message
    r = http.get(
        "/audit/export",
        params={"agent": "810000000002", "since": "2026-01-01T00:00:05Z", "until": "2026-01-01"},
    )
    seqs = [orjson.loads(line)["seq"] for line in r.content.splitlines()]
    assert seqs == [6, 10, 14, 18, 22, 26]


def _totals(http: httpx.Client, **params: str) -> tuple[int | None, int]:
    r = http.get("/fhir/AuditEvent", params={"subtype": "read", **params})
    assert r.status_code == 200, r.text
    bundle = r.json()
    return bundle.get("total"), len(bundle.get("entry", []))


def test_auditevent_search_answers_its_total_like_fhir_search(
    http: httpx.Client, audit: AuditLog
) -> None:
    """As the main search (README, _count=0 rule): a total when it is exact and cheap (a
    first page holding every match), when _total asks for one, and for _count=0 alone."""
    audit.append_standalone(entries(12))  # reads; the log's own reads are searches
    assert _totals(http) == (12, 12)  # the first page holds every match
    assert _totals(http, _count="5") == (None, 5)  # not cheap: no total unless asked
    assert _totals(http, _count="5", _total="accurate") == (12, 5)
    assert _totals(http, _count="5", _total="estimate") == (12, 5)
    assert _totals(http, _total="none") == (None, 12)
    assert _totals(http, _count="0") == (12, 0)  # the total alone, as _summary=count
    assert _totals(http, _count="0", _total="none") == (None, 0)
    assert _totals(http, _count="0", structure="1750000001") == (6, 0)
    r = http.get("/fhir/AuditEvent", params={"_total": "all"})
    assert r.status_code == 400 and r.json()["issue"][0]["expression"] == ["_total"]


def test_auditevent_read_takes_the_read_parameters_only(
    http: httpx.Client, audit: AuditLog
) -> None:
    audit.append_standalone(entries(2))
    r = http.get("/fhir/AuditEvent/1", params={"patient": "p1"})
    assert r.status_code == 400 and r.json()["issue"][0]["expression"] == ["patient"]
    full = http.get("/fhir/AuditEvent/1").json()
    cut = http.get("/fhir/AuditEvent/1", params={"_elements": "action"}).json()
    assert "entity" in full and "entity" not in cut  # mandatory elements stay
    assert cut["action"] == full["action"] and cut["meta"]["tag"][0]["code"] == "SUBSETTED"


def test_the_access_log_lists_who_saw_a_record_with_proofs(
    http: httpx.Client, audit: AuditLog
) -> None:
    samu = professional(1, purpose_of_use="bris_de_glace", justification="inconscient")
    audit.record_standalone(AuditRecord("read", samu, T0 + 5, patients=["p7"]))
    audit.append_standalone(entries(4))
    audit.record_standalone(AuditRecord("search-type", professional(2), T0 + 9, patients=["p7"]))
    r = http.get("/me/access-log", params={"patient": "p7"})
    assert r.status_code == 200, r.text
    body = r.json()
    cp = verify_checkpoint(body["checkpoint"], [audit.signer.signer.verifier_key])
    assert body["patient"] == "Patient/p7"
    assert [e["seq"] for e in body["entries"]] == [6, 0]  # the alert (1) is not repeated
    newest, emergency = body["entries"]
    assert newest["interaction"] == "search-type"
    assert emergency["mode"] == "bris_de_glace" and emergency["justification"] == "inconscient"
    assert emergency["actor"]["identifier"]["value"] == "810000000001"
    with audit.engine.connect() as conn:
        stored = dict(audit_reads.patient_entries(conn, "p7", upto=cp.size, before=None, limit=9))
    for item in body["entries"]:
        assert "entry" not in item  # its bytes may name other patients
        leaf = b64(item["leaf_hash"])
        assert leaf == leaf_hash(stored[item["seq"]])
        proof = [b64(h) for h in item["proof"]["hashes"]]
        assert item["proof"]["size"] == cp.size
        assert verify_inclusion(leaf, item["seq"], cp.size, proof, cp.root)
    r = http.get("/me/access-log", params={"patient": "p7", "_count": 1})
    assert [e["seq"] for e in r.json()["entries"]] == [6]
    assert r.json()["next_before"] == 6


@pytest.mark.parametrize("params", [{"foo": "1"}, {"_count": "1", "since": "2026"}, {"_sort": "x"}])
def test_the_access_log_refuses_parameters_it_does_not_define(
    http: httpx.Client, audit: AuditLog, params: dict[str, str]
) -> None:
    """Its parameters are before and _count (and patient, for dev callers): anything
    else is a 400 naming it, logged as a refused read, never silently ignored."""
    audit.append_standalone(entries(4))
    r = http.get("/me/access-log", params={"patient": "p1", **params})
    assert r.status_code == 400, r.text
    issue = r.json()["issue"][0]
    name = next(k for k in params if k != "_count")
    assert issue["expression"] == [name] and name in issue["diagnostics"]
    assert issue["details"]["coding"][0]["code"] == "GW-1112"
    assert last_entry(audit)["outcome"] == "4"
    ok = http.get("/me/access-log", params={"patient": "p1", "_count": "1", "before": "3"})
    assert ok.status_code == 200, ok.text


def test_the_access_log_shows_nothing_of_other_patients(
    http: httpx.Client, audit: AuditLog
) -> None:
    """A search whose results held two patients is in both patients' logs; neither log
    shows the other patient, nor the query that named them."""
    query = b"identifier=urn:oid:1.2.250.1.213.1.4.8|245101305502104"
    audit.record_standalone(
        AuditRecord(
            "search-type",
            professional(2),
            T0 + 3,
            patients=["p7", "p8-other-resident"],
            query=query,
        )
    )
    r = http.get("/me/access-log", params={"patient": "p7"})
    assert r.status_code == 200, r.text
    assert [e["interaction"] for e in r.json()["entries"]] == ["search-type"]
    for text in _strings(r.json()):  # as sent, and decoded where it is base64
        forms = [text.encode()]
        with contextlib.suppress(ValueError):
            forms.append(base64.b64decode(text, validate=True))
        for form in forms:
            assert b"p8-other-resident" not in form and b"245101305502104" not in form


def _strings(value: Any) -> Iterator[str]:
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for v in value.values():
            yield from _strings(v)
    elif isinstance(value, list):
        for v in value:
            yield from _strings(v)


# -- callers of other kinds: an app that takes the caller's kind from a test header --------


def header_caller(headers: Mapping[str, str], request_id: str | None) -> AccessContext:
    kind = headers.get("x-test-kind", "professional")
    return AccessContext(
        kind=kind,  # type: ignore[arg-type]
        client_id="test-client",
        subject="810000000009" if kind != "patient" else "277076322082910",
        patient=headers.get("x-test-patient", "p7") if kind == "patient" else None,
        request_id=request_id,
    )


@pytest.fixture
def kinds_server(settings: Settings) -> Iterator[LiveServer]:
    app = create_app(settings, authenticate=header_caller)
    with live_server(app) as srv:
        yield srv


AUDITOR_PATHS = [
    "/audit/checkpoint",
    "/audit/proof/inclusion?index=0&size=1",
    "/audit/proof/consistency?first=1&second=1",
    "/audit/export",
]


@pytest.mark.parametrize("kind", ["professional", "patient", "system", "admin", "auditor"])
def test_only_auditors_read_the_log_and_only_patients_their_access_log(
    kinds_server: LiveServer, kind: str
) -> None:
    log: AuditLog = kinds_server.app.state.audit
    log.append_standalone(entries(1))
    with httpx.Client(base_url=kinds_server.url, headers={"x-test-kind": kind}) as http:
        for path in AUDITOR_PATHS:
            before = log.head().size
            r = http.get(path)
            assert r.status_code == (200 if kind == "auditor" else 403), (path, r.text)
            assert log.head().size == before + 1  # granted or refused, it is logged
            if r.status_code == 403:
                assert r.json()["issue"][0]["code"] == "forbidden"
                assert last_entry(log)["outcome"] == "4"
        r = http.get("/me/access-log")
        assert r.status_code == (200 if kind == "patient" else 403), r.text


def test_a_log_that_cannot_record_the_read_returns_503_and_no_data(
    settings: Settings,
) -> None:
    settings = settings.model_copy(update={"audit": AuditSettings(append_timeout_seconds=0.3)})
    app = create_app(settings, authenticate=header_caller)
    with live_server(app) as srv, httpx.Client(base_url=srv.url) as http:
        log: AuditLog = srv.app.state.audit
        log.append_standalone(entries(3))
        log.checkpoint()
        with sequencer_held(settings):
            r = http.get("/audit/checkpoint", headers={"x-test-kind": "auditor"})
            assert r.status_code == 503
            assert r.json()["resourceType"] == "OperationOutcome"
            assert settings.audit.origin not in r.text  # no checkpoint leaked
            assert r.json()["issue"][0]["details"]["coding"][0]["code"] == "GW-5004"
            r = http.get("/me/access-log", headers={"x-test-kind": "patient"})
            assert r.status_code == 503
        assert http.get("/audit/checkpoint", headers={"x-test-kind": "auditor"}).status_code == 200


def test_a_patient_known_by_their_ins_sees_the_accesses_to_their_patient_resource(
    kinds_server: LiveServer,
) -> None:
    services = kinds_server.app.state.services
    ins = "277076322082910"
    patient = {
        "resourceType": "Patient",
        "id": "alice",
        "identifier": [{"system": INS_NIR, "value": ins}],
        "name": [{"family": "Martin"}],
    }
    with Repository(AccessContext.dev_open(), services).writing() as w:
        w.update("Patient", "alice", patient)
    log: AuditLog = kinds_server.app.state.audit
    log.record_standalone(AuditRecord("read", professional(3), T0 + 1, patients=["alice"]))
    log.record_standalone(AuditRecord("read", professional(4), T0 + 2, patients=["bob"]))
    headers = {"x-test-kind": "patient", "x-test-patient": ins}
    with httpx.Client(base_url=kinds_server.url, headers=headers) as http:
        body = http.get("/me/access-log").json()
    assert body["patient"] == "Patient/alice"
    actors = [e["actor"]["identifier"]["value"] for e in body["entries"]]
    assert "810000000003" in actors and "810000000004" not in actors
