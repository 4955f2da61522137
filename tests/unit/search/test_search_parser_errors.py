"""The query grammar: every error names its parameter; lenient handling; limits; escaping."""

from __future__ import annotations

from urllib.parse import parse_qsl

import pytest

from gateway.errors import BadRequest, GatewayError, UnsupportedParameter
from gateway.search import SearchLimits, SearchRegistry, parse_search
from gateway.search.query import (
    Clause,
    SearchRequest,
)
from gateway.search.values import split_unescaped, unescape

UCUM = "http://unitsofmeasure.org"


def parse(
    registry: SearchRegistry, rtype: str | None, query: str, **kwargs: object
) -> SearchRequest:
    return parse_search(rtype, parse_qsl(query, keep_blank_values=True), registry, **kwargs)  # type: ignore[arg-type]


def clause(registry: SearchRegistry, rtype: str, query: str) -> Clause:
    request = parse(registry, rtype, query)
    assert len(request.criteria) == 1
    c = request.criteria[0]
    assert isinstance(c, Clause)
    return c


def us(iso: str) -> int:
    from datetime import datetime

    dt = datetime.fromisoformat(iso)
    return int(dt.timestamp()) * 1_000_000 + dt.microsecond


# --- errors: each names the parameter as written -----------------------------------------

UNSUPPORTED = [
    ("Observation", "foo=bar", "foo", "GW-1100"),
    ("Observation", "code:in=http://vs", "code:in", "GW-1101"),
    ("Observation", "code:below=http://loinc.org|1", "code:below", "GW-1101"),
    ("Observation", "code:exact=x", "code:exact", "GW-1101"),
    ("Patient", "name:text=x", "name:text", "GW-1101"),
    ("Patient", "birthdate:exact=2020", "birthdate:exact", "GW-1101"),
    ("Observation", "code:of-type=a|b|c", "code:of-type", "GW-1101"),
    ("Observation", "subject:Organization=1", "subject:Organization", "GW-1101"),
    ("Observation", "subject:below=x", "subject:below", "GW-1101"),
    ("Observation", "code-value-quantity=a$5", "code-value-quantity", "GW-1100"),
    ("Patient", "_text=x", "_text", "GW-1100"),
    ("Patient", "_content=x", "_content", "GW-1100"),
    ("Patient", "_query=x", "_query", "GW-1100"),
    ("Patient", "_filter=name eq x", "_filter", "GW-1100"),
    ("Patient", "_containedType=contained", "_containedType", "GW-1100"),
    ("Location", "near=1|2|3|km", "near", "GW-1100"),
    ("Observation", "subject.organization.name=x", "subject.organization.name", "GW-1105"),
    ("Observation", "code.name=x", "code.name", "GW-1105"),
    ("Observation", "subject:Patient.nope=x", "subject:Patient.nope", "GW-1100"),
    (
        "Patient",
        "_has:Observation:patient:_has:Encounter:patient:status=x",
        "_has:Observation:patient:_has:Encounter:patient:status",
        "GW-1105",
    ),
    ("Patient", "_has:Nope:patient:code=x", "_has:Nope:patient:code", "GW-1105"),
    ("Patient", "_has:Observation:code:code=x", "_has:Observation:code:code", "GW-1105"),
    ("Patient", "_has:Organization:partof:name=x", "_has:Organization:partof:name", "GW-1105"),
    ("Patient", "_has:Observation:patient:nope=x", "_has:Observation:patient:nope", "GW-1100"),
    ("Patient", "_type=Patient", "_type", "GW-1100"),
    ("Patient", "_sort=nope", "_sort", "GW-1100"),
    ("Patient", "_sort=name:exact", "_sort", "GW-1101"),
    ("Patient", "_include:nope=Patient:organization", "_include:nope", "GW-1101"),
    ("Patient", "_id:nope=1", "_id:nope", "GW-1101"),
    ("Patient", "_count:x=1", "_count:x", "GW-1100"),
    (None, "code=1", "code", "GW-1100"),
]


@pytest.mark.parametrize(
    ("rtype", "query", "name", "code"), UNSUPPORTED, ids=[u[1] for u in UNSUPPORTED]
)
def test_unsupported_names_the_parameter(
    registry: SearchRegistry, rtype: str | None, query: str, name: str, code: str
) -> None:
    with pytest.raises(UnsupportedParameter) as info:
        parse(registry, rtype, query)
    assert info.value.expression == (name,)
    assert info.value.code == code
    assert info.value.status == 400
    outcome = info.value.outcome()
    assert outcome["issue"][0]["code"] == "not-supported"
    assert outcome["issue"][0]["expression"] == [name]


@pytest.mark.parametrize(
    ("rtype", "query", "name", "code"), UNSUPPORTED, ids=[u[1] for u in UNSUPPORTED]
)
def test_lenient_ignores_and_reports(
    registry: SearchRegistry, rtype: str | None, query: str, name: str, code: str
) -> None:
    request = parse(registry, rtype, query + "&_count=5", lenient=True)
    assert [i.name for i in request.ignored] == [name]
    assert request.count == 5
    issues = request.ignored_outcome_issues()
    assert issues[0].expression == (name,)
    assert issues[0].severity == "warning"


# A served parameter whose value the gateway cannot honour: never ignored, since dropping
# a filter's value would widen the results (https://hl7.org/fhir/R4/search.html#errors
# lets lenient handling skip unknown *parameters* only).
UNSERVED_VALUES = [
    ("Patient", "_list=$current-allergies", "_list", "GW-1102"),
    ("Patient", "_contained=true", "_contained", "GW-1102"),
]


@pytest.mark.parametrize(
    ("rtype", "query", "name", "code"), UNSERVED_VALUES, ids=[u[1] for u in UNSERVED_VALUES]
)
@pytest.mark.parametrize("lenient", [False, True])
def test_unserved_value_is_400_in_both_modes(
    registry: SearchRegistry, rtype: str | None, query: str, name: str, code: str, lenient: bool
) -> None:
    with pytest.raises(UnsupportedParameter) as info:
        parse(registry, rtype, query, lenient=lenient)
    assert info.value.expression == (name,)
    assert info.value.code == code


def test_lenient_warning_says_the_results_are_not_narrowed(registry: SearchRegistry) -> None:
    request = parse(registry, "Observation", "code:nott=x&_sort=nope&_count=5", lenient=True)
    by_name = {i.expression[0]: i.diagnostics for i in request.ignored_outcome_issues()}
    assert "was ignored" in by_name["code:nott"]
    assert "not filtered by it" in by_name["code:nott"]
    assert "not sorted by it" in by_name["_sort"]


INVALID = [
    ("Observation", "date=xx2020", "date", "GW-1103"),
    ("Observation", "date=xx2024", "date", "GW-1103"),
    ("Observation", "value-quantity=zz5", "value-quantity", "GW-1103"),
    ("Observation", "value-quantity=gt1OO", "value-quantity", "GW-1103"),
    ("RiskAssessment", "probability=xx5", "probability", "GW-1103"),
    ("Observation", "subject:Patient.birthdate=xx2020", "subject:Patient.birthdate", "GW-1103"),
    ("Patient", "_has:Observation:patient:date=xx2020", "_has:Observation:patient:date", "GW-1103"),
    ("Observation", "date=2020-13", "date", "GW-1103"),
    ("Observation", "date=ge", "date", "GW-1103"),
    ("Observation", "date=2020-01-01T", "date", "GW-1103"),
    ("RiskAssessment", "probability=abc", "probability", "GW-1103"),
    ("RiskAssessment", "probability=1_000", "probability", "GW-1103"),
    ("RiskAssessment", "probability=NaN", "probability", "GW-1103"),
    ("Observation", "value-quantity=5|mg", "value-quantity", "GW-1103"),
    ("Observation", "value-quantity=5|a|b|c", "value-quantity", "GW-1103"),
    ("Observation", "code=|", "code", "GW-1103"),
    ("Observation", "code=a|b|c", "code", "GW-1103"),
    ("Observation", "code=a,,b", "code", "GW-1103"),
    ("Observation", "code=a,", "code", "GW-1103"),
    ("Observation", "code:missing=yes", "code:missing", "GW-1103"),
    ("Patient", "identifier:of-type=a|b", "identifier:of-type", "GW-1103"),
    ("Observation", "subject=Nope/1", "subject", "GW-1103"),
    ("Observation", "subject=Organization/1", "subject", "GW-1103"),
    ("Observation", "subject:Patient=Group/1", "subject:Patient", "GW-1103"),
    ("Observation", "subject=a b", "subject", "GW-1103"),
    ("Observation", "subject:Patient.birthdate=notadate", "subject:Patient.birthdate", "GW-1103"),
    ("Patient", "_has:Observation=x", "_has:Observation", "GW-1103"),
    ("Patient", "_list=a b", "_list", "GW-1103"),
    ("Patient", "_count=-1", "_count", "GW-1106"),
    ("Patient", "_count=ten", "_count", "GW-1106"),
    ("Patient", "_count=1&_count=2", "_count", "GW-1106"),
    ("Patient", "_sort=name&_sort=gender", "_sort", "GW-1106"),
    ("Patient", "_sort=-", "_sort", "GW-1106"),
    ("Patient", "_total=all", "_total", "GW-1106"),
    ("Patient", "_summary=yes", "_summary", "GW-1106"),
    ("Patient", "_pretty=yes", "_pretty", "GW-1106"),
    ("Patient", "_contained=maybe", "_contained", "GW-1106"),
    ("Patient", "_elements=nope", "_elements", "GW-1106"),
    ("Patient", "_elements=Observation.code", "_elements", "GW-1106"),
    ("Patient", "_elements=name.given", "_elements", "GW-1106"),
    ("Patient", "_include=Observation:subject", "_include", "GW-1106"),
    ("Patient", "_include=Patient", "_include", "GW-1106"),
    ("Patient", "_include=Nope:x", "_include", "GW-1106"),
    ("Patient", "_include=Patient:name", "_include", "GW-1106"),
    ("Patient", "_include=Patient:general-practitioner:Nope", "_include", "GW-1106"),
    ("Patient", "_include=Patient:general-practitioner:Device", "_include", "GW-1106"),
    ("Patient", "_include=Patient:*:Device", "_include", "GW-1106"),
    ("Patient", "_revinclude=Organization:partof", "_revinclude", "GW-1106"),
    (None, "_type=Nope", "_type", "GW-1107"),
]


@pytest.mark.parametrize(("rtype", "query", "name", "code"), INVALID, ids=[i[1] for i in INVALID])
@pytest.mark.parametrize("lenient", [False, True])
def test_invalid_is_400_in_both_modes(
    registry: SearchRegistry, rtype: str | None, query: str, name: str, code: str, lenient: bool
) -> None:
    with pytest.raises(BadRequest) as info:
        parse(registry, rtype, query, lenient=lenient)
    assert not isinstance(info.value, UnsupportedParameter)
    assert info.value.expression == (name,)
    assert info.value.code == code
    assert info.value.outcome()["issue"][0]["code"] == "invalid"


def test_unknown_resource_type_and_compartment(registry: SearchRegistry) -> None:
    with pytest.raises(BadRequest) as info:
        parse(registry, "Nope", "")
    assert info.value.code == "GW-1107"
    with pytest.raises(BadRequest, match="not in the Patient compartment"):
        parse(registry, "Organization", "", compartment=("Patient", "p1"))
    with pytest.raises(BadRequest, match="not a supported compartment"):
        parse(registry, "Observation", "", compartment=("Device", "d1"))
    with pytest.raises(BadRequest, match="not a valid Patient id"):
        parse(registry, "Observation", "", compartment=("Patient", "a/b"))
    with pytest.raises(BadRequest, match="not in the Patient compartment"):
        parse(registry, None, "_type=Organization", compartment=("Patient", "p1"))


# --- limits -----------------------------------------------------------------------------


def test_limit_on_parameters(registry: SearchRegistry) -> None:
    limits = SearchLimits(max_params=3)
    parse(registry, "Patient", "gender=a&gender=b&gender=c", limits=limits)
    with pytest.raises(BadRequest) as info:
        parse(registry, "Patient", "gender=a&gender=b&gender=c&gender=d", limits=limits)
    assert (info.value.code, info.value.expression) == ("GW-1104", ())


def test_default_limit_is_100_parameters(registry: SearchRegistry) -> None:
    parse_search("Patient", [("gender", "x")] * 100, registry)
    with pytest.raises(BadRequest, match="101 parameters; the limit is 100"):
        parse_search("Patient", [("gender", "x")] * 101, registry)


def test_limit_on_or_values(registry: SearchRegistry) -> None:
    parse_search("Patient", [("gender", ",".join(["x"] * 100))], registry)
    with pytest.raises(BadRequest) as info:
        parse_search("Patient", [("gender", ",".join(["x"] * 101))], registry)
    assert (info.value.code, info.value.expression) == ("GW-1104", ("gender",))


def test_limit_on_includes(registry: SearchRegistry) -> None:
    query = "&".join(["_include=Observation:subject"] * 3)
    parse(registry, "Observation", query, limits=SearchLimits(max_includes=3))
    with pytest.raises(BadRequest) as info:
        parse(
            registry,
            "Observation",
            query + "&_revinclude=Provenance:target",
            limits=SearchLimits(max_includes=3),
        )
    assert info.value.code == "GW-1104"


def test_limit_on_sort_keys_and_value_length(registry: SearchRegistry) -> None:
    with pytest.raises(BadRequest, match="_sort has 6 keys"):
        parse(registry, "Patient", "_sort=name,gender,birthdate,_id,_lastUpdated,family")
    with pytest.raises(BadRequest) as info:
        parse_search("Patient", [("name", "x" * 5000)], registry)
    assert info.value.code == "GW-1104"


def test_limits_from_settings() -> None:
    from gateway.config import LimitSettings

    limits = SearchLimits.from_settings(LimitSettings(default_count=20, max_count=300))
    assert (limits.default_count, limits.max_count) == (20, 300)


# --- escaping -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "sep", "parts"),
    [
        ("a,b", ",", ["a", "b"]),
        ("a\\,b,c", ",", ["a\\,b", "c"]),
        ("a\\\\,b", ",", ["a\\\\", "b"]),
        ("", ",", [""]),
        ("a,", ",", ["a", ""]),
        ("x\\", ",", ["x\\"]),
    ],
)
def test_split_unescaped(text: str, sep: str, parts: list[str]) -> None:
    assert split_unescaped(text, sep) == parts


@pytest.mark.parametrize(
    ("text", "plain"),
    [
        ("a\\,b", "a,b"),
        ("a\\|b", "a|b"),
        ("a\\$b", "a$b"),
        ("a\\\\b", "a\\b"),
        ("a\\nb", "a\\nb"),
        ("a\\", "a\\"),
    ],
)
def test_unescape(text: str, plain: str) -> None:
    assert unescape(text) == plain


def test_errors_are_gateway_errors() -> None:
    assert issubclass(UnsupportedParameter, GatewayError)


def test_a_control_character_is_never_echoed_raw(registry: SearchRegistry) -> None:
    """A %00 or %1B sent in a parameter's name or value reaches diagnostics escaped."""
    with pytest.raises(GatewayError) as info:
        parse(registry, "Patient", "_count=1%1B%5B2J")
    assert "\x1b" not in info.value.diagnostics and "\\x1b" in info.value.diagnostics
    with pytest.raises(GatewayError) as named:
        parse(registry, "Patient", "fo%00o=1")
    assert "\x00" not in named.value.diagnostics + str(named.value.expression)
