"""Issue 9: the index holds keyed hashes of identifiers (and, if asked, of names), on both
back-ends. Raw index tables are scanned for clear values; searches, direct lookups and
``reindex`` must still find what they found before."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from pydantic import SecretStr
from sqlalchemy import select
from sqlalchemy.engine import Engine

from gateway.access.context import AccessContext
from gateway.app import build_services
from gateway.config import Settings
from gateway.errors import BadRequest, UnsupportedParameter
from gateway.record.reindex import reindex
from gateway.record.repository import Repository
from gateway.record.services import RecordServices
from gateway.storage import schema as s
from gateway.storage.patient_lookup import patient_ids_for_ins
from gateway.storage.version_rows import CURRENT_COLUMNS, current_version
from tests.contract.searching import idset, seed

INS_SYSTEM = "urn:oid:1.2.250.1.213.1.4.8"
INS = "279035121518989"
RPPS_SYSTEM = "urn:oid:1.2.250.1.71.4.2.1"
RPPS = "810000000025"
ORDER = "OrDeR-77QX"  # identifier values are case-sensitive
V2_0203 = "http://terminology.hl7.org/CodeSystem/v2-0203"
MARKERS = (INS, RPPS, ORDER, ORDER.lower())

WORLD: list[dict[str, Any]] = [
    {
        "resourceType": "Patient",
        "id": "pa",
        "identifier": [
            {
                "system": INS_SYSTEM,
                "value": INS,
                "type": {"coding": [{"system": V2_0203, "code": "NI"}], "text": "INS NIR"},
            }
        ],
        "name": [{"family": "Dupont", "given": ["Hélène"]}],
        "birthDate": "1979-03-05",
    },
    {"resourceType": "Patient", "id": "pb", "name": [{"family": "Martin"}]},
    {
        "resourceType": "Practitioner",
        "id": "dr",
        "identifier": [{"system": RPPS_SYSTEM, "value": RPPS}],
        "name": [{"family": "House"}],
    },
    {
        "resourceType": "Observation",
        "id": "o1",
        "status": "final",
        "identifier": [{"system": "urn:order", "value": ORDER}],
        "code": {"coding": [{"system": "http://loinc.org", "code": "8867-4"}]},
        "subject": {"reference": "Patient/pa"},
        "performer": [{"identifier": {"system": RPPS_SYSTEM, "value": RPPS}}],
    },
    {
        "resourceType": "Observation",
        "id": "o2",
        "status": "final",
        "code": {"coding": [{"system": "http://loinc.org", "code": "8867-4"}]},
        "subject": {"identifier": {"system": INS_SYSTEM, "value": INS}},
    },
]


def _with_crypto(settings: Settings, **crypto: Any) -> Settings:
    return settings.model_copy(update={"crypto": settings.crypto.model_copy(update=crypto)})


@pytest.fixture
def other(settings: Settings) -> Iterator[RecordServices]:
    """Services on the same database under another index key."""
    services = build_services(_with_crypto(settings, index_key=SecretStr("ab" * 32)))
    yield services
    services.store.engine.dispose()


def _repo(services: RecordServices) -> Repository:
    return Repository(AccessContext.dev_open(), services)


def _index_text(engine: Engine) -> list[str]:
    """Every text value of every index table."""
    out: list[str] = []
    with engine.connect() as conn:
        for table in s.INDEX_TABLES:
            columns = [c for c in table.columns if c.name not in ("resource_pk",)]
            for row in conn.execute(select(*columns)):
                out.extend(v for v in row if isinstance(v, str))
    return out


def _leaks(engine: Engine, markers: tuple[str, ...]) -> set[str]:
    return {m for m in markers for v in _index_text(engine) if m in v}


def test_index_tables_hold_no_identifier_in_clear(repo: Repository) -> None:
    seed(repo, WORLD)
    engine = repo.services.store.engine
    assert _leaks(engine, MARKERS) == set()
    with engine.connect() as conn:  # the scan would see them: they are in the content
        rows = conn.execute(select(*CURRENT_COLUMNS)).all()
        content = b"".join(current_version(row, conn).content or b"" for row in rows)
    assert all(m.encode() in content for m in (INS, RPPS, ORDER))
    with engine.connect() as conn:
        systems = set(conn.execute(select(s.idx_token.c.system)).scalars())
    assert {INS_SYSTEM, RPPS_SYSTEM} <= systems  # systems stay clear


IDENTIFIER_CASES = [
    ("Patient", f"identifier={INS_SYSTEM}|{INS}", {"pa"}),
    ("Patient", f"identifier={INS}", {"pa"}),
    ("Patient", f"identifier={INS_SYSTEM}|", {"pa"}),
    ("Patient", f"identifier=urn:other|{INS}", set()),
    ("Patient", "identifier:missing=true", {"pb"}),
    ("Patient", f"identifier:of-type={V2_0203}|NI|{INS}", {"pa"}),
    ("Patient", f"identifier:not={INS_SYSTEM}|{INS}", {"pb"}),
    ("Patient", "identifier:text=ins", {"pa"}),  # Identifier.type.text stays clear
    ("Patient", f"identifier:text={INS}", set()),  # …and the value is not in it
    ("Practitioner", f"identifier={RPPS_SYSTEM}|{RPPS}", {"dr"}),
    ("Observation", f"identifier={ORDER}", {"o1"}),
    ("Observation", f"identifier={ORDER.lower()}", set()),
    ("Observation", f"subject:Patient.identifier={INS_SYSTEM}|{INS}", {"o1"}),
    ("Observation", f"subject:identifier={INS_SYSTEM}|{INS}", {"o2"}),
    ("Observation", f"performer:identifier={RPPS}", {"o1"}),
    ("Observation", f"subject:identifier={INS_SYSTEM}|", {"o2"}),
    ("Patient", f"_has:Observation:subject:identifier={ORDER}", {"pa"}),
    ("Patient", "name=dupont&birthdate=1979-03-05", {"pa"}),
    ("Observation", "code=http://loinc.org|8867-4", {"o1", "o2"}),
]


def test_identifier_searches_match_through_the_hashes(repo: Repository) -> None:
    seed(repo, WORLD)
    failures = [(q, got, w) for t, q, w in IDENTIFIER_CASES if (got := idset(repo, t, q)) != w]
    assert not failures


def test_direct_index_lookups_hash_the_same_way(repo: Repository) -> None:
    seed(repo, WORLD)
    with repo.services.store.engine.connect() as conn:
        assert patient_ids_for_ins(conn, INS, repo.services.blind.identifier) == ["pa"]
        assert patient_ids_for_ins(conn, INS, lambda v: v) == []


def test_another_index_key_matches_nothing_until_reindexed(
    repo: Repository, other: RecordServices
) -> None:
    seed(repo, WORLD)
    query = f"identifier={INS_SYSTEM}|{INS}"
    assert idset(_repo(other), "Patient", query) == set()
    report = reindex(other, batch=2)
    assert report.counts["Patient"] == 2 and report.total == len(WORLD)
    assert report.unreadable == []
    assert idset(_repo(other), "Patient", query) == {"pa"}
    assert idset(_repo(other), "Observation", f"subject:identifier={query[11:]}") == {"o2"}
    assert idset(repo, "Patient", query) == set()
    assert _leaks(other.store.engine, MARKERS) == set()


def test_reindex_applies_a_change_of_settings(repo: Repository, settings: Settings) -> None:
    seed(repo, WORLD)
    clear = build_services(_with_crypto(settings, hash_identifiers=False))
    try:
        reindex(clear, ["Patient"])
        assert INS in _leaks(clear.store.engine, MARKERS)  # configurable: the clear value
        assert RPPS not in _leaks(clear.store.engine, MARKERS)  # Practitioner not redone
        assert idset(_repo(clear), "Patient", f"identifier={INS}") == {"pa"}
    finally:
        clear.store.engine.dispose()


def test_sort_on_a_hashed_identifier_is_a_400_naming_it(repo: Repository) -> None:
    seed(repo, WORLD)
    with pytest.raises(BadRequest, match=r"'identifier'.*keyed hashes") as caught:
        idset(repo, "Patient", "_sort=identifier")
    assert caught.value.expression == ("_sort",)
    assert idset(repo, "Patient", "_sort=family") == {"pa", "pb"}  # names are clear


# -- names -----------------------------------------------------------------------------


@pytest.fixture
def hidden_names(settings: Settings, services: RecordServices) -> Iterator[Repository]:
    hidden = build_services(_with_crypto(settings, clear_names=False))
    yield _repo(hidden)
    hidden.store.engine.dispose()


def test_names_are_clear_by_default(repo: Repository) -> None:
    seed(repo, WORLD)
    assert {"dupont", "helene", "Hélène"} <= set(_index_text(repo.services.store.engine))
    assert idset(repo, "Patient", "name=dup") == {"pa"}


NAME_CASES = [
    ("name=dupont", {"pa"}),
    ("family=DUPONT", {"pa"}),
    ("given=helene", {"pa"}),
    ("name=Hélène Dupont", {"pa"}),  # the whole name, normalised
    ("name:exact=Dupont", {"pa"}),
    ("name:exact=dupont", set()),
    ("name=dup", set()),  # no prefix match on hashes
    ("phonetic=martin", {"pb"}),
]


def test_hidden_names_match_whole_normalised_names_only(hidden_names: Repository) -> None:
    seed(hidden_names, WORLD)
    assert _leaks(hidden_names.services.store.engine, ("upont", "elene", "Martin")) == set()
    failures = [
        (q, got, w) for q, w in NAME_CASES if (got := idset(hidden_names, "Patient", q)) != w
    ]
    assert not failures
    assert idset(hidden_names, "Practitioner", "name=house") == {"dr"}
    assert idset(hidden_names, "Observation", "subject:Patient.name=dupont") == {"o1"}


def test_substring_and_sort_on_hidden_names_are_400s(hidden_names: Repository) -> None:
    seed(hidden_names, WORLD)
    with pytest.raises(UnsupportedParameter, match="substring") as caught:
        idset(hidden_names, "Patient", "name:contains=pon")
    assert caught.value.expression == ("name:contains",)
    with pytest.raises(BadRequest, match="'family'") as sorted_:
        idset(hidden_names, "Patient", "_sort=family")
    assert sorted_.value.expression == ("_sort",)


def test_the_reindex_command_rebuilds_every_type(
    repo: Repository, settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    from typer.testing import CliRunner

    from gateway.cli import app

    seed(repo, WORLD)
    monkeypatch.setenv("GATEWAY_ENV", "dev")
    monkeypatch.setenv("GATEWAY_DATA_DIR", str(settings.data_dir))
    monkeypatch.setenv("GATEWAY_SECRET_KEY", "cd" * 32)
    monkeypatch.setenv("GATEWAY_CRYPTO__INDEX_KEY", "ef" * 32)
    assert settings.crypto.kek is not None
    monkeypatch.setenv("GATEWAY_CRYPTO__KEK", settings.crypto.kek.get_secret_value())
    if settings.database_url:
        monkeypatch.setenv("GATEWAY_DATABASE_URL", settings.database_url)
    bad = CliRunner().invoke(app, ["reindex", "--type", "Nope"])
    assert bad.exit_code == 2 and "unknown resource type" in bad.output
    done = CliRunner().invoke(app, ["reindex", "--batch", "2"])
    assert done.exit_code == 0, done.output
    assert "reindexed 5 resources" in done.output
    assert idset(repo, "Patient", f"identifier={INS}") == set()  # the old key no longer
    assert _leaks(repo.services.store.engine, MARKERS) == set()
