"""Fail closed: an unknown label, an unreachable replay cache, a changed consent."""

from __future__ import annotations

import socket
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from redis import Redis

from gateway.auth import demo
from gateway.cache.replay import RedisReplayGuard
from gateway.errors import ServiceUnavailable
from tests.demo_server import DemoGateway, demo_gateway
from tests.support import REDIS_URL

ALICE = demo.PATIENT_INS[0]


@pytest.fixture
def gw(tmp_path: Path, sqlite_template: Path) -> Iterator[DemoGateway]:
    with demo_gateway(tmp_path, sqlite_template) as gateway:
        yield gateway


def _hr(**extra: Any) -> dict[str, Any]:
    return {
        "resourceType": "Observation",
        "status": "final",
        "code": {"coding": [{"system": "http://loinc.org", "code": "8867-4"}]},
        "subject": {"reference": "Patient/alice"},
        **extra,
    }


def test_an_unknown_security_label_hides_the_resource_from_everyone(gw: DemoGateway) -> None:
    label = {"meta": {"security": [{"system": "urn:example:labels", "code": "SECRET"}]}}
    with gw.client("physician", patient=ALICE) as physician:
        refused = physician.post("/Observation", json=_hr(**label))
        assert refused.status_code == 403, "nobody may add a label the rules do not know"
        created = physician.post("/Observation", json=_hr()).json()
        assert physician.get(f"/Observation/{created['id']}").status_code == 200


def test_a_new_consent_applies_at_once(gw: DemoGateway) -> None:
    with gw.client("physician", patient=ALICE) as physician:
        assert physician.get("/Patient/alice").status_code == 200  # facts now cached
    block = {
        "resourceType": "Consent",
        "status": "active",
        "scope": {
            "coding": [
                {
                    "system": "http://terminology.hl7.org/CodeSystem/consentscope",
                    "code": "patient-privacy",
                }
            ]
        },
        "category": [{"coding": [{"system": "http://loinc.org", "code": "59284-0"}]}],
        "policy": [{"uri": "https://dmp-gateway.fr/fhir/policy/dmp-access"}],
        "patient": {"reference": "Patient/alice"},
        "provision": {
            "type": "deny",
            "actor": [
                {
                    "role": {"coding": [{"code": "PRCP"}]},
                    "reference": {"reference": "Practitioner/pr-physician"},
                }
            ],
        },
    }
    with gw.client("patient") as patient:
        r = patient.post("/Consent", json=block)
        assert r.status_code == 201, r.text
    with gw.client("physician", patient=ALICE) as physician:
        assert physician.get("/Patient/alice").status_code == 404, "blocked, with no delay"
        # A write is refused too, but the block is not disclosed: the physician is told
        # what anyone without a care relationship is told.
        written = physician.post(
            "/Observation",
            json={
                "resourceType": "Observation",
                "status": "final",
                "code": {"text": "x"},
                "subject": {"reference": "Patient/alice"},
            },
        )
        assert written.status_code == 403, written.text
        assert "no-relationship" in written.text and "block" not in written.text.lower()
    with gw.client("nurse", patient=ALICE) as nurse:
        assert nurse.get("/Patient/alice").status_code == 200, "others are not affected"


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def test_an_unreachable_replay_cache_refuses_every_token() -> None:
    guard = RedisReplayGuard(Redis(host="127.0.0.1", port=_closed_port(), socket_timeout=1))
    with pytest.raises(ServiceUnavailable) as err:
        guard.seen("client:jti-1", int(time.time()) + 60)
    assert err.value.code == "GW-5008"  # its own code: not the audit log's GW-5004


def test_the_redis_replay_cache_accepts_a_token_id_once() -> None:
    guard = RedisReplayGuard(Redis.from_url(REDIS_URL), prefix=f"test:{time.time_ns()}:")
    exp = int(time.time()) + 60
    assert guard.seen("c:j", exp) is False
    assert guard.seen("c:j", exp) is True
    assert guard.seen("c:other", exp) is False


def test_a_non_bearer_scheme_is_refused(gw: DemoGateway) -> None:
    r = httpx.get(gw.server.url + "/fhir/Patient/alice", headers={"authorization": "Basic x"})
    assert r.status_code == 401


def test_a_gateway_whose_redis_is_down_answers_503(tmp_path: Path, sqlite_template: Path) -> None:
    down = f"redis://127.0.0.1:{_closed_port()}/0"
    with demo_gateway(tmp_path, sqlite_template, redis_url=down) as gateway:
        with gateway.client("physician", patient=ALICE) as physician:
            r = physician.get("/Patient/alice")
        assert r.status_code == 503
        assert r.json()["issue"][0]["code"] == "transient"
