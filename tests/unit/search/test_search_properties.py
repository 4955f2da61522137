"""Property tests: no input crashes the query parser or index extraction."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from gateway.errors import GatewayError
from gateway.search import SearchRegistry, compartments_of, extract, parse_search, patient_of

# The registry fixture is session-scoped; hypothesis tolerates it.
SETTINGS = settings(
    max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)

TYPES = [
    "Patient",
    "Observation",
    "Encounter",
    "DocumentReference",
    "MedicationRequest",
    "List",
    "CarePlan",
]
NAMES = [
    "name",
    "family",
    "birthdate",
    "gender",
    "identifier",
    "code",
    "subject",
    "patient",
    "date",
    "value-quantity",
    "status",
    "_id",
    "_lastUpdated",
    "_tag",
    "_profile",
    "_security",
    "_source",
    "_sort",
    "_count",
    "_total",
    "_summary",
    "_elements",
    "_include",
    "_revinclude",
    "_has",
    "_list",
    "_type",
    "_contained",
    "_format",
    "_pretty",
    "_text",
    "url",
    "isArchived",
    "period-start",
    "probability",
    "encounter",
    "general-practitioner",
    "component-value-quantity",
    "x",
]
MODIFIERS = [
    "",
    ":missing",
    ":exact",
    ":contains",
    ":not",
    ":text",
    ":of-type",
    ":identifier",
    ":Patient",
    ":below",
    ":above",
    ":in",
    ":iterate",
    ":Observation",
    ":x",
]
PIECES = [
    "eq",
    "ge",
    "ap",
    "xx",
    "2020",
    "-01",
    "-13",
    "T10:00",
    ":00Z",
    "+01:00",
    "|",
    ",",
    "\\",
    "$",
    "5.4",
    "1e2",
    "mg",
    "http://loinc.org",
    "Patient/",
    "p1",
    ":",
    ".",
    "*",
    "-",
    "é",
    "true",
    "Observation:subject",
    "_history/1",
    " ",
    "%",
    "\x00",
]


def _names() -> st.SearchStrategy[str]:
    structured = st.builds(
        lambda a, m, chain, m2: a + m + ("." + chain + m2 if chain else ""),
        st.sampled_from(NAMES),
        st.sampled_from(MODIFIERS),
        st.one_of(st.just(""), st.sampled_from(NAMES)),
        st.sampled_from(MODIFIERS),
    )
    has = st.builds(
        lambda t, r, n: f"_has:{t}:{r}:{n}",
        st.sampled_from([*TYPES, "Nope", ""]),
        st.sampled_from(NAMES),
        st.sampled_from(NAMES),
    )
    return st.one_of(structured, has, st.text(max_size=30))


def _values() -> st.SearchStrategy[str]:
    return st.one_of(
        st.lists(st.sampled_from(PIECES), max_size=8).map("".join),
        st.text(max_size=40),
    )


@SETTINGS
@given(
    rtype=st.one_of(st.none(), st.sampled_from([*TYPES, "Nope"])),
    params=st.lists(st.tuples(_names(), _values()), max_size=8),
    lenient=st.booleans(),
    compartment=st.one_of(
        st.none(),
        st.tuples(st.sampled_from(["Patient", "Device"]), st.sampled_from(["p1", "a b", ""])),
    ),
)
def test_query_parser_raises_only_gateway_errors(
    registry: SearchRegistry,
    rtype: str | None,
    params: list[tuple[str, str]],
    lenient: bool,
    compartment: tuple[str, str] | None,
) -> None:
    error: GatewayError | None = None
    try:
        request = parse_search(rtype, params, registry, lenient=lenient, compartment=compartment)
    except GatewayError as exc:
        error = exc
    if error is not None:
        assert 400 <= error.status < 500
        assert error.outcome()["issue"]
        return
    assert len(request.criteria) + len(request.ignored) <= len(params)
    if not lenient:
        assert all(i.reason == "empty value" for i in request.ignored)


def _json_values(keys: list[str]) -> st.SearchStrategy[Any]:
    scalars = st.one_of(
        st.none(),
        st.booleans(),
        st.integers(min_value=-(10**20), max_value=10**20),
        st.floats(allow_nan=True, allow_infinity=True),
        st.decimals(allow_nan=True, allow_infinity=True),
        st.sampled_from(
            [
                "2020",
                "2020-02-30",
                "2020-01-01T10:00:00Z",
                "Patient/p1",
                "#c",
                "urn:uuid:1",
                "http://x/fhir/Patient/p2",
                "http://unitsofmeasure.org",
                "mg",
                "Cel",
                "",
                "é",
            ]
        ),
        st.text(max_size=10),
    )
    key = st.one_of(st.sampled_from(keys), st.text(max_size=8))
    return st.recursive(
        scalars,
        lambda children: st.one_of(
            st.lists(children, max_size=3),
            st.dictionaries(key, children, max_size=5),
        ),
        max_leaves=25,
    )


KEYS = [
    "subject",
    "reference",
    "type",
    "identifier",
    "system",
    "value",
    "code",
    "coding",
    "display",
    "text",
    "family",
    "given",
    "name",
    "line",
    "city",
    "start",
    "end",
    "event",
    "repeat",
    "boundsPeriod",
    "valueQuantity",
    "valueCodeableConcept",
    "valueString",
    "valuePeriod",
    "unit",
    "low",
    "high",
    "effectiveDateTime",
    "effectivePeriod",
    "component",
    "extension",
    "url",
    "valueBoolean",
    "meta",
    "tag",
    "profile",
    "lastUpdated",
    "telecom",
    "performer",
    "contained",
    "resourceType",
    "id",
    "period",
    "birthDate",
    "address",
    "entry",
    "resource",
    "content",
    "attachment",
    "context",
    "dosageInstruction",
    "timing",
    "activity",
    "detail",
    "scheduledTiming",
]


@SETTINGS
@given(
    rtype=st.sampled_from([*TYPES, "Bundle", "Nope"]),
    body=st.dictionaries(st.sampled_from(KEYS), _json_values(KEYS), max_size=10),
)
def test_extraction_never_crashes(
    registry: SearchRegistry, rtype: str, body: dict[str, Any]
) -> None:
    resource = {**body, "resourceType": rtype}
    rows = extract(resource, registry)
    for row in rows.quantities:
        assert isinstance(row.value, float)
    for date in rows.dates:
        assert date.low < date.high
    owner = patient_of(resource, registry, rows)
    assert owner is None or isinstance(owner, str)
    assert isinstance(compartments_of(resource, registry), dict)


def test_decimal_strategy_values_are_handled(registry: SearchRegistry) -> None:
    resource = {"resourceType": "Observation", "valueQuantity": {"value": Decimal("sNaN")}}
    assert extract(resource, registry).quantities == []
