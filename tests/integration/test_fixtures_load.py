"""Every fixture loads as a transaction and every resource reads back as it was stored."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from gateway.app import create_app
from tests.support import fresh_sqlite, live_server, settings_for

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures"


def _as_put_transaction(resources: list[dict[str, Any]]) -> dict[str, Any]:
    return {
        "resourceType": "Bundle",
        "type": "transaction",
        "entry": [
            {"resource": r, "request": {"method": "PUT", "url": f"{r['resourceType']}/{r['id']}"}}
            for r in resources
        ],
    }


def _post_and_read_back(client: httpx.Client, bundle: dict[str, Any]) -> int:
    r = client.post("/", json=bundle, timeout=120)
    assert r.status_code == 200, r.text[:2000]
    entries = r.json()["entry"]
    assert len(entries) == len(bundle["entry"])
    for entry in entries:
        assert entry["response"]["status"][:3] in ("200", "201"), entry["response"]
        stored = entry["resource"]
        read = client.get(f"/{stored['resourceType']}/{stored['id']}")
        assert read.status_code == 200
        assert read.json() == stored
    return len(entries)


def _load(path: Path) -> dict[str, Any]:
    data: dict[str, Any] = json.loads(path.read_text("utf-8"))
    return data


def test_synthea_bundles_load_and_read_back(client: httpx.Client) -> None:
    folder = FIXTURES / "synthea"
    order = sorted(
        folder.glob("*.json"),
        key=lambda p: (not p.name.startswith("hospital"), not p.name.startswith("practitioner")),
    )
    total = sum(_post_and_read_back(client, _load(p)) for p in order)
    assert total == 327 + 9


@pytest.fixture(scope="module")
def warn_client(
    tmp_path_factory: pytest.TempPathFactory, sqlite_template: Path
) -> Iterator[httpx.Client]:
    """Profile errors as warnings: the published examples carry known faults (below)."""
    data_dir = tmp_path_factory.mktemp("warn")
    fresh_sqlite(sqlite_template, data_dir)
    app = create_app(settings_for("sqlite", data_dir, None, validation="warn"))
    with live_server(app) as live, httpx.Client(base_url=live.url + "/fhir") as http:
        yield http


# Published examples that break a rule, with the rule (see tests/unit/validation).
KNOWN_BAD_FR_CORE = {
    "Patient-FRCorePatientExample.json": "invalid INS-NIR",
    "Practitioner-FRCorePractitionerExample.json": "invalid idNat_PS",
    "PractitionerRole-FRCorePractitionerRoleExample.json": "invalid RPPS",
}


def test_fr_core_examples_load_and_read_back(warn_client: httpx.Client) -> None:
    examples = [_load(p) for p in sorted((FIXTURES / "fr-core-examples").glob("*.json"))]
    assert len(examples) == 31
    assert _post_and_read_back(warn_client, _as_put_transaction(examples)) == 31


@pytest.mark.parametrize(("name", "why"), sorted(KNOWN_BAD_FR_CORE.items()))
def test_strict_mode_refuses_the_faulty_fr_core_examples(
    client: httpx.Client, name: str, why: str
) -> None:
    example = _load(FIXTURES / "fr-core-examples" / name)
    r = client.put(f"/{example['resourceType']}/{example['id']}", json=example)
    assert r.status_code == 422
    assert why in str(r.json()["issue"])


def test_strict_mode_stores_the_sound_fr_core_examples(client: httpx.Client) -> None:
    sound = [
        _load(p)
        for p in sorted((FIXTURES / "fr-core-examples").glob("*.json"))
        if p.name not in KNOWN_BAD_FR_CORE
    ]
    assert _post_and_read_back(client, _as_put_transaction(sound)) == 28


@pytest.mark.parametrize(
    "name", sorted(p.name for p in (FIXTURES / "eprescription").glob("*.json"))
)
def test_eprescription_bundles_load_and_read_back(warn_client: httpx.Client, name: str) -> None:
    searchset = _load(FIXTURES / "eprescription" / name)
    resources = [e["resource"] for e in searchset["entry"]]
    assert _post_and_read_back(warn_client, _as_put_transaction(resources)) == len(resources)
