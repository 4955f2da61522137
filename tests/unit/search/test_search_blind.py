"""Which index rows :class:`gateway.search.BlindIndex` hashes, on extracted rows."""

from __future__ import annotations

from typing import Any

from gateway.search import BlindIndex, SearchRegistry, extract

INS = "urn:oid:1.2.250.1.213.1.4.8"


def _mark(value: str) -> str:
    return f"#{value}#"


def _blind(registry: SearchRegistry, *, names: bool = False) -> BlindIndex:
    return BlindIndex(registry, identifiers=_mark, names=(lambda v: f"@{v}@") if names else None)


PATIENT: dict[str, Any] = {
    "resourceType": "Patient",
    "identifier": [
        {"system": INS, "value": "1", "type": {"coding": [{"system": "urn:t", "code": "NI"}]}}
    ],
    "name": [{"family": "Dupont", "given": ["Jean"]}],
    "telecom": [{"system": "phone", "value": "0102"}],
    "generalPractitioner": [{"identifier": {"system": "urn:rpps", "value": "8"}}],
}


def test_identifier_values_are_hashed_and_everything_else_kept(registry: SearchRegistry) -> None:
    rows = extract(PATIENT, registry)
    _blind(registry).apply("Patient", rows)
    tokens = {(t.param, t.system, t.code) for t in rows.tokens}
    assert ("identifier", INS, "#1#") in tokens
    assert ("identifier:of-type", "urn:t", "NI|#1#") in tokens
    assert ("general-practitioner:identifier", "urn:rpps", "#8#") in tokens
    assert ("telecom", None, "0102") in tokens  # contact points: not identifiers
    assert {s.norm for s in rows.strings if s.param == "family"} == {"dupont"}


def test_hidden_names_cover_human_name_parts(registry: SearchRegistry) -> None:
    rows = extract(PATIENT, registry)
    blind = _blind(registry, names=True)
    blind.apply("Patient", rows)
    by_param = {(s.param, s.norm, s.exact) for s in rows.strings}
    assert ("family", "@dupont@", "@Dupont@") in by_param
    assert ("given", "@jean@", "@Jean@") in by_param
    assert ("name", "@jean dupont@", "@Jean Dupont@") in by_param
    assert {p for p in ("name", "family", "given", "phonetic") if blind.is_name("Patient", p)} == {
        "name",
        "family",
        "given",
        "phonetic",
    }
    assert not blind.is_name("Organization", "name")  # an organisation's name is not a person's
    assert blind.is_identifier("Patient", "identifier")
    assert not blind.is_identifier("Observation", "code")


def test_a_clear_blind_index_changes_nothing(registry: SearchRegistry) -> None:
    rows = extract(PATIENT, registry)
    before = (list(rows.tokens), list(rows.strings))
    BlindIndex.clear(registry).apply("Patient", rows)
    assert (rows.tokens, rows.strings) == before
