"""The conditional-create lock key of the intake's identifier lookup (pure part)."""

from __future__ import annotations

from urllib.parse import parse_qsl, urlencode

from hypothesis import given
from hypothesis import strategies as st

from gateway.fhir.references import iter_reference_holders
from gateway.ingest.result import Entry
from gateway.intake.known import _conditional_references, _identifier, _lock_key

_TEXT = st.text(st.characters(codec="utf-8"), min_size=1, max_size=20)


@given(system=_TEXT, value=_TEXT)
def test_lock_key_is_the_one_a_conditional_create_takes(system: str, value: str) -> None:
    """The key must equal :func:`gateway.rest.type_level.single_match`'s (``urlencode``
    of the sorted criteria), or two writers of one business object would not serialise."""
    criteria = urlencode([("identifier", f"{system}|{value}")])
    entry = Entry("urn:uuid:1", {"resourceType": "Observation"}, if_none_exist=criteria)
    found = _identifier(entry)
    pairs = parse_qsl(criteria, keep_blank_values=True)
    if found is not None:
        assert _lock_key("Observation", *found) == f"Observation?{urlencode(sorted(pairs))}"
        assert found == tuple(pairs[0][1].partition("|")[::2])


def test_lock_key_of_a_plain_identifier() -> None:
    entry = Entry(
        "urn:uuid:1",
        {"resourceType": "Observation"},
        if_none_exist="identifier=urn:oid:1.2.250.1|B-1/2 x",
    )
    found = _identifier(entry)
    assert found == ("urn:oid:1.2.250.1", "B-1/2 x")
    assert (
        _lock_key("Observation", *found)
        == "Observation?identifier=urn%3Aoid%3A1.2.250.1%7CB-1%2F2+x"
    )


_JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.sampled_from(["a", "b?", "Patient?x=1"]),
    lambda inner: (
        st.lists(inner, max_size=3)
        | st.dictionaries(st.sampled_from(["reference", "subject", "item", "x"]), inner, max_size=3)
    ),
    max_leaves=20,
)


@given(resources=st.lists(st.dictionaries(st.sampled_from(["reference", "a", "b"]), _JSON)))
def test_conditional_references_are_the_holders_with_a_question_mark(
    resources: list[dict[str, object]],
) -> None:
    """The walk of :mod:`gateway.intake.known` finds what ``iter_reference_holders`` does."""
    entries = [Entry(f"urn:uuid:{i}", r) for i, r in enumerate(resources)]
    expected = {
        h["reference"]
        for r in resources
        for h in iter_reference_holders(r)
        if "?" in h["reference"]
    }
    assert _conditional_references(entries) == expected
