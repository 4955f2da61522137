"""Logs never carry a token, an INS or a name.

A representative scenario runs against a live gateway with authentication on, with
every logger at DEBUG through the production logging set-up (JSON lines, redaction):
authenticated writes of named patients with an INS, searches by INS and by name, a bad
token, a replayed token, HL7 v2 and CSV ingestion. Then the written log is scanned, and
so are the raw records of the gateway's own loggers, before any redaction: the
gateway itself must not log them; the redaction filter is only a safety net.
"""

from __future__ import annotations

import io
import logging
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest

from gateway.api.logs import QUIET, REDACTED, JsonFormatter, Redaction, configure_logging
from gateway.auth import demo
from gateway.config import TelemetrySettings
from tests.demo_server import DemoGateway, demo_gateway

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures"
FHIR_JSON = {"content-type": "application/fhir+json"}
NEW_NAME = ("Quiberon-Larcade", "Zéphyrine")


def _ins(first13: str) -> str:
    return first13 + f"{97 - int(first13) % 97:02d}"


NEW_INS = _ins("2770763220829")


class RawRecords(logging.Handler):
    """Keeps what each record said before any filter rewrote it."""

    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.seen: list[tuple[str, str]] = []

    def emit(self, record: logging.LogRecord) -> None:
        extras = {k: v for k, v in vars(record).items() if k not in _STANDARD}
        self.seen.append((record.name, record.getMessage() + " " + repr(extras)))


_STANDARD = frozenset(vars(logging.makeLogRecord({}))) | {"message", "taskName"}


@pytest.fixture
def captured() -> Iterator[tuple[io.StringIO, RawRecords]]:
    root = logging.getLogger()
    saved = (list(root.handlers), root.level)
    levels = {name: logging.getLogger(name).level for name in (*QUIET, "uvicorn", "uvicorn.error")}
    out, raw = io.StringIO(), RawRecords()
    configure_logging(TelemetrySettings(log_level="DEBUG", log_format="json"), stream=out)
    root.handlers.insert(0, raw)
    try:
        yield out, raw
    finally:
        root.handlers[:] = saved[0]
        root.setLevel(saved[1])
        for name, level in levels.items():
            logging.getLogger(name).setLevel(level)


def _scenario(gw: DemoGateway) -> tuple[list[str], list[int]]:
    """Runs the calls; returns every token it sent and the statuses it got."""
    tokens: list[str] = []
    statuses: list[int] = []

    def auth(actor: str, **facts: Any) -> dict[str, str]:
        token = gw.token(actor, **facts)
        tokens.append(token)
        return {"authorization": f"Bearer {token}"}

    base = gw.server.url
    alice = demo.PATIENT_INS[0]
    patient = {
        "resourceType": "Patient",
        "identifier": [{"system": "urn:oid:1.2.250.1.213.1.4.8", "value": NEW_INS}],
        "name": [{"family": NEW_NAME[0], "given": [NEW_NAME[1]]}],
        "gender": "female",
        "birthDate": "1977-07-06",
    }
    hooks = {"response": [lambda r: statuses.append(r.status_code)]}
    with httpx.Client(base_url=base, timeout=60, event_hooks=hooks) as http:
        http.post(
            "/fhir/Patient", json=patient, headers=auth("physician", patient=NEW_INS) | FHIR_JSON
        )
        bad = dict(patient, birthDate="not-a-date")
        http.post("/fhir/Patient", json=bad, headers=auth("physician", patient=NEW_INS) | FHIR_JSON)
        ident = f"urn:oid:1.2.250.1.213.1.4.8|{alice}"
        http.get(f"/fhir/Patient?identifier={ident}", headers=auth("physician", patient=alice))
        http.get("/fhir/Patient?name=Dupont", headers=auth("physician", patient=alice))
        http.get(f"/fhir/Patient?name={NEW_NAME[0]}", headers=auth("physician", patient=NEW_INS))
        http.get("/fhir/Patient/alice", headers=auth("dentist", patient=alice))  # refused
        http.get(
            "/fhir/Patient/alice", headers={"authorization": "Bearer eyJhbGciOi.eyJzdWIi.c2ln"}
        )
        replayed = auth("physician", patient=alice)
        http.get("/fhir/Patient/alice", headers=replayed)
        http.get("/fhir/Patient/alice", headers=replayed)
        hl7 = (FIXTURES / "intake" / "demo-rds-o13-alice.hl7").read_bytes()
        http.post(
            "/ingest/hl7v2",
            content=hl7,
            headers=auth("pharmacist") | {"content-type": "x-application/hl7-v2+er7"},
        )
        csv = (FIXTURES / "csv" / "residents.csv").read_bytes()
        http.post(
            "/ingest/csv/residents",
            content=csv,
            headers=auth("ehpad") | {"content-type": "text/csv"},
        )
        http.get("/ingest/quarantine", headers=auth("ehpad"))
    return tokens, statuses


def test_no_token_ins_or_name_reaches_the_logs(
    tmp_path: Path, sqlite_template: Path, captured: tuple[io.StringIO, RawRecords]
) -> None:
    out, raw = captured
    with demo_gateway(tmp_path, sqlite_template) as gw:
        tokens, statuses = _scenario(gw)
    # create, invalid create, 3 searches, hidden read, bad token, read, replay, HL7, CSV, list
    assert statuses == [201, 400, 200, 200, 200, 404, 401, 200, 401, 200, 200, 200], statuses
    lines = [line for line in out.getvalue().splitlines() if line]
    records = [orjson.loads(line) for line in lines]  # every line is one JSON object
    requests = [r for r in records if r["logger"] == "gateway.access"]
    assert len(requests) >= 12, "one line per request"
    assert all(r.get("request_id") for r in requests)
    forbidden = [
        *tokens,
        "eyJhbGciOi",
        NEW_INS,
        *demo.PATIENT_INS,
        "240037505612377",
        *NEW_NAME,
        "Dupont",
        "DUPONT",
        "Alice",
        "LEFÈVRE",
        "Lucienne",
        "Marie-Hélène",
        "PARACETAMOL",
    ]
    written = out.getvalue()
    leaks = [value for value in forbidden if value in written]
    assert not leaks, f"in the written log: {leaks}"
    own = "\n".join(text for name, text in raw.seen if name.startswith("gateway"))
    assert raw.seen, "the scenario logged something"
    leaks = [value for value in forbidden if value in own]
    assert not leaks, f"logged by the gateway: {leaks}"


def test_the_redaction_net_masks_what_slips_through() -> None:
    token = "eyJhbGciOiJFZERTQSJ9.eyJzdWIiOiIxIn0.c2lnbmF0dXJl"
    record = logging.makeLogRecord(
        {
            "name": "somewhere",
            "msg": "got %s for %s (Bearer abc.def)",
            "args": (token, "285037512345688"),
            "levelno": logging.INFO,
            "levelname": "INFO",
            "family": "Dupont",
            "count": 3,
        }
    )
    Redaction().filter(record)
    line = orjson.loads(JsonFormatter().format(record))
    assert token not in line["message"]
    assert "285037512345688" not in line["message"]
    assert "abc.def" not in line["message"]
    assert line["family"] == REDACTED
    assert line["count"] == 3


def test_exception_messages_are_not_written() -> None:
    try:
        raise ValueError("Dupont 285037512345688")
    except ValueError:
        record = logging.getLogger("x").makeRecord(
            "x", logging.ERROR, __file__, 1, "failed", (), exc_info=sys.exc_info()
        )
    line = orjson.loads(JsonFormatter().format(record))
    assert line["error_type"] == "ValueError"
    assert "Dupont" not in str(line)
