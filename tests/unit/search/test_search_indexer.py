"""The record's indexer: extraction once per write, column-served parameters dropped,
absolute references local only under this server's base."""

from __future__ import annotations

from typing import Any

from gateway.record.indexing import SearchIndexer
from gateway.search import SearchRegistry, extract

BASE = "https://gw.example/fhir"


def _obs(subject: str) -> dict[str, Any]:
    return {
        "resourceType": "Observation",
        "id": "o1",
        "meta": {"lastUpdated": "2024-01-01T00:00:00Z"},
        "status": "final",
        "code": {"text": "x"},
        "subject": {"reference": subject},
    }


def test_id_and_last_updated_are_not_indexed(registry: SearchRegistry) -> None:
    rows = SearchIndexer(registry).rows(_obs("Patient/p"))
    assert not [t for t in rows.tokens if t.param == "_id"]
    assert not [d for d in rows.dates if d.param == "_lastUpdated"]
    full = extract(_obs("Patient/p"), registry)
    assert [t for t in full.tokens if t.param == "_id"]  # the extractor itself has them


def test_only_references_under_our_base_are_local(registry: SearchRegistry) -> None:
    indexer = SearchIndexer(registry, base_url=BASE + "/")
    ours = indexer.rows(_obs(f"{BASE}/Patient/p"))
    subject = next(r for r in ours.references if r.param == "subject")
    assert (subject.target_type, subject.target_id) == ("Patient", "p")
    foreign = indexer.rows(_obs("http://elsewhere.example/fhir/Patient/p"))
    subject = next(r for r in foreign.references if r.param == "subject")
    assert (subject.target_type, subject.target_id, subject.url) == (
        "Patient",
        None,
        "http://elsewhere.example/fhir/Patient/p",
    )
    assert indexer.patient_of(_obs("http://elsewhere.example/fhir/Patient/p")) is None
    assert SearchIndexer(registry).patient_of(_obs(f"{BASE}/Patient/p")) is None
    assert indexer.patient_of(_obs(f"{BASE}/Patient/p")) == "p"


def test_patient_of_then_rows_extracts_once_and_agrees(registry: SearchRegistry) -> None:
    indexer = SearchIndexer(registry)
    resource = _obs("Patient/p")
    assert indexer.patient_of(resource) == "p"
    first = indexer.rows(resource)
    again = indexer.rows(resource)  # the cached rows are handed out once only
    assert first == again and first is not again
    other = _obs("Patient/q")
    assert indexer.patient_of(other) == "q"
    assert (
        next(r.target_id for r in indexer.rows(resource).references if r.param == "subject") == "p"
    )
