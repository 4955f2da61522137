"""The public surface and the pure helpers the pipeline relies on."""

from __future__ import annotations

import orjson

import gateway.ingest as ingest
from gateway.ingest import rebind, transaction
from gateway.ingest.hl7v2 import parse_hl7v2
from gateway.ingest.result import PatientKey, identifier_query
from gateway.normalise import Terminology

from .support import EHPAD, PHARMACY, hl7_bytes


def test_exported_members() -> None:
    assert sorted(ingest.__all__) == [
        "AckCode",
        "CsvLocation",
        "CsvMapping",
        "CsvParseResult",
        "CsvRow",
        "Entry",
        "Hl7Location",
        "IngestIssue",
        "MergeInstruction",
        "MessageHeader",
        "ParseResult",
        "PatientKey",
        "PatientRef",
        "PatientTraits",
        "RejectedRow",
        "SourceConfig",
        "Terminology",
        "build_ack",
        "load_mappings",
        "parse_csv",
        "parse_hl7v2",
        "rebind",
        "transaction",
    ]
    for name in ingest.__all__:
        assert getattr(ingest, name) is not None


def test_identifier_query_escapes_and_encodes() -> None:
    assert identifier_query("urn:oid:1.2.250.1.213.1.4.8", "240037505612377") == (
        "identifier=urn:oid:1.2.250.1.213.1.4.8|240037505612377"
    )
    assert identifier_query("https://x.fr/sid/a b", "A|B,C$D\\E F&G") == (
        "identifier=https://x.fr/sid/a%20b|A%5C%7CB%5C%2CC%5C%24D%5C%5CE%20F%26G"
    )
    key = PatientKey("https://x.fr/patient", "R 1", "local")
    assert key.conditional_reference == "Patient?identifier=https://x.fr/patient|R%201"


def test_rebind_points_to_the_matched_patient(terminology: Terminology) -> None:
    result = parse_hl7v2(hl7_bytes("fr-rds-o13-dispensation-cip13.hl7"), PHARMACY, terminology)
    assert result.patient is not None
    bound = rebind(result, {result.patient.reference: "Patient/123"})
    assert "Patient" not in [e.resource_type for e in bound.entries]
    dispense = next(e.resource for e in bound.entries if e.resource_type == "MedicationDispense")
    assert dispense["subject"] == {"reference": "Patient/123"}
    assert bound.patient is not None
    assert bound.patient.reference == "Patient/123"
    assert not bound.patient.in_bundle
    assert len(bound.entries) == len(result.entries) - 1


def test_rebind_leaves_the_result_as_it_was_and_shares_what_it_does_not_change(
    terminology: Terminology,
) -> None:
    result = parse_hl7v2(hl7_bytes("fr-rds-o13-dispensation-cip13.hl7"), PHARMACY, terminology)
    assert result.patient is not None
    before = [orjson.dumps(e.resource) for e in result.entries]
    bound = rebind(result, {result.patient.reference: "Patient/123"})
    assert [orjson.dumps(e.resource) for e in result.entries] == before, "input untouched"
    kept = {e.full_url: e.resource for e in result.entries}
    for entry in bound.entries:
        original = kept[entry.full_url]
        if result.patient.reference in orjson.dumps(original).decode():
            assert entry.resource is not original, "a changed resource is a new object"
            assert result.patient.reference not in orjson.dumps(entry.resource).decode()
        else:
            assert entry.resource is original, "nothing to change: shared, not copied"


def test_transaction_merges_shared_objects(terminology: Terminology) -> None:
    first = parse_hl7v2(hl7_bytes("fr-ras-o17-administration-ucd.hl7"), EHPAD, terminology)
    second = parse_hl7v2(hl7_bytes("fr-oru-r01-constantes-ehpad.hl7"), EHPAD, terminology)
    bundle = transaction([*first.entries, *second.entries])
    urls = [e["fullUrl"] for e in bundle["entry"]]
    assert len(urls) == len(set(urls))
    # Same resident, same nurse, same EHPAD: one Patient, Practitioner and Organization.
    types = [e["resource"]["resourceType"] for e in bundle["entry"]]
    for shared in ("Patient", "Practitioner", "Organization"):
        assert types.count(shared) == 1
    # Two roles: the administering nurse (profession 60) and the observer (no profession).
    assert types.count("PractitionerRole") == 2
    assert bundle["type"] == "transaction"
    assert all(e["request"]["method"] == "POST" for e in bundle["entry"])
