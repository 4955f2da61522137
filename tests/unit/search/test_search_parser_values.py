"""The query grammar: values of every type, every modifier and prefix, chains, controls."""

from __future__ import annotations

from decimal import Decimal
from urllib.parse import parse_qsl
from zoneinfo import ZoneInfo

import pytest

from gateway.errors import BadRequest
from gateway.search import SearchLimits, SearchRegistry, parse_search
from gateway.search.query import (
    ChainClause,
    Clause,
    DateValue,
    HasClause,
    Include,
    ListClause,
    MissingValue,
    NumberValue,
    OfTypeValue,
    Prefix,
    QuantityValue,
    ReferenceValue,
    SearchRequest,
    SortKey,
    StringValue,
    TextValue,
    TokenValue,
    UriValue,
)

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


# --- values per type ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("1234-5", TokenValue(None, "1234-5")),
        ("http://loinc.org|1234-5", TokenValue("http://loinc.org", "1234-5")),
        ("|1234-5", TokenValue("", "1234-5")),
        ("http://loinc.org|", TokenValue("http://loinc.org", None)),
        ("a\\|b", TokenValue(None, "a|b")),
        ("urn:x\\,y|c\\$d", TokenValue("urn:x,y", "c$d")),
    ],
)
def test_token_values(registry: SearchRegistry, value: str, expected: TokenValue) -> None:
    c = parse_search("Observation", [("code", value)], registry).criteria[0]
    assert isinstance(c, Clause)
    assert c.values == (expected,)
    assert (c.param, c.type, c.modifier) == ("code", "token", None)


def test_token_or_values_and_repeated_and(registry: SearchRegistry) -> None:
    request = parse(registry, "Observation", "code=a,b&code=c")
    assert [list(c.values) for c in request.criteria] == [  # type: ignore[union-attr]
        [TokenValue(None, "a"), TokenValue(None, "b")],
        [TokenValue(None, "c")],
    ]


@pytest.mark.parametrize(
    ("query", "modifier", "values"),
    [
        ("code:not=a", "not", (TokenValue(None, "a"),)),
        ("code:text=Poids%20%C3%A0", "text", (TextValue("Poids à", "poids a"),)),
        ("code:missing=true", "missing", (MissingValue(True),)),
        ("code:missing=false", "missing", (MissingValue(False),)),
        ("identifier:of-type=http://t|MR|123", "of-type", (OfTypeValue("http://t", "MR", "123"),)),
    ],
)
def test_token_modifiers(
    registry: SearchRegistry, query: str, modifier: str, values: tuple[object, ...]
) -> None:
    rtype = "Patient" if query.startswith("identifier") else "Observation"
    c = clause(registry, rtype, query)
    assert c.modifier == modifier
    assert c.values == values


def test_of_type_value_code(registry: SearchRegistry) -> None:
    value = clause(registry, "Patient", "identifier:of-type=http://t|MR|123").values[0]
    assert isinstance(value, OfTypeValue)
    assert value.code == "MR|123"


@pytest.mark.parametrize(
    ("query", "modifier", "value"),
    [
        ("name=H%C3%A9l%C3%A8ne", None, StringValue("Hélène", "helene")),
        ("name:exact=Hélène", "exact", StringValue("Hélène", "helene")),
        ("name:contains=LEN", "contains", StringValue("LEN", "len")),
        ("name=a\\,b", None, StringValue("a,b", "a,b")),
    ],
)
def test_string_modifiers(
    registry: SearchRegistry, query: str, modifier: str | None, value: StringValue
) -> None:
    c = clause(registry, "Patient", query)
    assert (c.type, c.modifier, c.values) == ("string", modifier, (value,))


@pytest.mark.parametrize("prefix", ["eq", "ne", "gt", "lt", "ge", "le", "sa", "eb", "ap"])
def test_date_prefixes(registry: SearchRegistry, prefix: Prefix) -> None:
    c = clause(registry, "Observation", f"date={prefix}2020-03")
    assert c.values == (
        DateValue(
            prefix,
            us("2020-03-01T00:00:00+01:00"),
            us("2020-04-01T00:00:00+02:00"),
            f"{prefix}2020-03",
        ),
    )


@pytest.mark.parametrize(
    ("value", "low", "high"),
    [
        ("2020", "2020-01-01T00:00:00+01:00", "2021-01-01T00:00:00+01:00"),
        ("2020-06-15", "2020-06-15T00:00:00+02:00", "2020-06-16T00:00:00+02:00"),
        ("2020-06-15T10:00", "2020-06-15T10:00:00+02:00", "2020-06-15T10:01:00+02:00"),
        ("2020-06-15T10:00:00Z", "2020-06-15T10:00:00+00:00", "2020-06-15T10:00:01+00:00"),
        (
            "2020-06-15T10:00:00.5+05:00",
            "2020-06-15T10:00:00.5+05:00",
            "2020-06-15T10:00:00.6+05:00",
        ),
        # '+' decoded to a space by form encoding.
        ("2020-06-15T10:00:00 01:00", "2020-06-15T10:00:00+01:00", "2020-06-15T10:00:01+01:00"),
    ],
)
def test_date_precisions(registry: SearchRegistry, value: str, low: str, high: str) -> None:
    c = parse_search("Patient", [("birthdate", value)], registry).criteria[0]
    assert isinstance(c, Clause)
    (v,) = c.values
    assert isinstance(v, DateValue)
    assert (v.prefix, v.low, v.high) == ("eq", us(low), us(high))


def test_date_values_use_the_time_zone(registry: SearchRegistry) -> None:
    request = parse_search("Patient", [("birthdate", "2020")], registry, tz=ZoneInfo("UTC"))
    (v,) = request.criteria[0].values  # type: ignore[union-attr]
    assert (v.low, v.high) == (us("2020-01-01T00:00:00+00:00"), us("2021-01-01T00:00:00+00:00"))  # type: ignore[union-attr]


@pytest.mark.parametrize("prefix", ["eq", "ne", "gt", "lt", "ge", "le", "sa", "eb", "ap"])
def test_number_prefixes(registry: SearchRegistry, prefix: Prefix) -> None:
    c = clause(registry, "RiskAssessment", f"probability={prefix}0.25")
    assert c.values == (
        NumberValue(prefix, Decimal("0.25"), Decimal("0.245"), Decimal("0.255"), f"{prefix}0.25"),
    )


@pytest.mark.parametrize(
    ("value", "low", "high"),
    [
        ("100", "99.5", "100.5"),
        ("1e2", "50", "150"),
        ("-1.50", "-1.505", "-1.495"),
        ("0", "-0.5", "0.5"),
    ],
)
def test_number_precision(registry: SearchRegistry, value: str, low: str, high: str) -> None:
    (v,) = clause(registry, "RiskAssessment", f"probability={value}").values
    assert isinstance(v, NumberValue)
    assert (v.low, v.high) == (Decimal(low), Decimal(high))


@pytest.mark.parametrize("prefix", ["eq", "ne", "gt", "lt", "ge", "le", "sa", "eb", "ap"])
def test_quantity_prefixes(registry: SearchRegistry, prefix: str) -> None:
    (v,) = clause(registry, "Observation", f"value-quantity={prefix}5.4|{UCUM}|mg").values
    assert isinstance(v, QuantityValue)
    assert (v.prefix, v.value, v.low, v.high, v.system, v.code) == (
        prefix,
        Decimal("5.4"),
        Decimal("5.35"),
        Decimal("5.45"),
        UCUM,
        "mg",
    )
    assert v.canonical is not None
    assert (v.canonical.code, v.canonical.value) == ("g", Decimal("0.0054"))


@pytest.mark.parametrize(
    ("value", "system", "code", "canonical"),
    [
        ("5.4", None, None, False),
        ("5.4||mg", None, "mg", True),
        ("5.4|http://other|mg", "http://other", "mg", False),
        ("5.4|http://unitsofmeasure.org|{score}", UCUM, "{score}", False),
    ],
)
def test_quantity_forms(
    registry: SearchRegistry, value: str, system: str | None, code: str | None, canonical: bool
) -> None:
    (v,) = clause(registry, "Observation", f"value-quantity={value}").values
    assert isinstance(v, QuantityValue)
    assert (v.system, v.code, v.canonical is not None) == (system, code, canonical)


@pytest.mark.parametrize(
    ("query", "value", "target_type"),
    [
        ("subject=Patient/p1", ReferenceValue("Patient", "p1"), None),
        ("subject=Patient/p1/_history/2", ReferenceValue("Patient", "p1"), None),
        ("subject=p1", ReferenceValue(None, "p1"), None),
        ("specimen=s1", ReferenceValue("Specimen", "s1"), None),
        ("subject:Patient=p1", ReferenceValue("Patient", "p1"), "Patient"),
        ("subject:Group=Group/g", ReferenceValue("Group", "g"), "Group"),
        (
            "subject=https://x.fr/fhir/Patient/p1",
            ReferenceValue("Patient", "p1", "https://x.fr/fhir/Patient/p1"),
            None,
        ),
        ("subject=urn:uuid:abc", ReferenceValue(None, None, "urn:uuid:abc"), None),
    ],
)
def test_reference_values(
    registry: SearchRegistry, query: str, value: ReferenceValue, target_type: str | None
) -> None:
    c = clause(registry, "Observation", query)
    assert c.values == (value,)
    assert c.target_type == target_type
    assert c.modifier == ("type" if target_type else None)


def test_reference_identifier_and_missing(registry: SearchRegistry) -> None:
    c = clause(registry, "Observation", "subject:identifier=urn:oid:1.2.250.1.213.1.4.8|123")
    assert (c.modifier, c.values) == (
        "identifier",
        (TokenValue("urn:oid:1.2.250.1.213.1.4.8", "123"),),
    )
    c = clause(registry, "Observation", "subject:missing=true")
    assert (c.modifier, c.values) == ("missing", (MissingValue(True),))


def test_canonical_reference_value(registry: SearchRegistry) -> None:
    c = clause(registry, "QuestionnaireResponse", "questionnaire=http://x/Questionnaire/q|2.0")
    assert c.values == (ReferenceValue("Questionnaire", "q", "http://x/Questionnaire/q", "2.0"),)


@pytest.mark.parametrize("modifier", [None, "above", "below", "missing"])
def test_uri_modifiers(registry: SearchRegistry, modifier: str | None) -> None:
    name = "url" if modifier is None else f"url:{modifier}"
    value = "true" if modifier == "missing" else "http://x/fhir/ValueSet/a"
    c = clause(registry, "ValueSet", f"{name}={value}")
    assert c.modifier == modifier
    assert c.values == ((MissingValue(True),) if modifier == "missing" else (UriValue(value),))


@pytest.mark.parametrize(
    ("rtype", "query", "kind"),
    [
        ("Patient", "birthdate:missing=true", "date"),
        ("RiskAssessment", "probability:missing=false", "number"),
        ("Observation", "value-quantity:missing=true", "quantity"),
        ("Patient", "name:missing=true", "string"),
    ],
)
def test_missing_on_every_type(registry: SearchRegistry, rtype: str, query: str, kind: str) -> None:
    c = clause(registry, rtype, query)
    assert (c.type, c.modifier) == (kind, "missing")


def test_common_parameters(registry: SearchRegistry) -> None:
    request = parse(
        registry,
        "Observation",
        "_id=a,b&_lastUpdated=gt2024-01-01&_tag=urn:t|x&_security=urn:s|N&_profile=http://p&_source=http://s",
    )
    assert [(c.param, c.type) for c in request.criteria] == [  # type: ignore[union-attr]
        ("_id", "token"),
        ("_lastUpdated", "date"),
        ("_tag", "token"),
        ("_security", "token"),
        ("_profile", "uri"),
        ("_source", "uri"),
    ]


# --- chains, _has, _list ----------------------------------------------------------------


def test_chain_with_type(registry: SearchRegistry) -> None:
    (c,) = parse(registry, "Observation", "subject:Patient.name=dupont").criteria
    assert isinstance(c, ChainClause)
    assert c.param == "subject"
    assert [t.target_type for t in c.targets] == ["Patient"]
    inner = c.targets[0].clause
    assert (inner.param, inner.type, inner.values) == (
        "name",
        "string",
        (StringValue("dupont", "dupont"),),
    )
    assert inner.name == "subject:Patient.name"


def test_chain_without_type_uses_every_target_with_the_parameter(registry: SearchRegistry) -> None:
    (c,) = parse(registry, "Observation", "subject.identifier=urn:x|1").criteria
    assert isinstance(c, ChainClause)
    assert {t.target_type for t in c.targets} == {"Patient", "Group", "Device", "Location"}


def test_chain_with_modifier_on_the_inner_parameter(registry: SearchRegistry) -> None:
    (c,) = parse(registry, "Encounter", "patient.name:exact=Dupont").criteria
    assert isinstance(c, ChainClause)
    assert c.targets[0].clause.modifier == "exact"


def test_has(registry: SearchRegistry) -> None:
    (c,) = parse(registry, "Patient", "_has:Observation:patient:code=1234-5").criteria
    assert isinstance(c, HasClause)
    assert (c.source_type, c.reference_param) == ("Observation", "patient")
    assert c.clause.values == (TokenValue(None, "1234-5"),)
    (c,) = parse(registry, "Patient", "_has:Observation:patient:code:not=1234-5").criteria
    assert isinstance(c, HasClause)
    assert c.clause.modifier == "not"


def test_list(registry: SearchRegistry) -> None:
    (c,) = parse(registry, "Patient", "_list=42,List/43").criteria
    assert c == ListClause("_list", ("42", "43"))


# --- result controls ----------------------------------------------------------------------


def test_sort_count_total_summary(registry: SearchRegistry) -> None:
    request = parse(
        registry,
        "Observation",
        "_sort=-date,code,_lastUpdated&_count=20&_total=accurate&_summary=count",
    )
    assert request.sort == (
        SortKey("date", "date", True),
        SortKey("code", "token", False),
        SortKey("_lastUpdated", "date", False),
    )
    assert (request.count, request.total, request.summary) == (20, "accurate", "count")


def test_default_and_lowered_count(registry: SearchRegistry) -> None:
    assert parse(registry, "Patient", "").count == 50
    with pytest.raises(BadRequest, match="exceeds the maximum") as caught:
        parse(registry, "Patient", "_count=5000", limits=SearchLimits(max_count=200))
    assert caught.value.expression == ("_count",)
    request = parse(
        registry, "Patient", "_count=5000", limits=SearchLimits(max_count=200), lenient=True
    )
    assert request.count == 200
    assert [w.gateway_code for w in request.warnings] == ["GW-1111"]
    assert parse(registry, "Patient", "_count=0").count == 0


def test_elements(registry: SearchRegistry) -> None:
    request = parse(registry, "Patient", "_elements=name,birthDate&_elements=Patient.gender,name")
    assert request.elements == ("name", "birthDate", "gender")


@pytest.mark.parametrize(
    ("query", "include"),
    [
        ("_include=Observation:subject", Include("Observation", "subject", None, False, False)),
        (
            "_include=Observation:subject:Patient",
            Include("Observation", "subject", "Patient", False, False),
        ),
        ("_include=Observation:*", Include("Observation", None, None, False, False)),
        ("_include=*", Include("*", None, None, False, False)),
        (
            "_include:iterate=Patient:general-practitioner",
            Include("Patient", "general-practitioner", None, True, False),
        ),
        (
            "_include:recurse=Patient:general-practitioner",
            Include("Patient", "general-practitioner", None, True, False),
        ),
        ("_revinclude=Provenance:target", Include("Provenance", "target", None, False, True)),
        (
            "_revinclude:iterate=Observation:has-member",
            Include("Observation", "has-member", None, True, True),
        ),
    ],
)
def test_includes(registry: SearchRegistry, query: str, include: Include) -> None:
    request = parse(registry, "Observation", query)
    assert (request.revincludes if include.reverse else request.includes) == (include,)


def test_format_pretty_and_reserved(registry: SearchRegistry) -> None:
    request = parse(
        registry,
        "Patient",
        "_format=json&_pretty=true&_cursor=abc",
        reserved=frozenset({"_cursor"}),
    )
    assert (request.format, request.pretty, request.reserved) == ("json", True, {"_cursor": "abc"})
    assert request.criteria == ()


def test_contained_default_is_accepted(registry: SearchRegistry) -> None:
    assert parse(registry, "Patient", "_contained=false").criteria == ()


def test_empty_values_are_ignored_and_reported(registry: SearchRegistry) -> None:
    request = parse(registry, "Patient", "name=&gender=female")
    assert len(request.criteria) == 1
    assert [(i.name, i.reason) for i in request.ignored] == [("name", "empty value")]


# --- searches across types and compartments ----------------------------------------------


def test_system_search_with_type(registry: SearchRegistry) -> None:
    request = parse(registry, None, "_type=Patient,Observation&_id=1&_sort=-_lastUpdated")
    assert request.types == ("Patient", "Observation")
    assert request.resource_type is None
    assert [c.param for c in request.criteria] == ["_id"]  # type: ignore[union-attr]


def test_system_search_with_a_parameter_shared_by_the_types(registry: SearchRegistry) -> None:
    request = parse(registry, None, "_type=Observation,Condition&code=1234")
    assert request.criteria[0].param == "code"  # type: ignore[union-attr]


def test_compartment_search(registry: SearchRegistry) -> None:
    request = parse(registry, "Observation", "code=x", compartment=("Patient", "p1"))
    assert request.compartment is not None
    assert (request.compartment.compartment, request.compartment.id) == ("Patient", "p1")
    assert request.compartment.params == {"Observation": ("subject", "performer")}


def test_compartment_search_across_types(registry: SearchRegistry) -> None:
    request = parse(registry, None, "_lastUpdated=gt2020", compartment=("Patient", "p1"))
    assert "Encounter" in request.types
    assert "Patient" in request.types
    assert "Organization" not in request.types
    assert request.compartment is not None
    assert request.compartment.params["Patient"] == ("link",)
