"""The public surface and the pure helpers the pipeline relies on."""

from __future__ import annotations

from typing import Any

import orjson
from hypothesis import given
from hypothesis import strategies as st

import gateway.ingest as ingest
from gateway.ingest import rebind, transaction
from gateway.ingest.hl7v2 import parse_hl7v2
from gateway.ingest.result import PatientKey, _rewrite, identifier_query
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


_TREE = st.recursive(
    st.none() | st.integers(-1000, 1000) | st.sampled_from(["urn:a", "urn:b", "other"]),
    lambda inner: (
        st.lists(inner, max_size=3)
        | st.dictionaries(st.sampled_from(["reference", "subject", "x"]), inner, max_size=3)
    ),
    max_leaves=20,
)


def _remapped(node: Any, mapping: dict[str, str]) -> Any:
    """The plain recursive definition: a deep copy with the mapped references swapped."""
    if isinstance(node, dict):
        return {
            k: mapping[v]
            if k == "reference" and isinstance(v, str) and v in mapping
            else _remapped(v, mapping)
            for k, v in node.items()
        }
    if isinstance(node, list):
        return [_remapped(v, mapping) for v in node]
    return node


def _shares_unchanged(before: Any, after: Any, mapping: dict[str, str]) -> bool:
    """Containers with nothing to remap are the same objects after the rewrite."""
    if _remapped(before, mapping) == before and isinstance(before, dict | list):
        return after is before
    if isinstance(before, dict):
        return all(_shares_unchanged(v, after[k], mapping) for k, v in before.items())
    if isinstance(before, list):
        return all(_shares_unchanged(v, a, mapping) for v, a in zip(before, after, strict=True))
    return True


@given(tree=_TREE, to=st.sampled_from(["Patient/1", "urn:b"]))
def test_rewrite_swaps_mapped_references_and_shares_the_rest(tree: Any, to: str) -> None:
    mapping = {"urn:a": to}
    snapshot = orjson.dumps(tree)
    out = _rewrite(tree, mapping)
    assert out == _remapped(tree, mapping)
    assert orjson.dumps(tree) == snapshot, "input untouched"
    assert _shares_unchanged(tree, out, mapping)
