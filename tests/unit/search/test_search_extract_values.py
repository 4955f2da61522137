"""Index extraction of date, reference, quantity, number and uri parameters; robustness."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from gateway.search import SearchRegistry, extract
from gateway.search.rows import (
    MAX_INSTANT,
    MIN_INSTANT,
    DateRow,
    IndexRows,
    NumberRow,
    QuantityRow,
    ReferenceRow,
    StringRow,
    TokenRow,
    UriRow,
)

UCUM = "http://unitsofmeasure.org"


def us(iso: str) -> int:
    dt = datetime.fromisoformat(iso)
    return int(dt.timestamp()) * 1_000_000 + dt.microsecond


Row = TokenRow | StringRow | DateRow | ReferenceRow | QuantityRow | NumberRow | UriRow


def all_rows(rows: IndexRows) -> list[Row]:
    return [
        *rows.tokens,
        *rows.strings,
        *rows.dates,
        *rows.references,
        *rows.quantities,
        *rows.numbers,
        *rows.uris,
    ]


def rows_for(registry: SearchRegistry, resource: dict[str, Any], param: str) -> list[Row]:
    return [r for r in all_rows(extract(resource, registry)) if r.param == param]


# --- date -------------------------------------------------------------------------------


DATE_CASES: list[tuple[str, dict[str, Any], str, list[tuple[int, int]]]] = [
    (
        "date (birthDate) read in Paris",
        {"resourceType": "Patient", "birthDate": "1980-06"},
        "birthdate",
        [(us("1980-06-01T00:00:00+02:00"), us("1980-07-01T00:00:00+02:00"))],
    ),
    (
        "dateTime with offset",
        {"resourceType": "Observation", "effectiveDateTime": "2020-01-01T10:00:00Z"},
        "date",
        [(us("2020-01-01T10:00:00+00:00"), us("2020-01-01T10:00:01+00:00"))],
    ),
    (
        "Period with both ends",
        {"resourceType": "Encounter", "period": {"start": "2020-01-01", "end": "2020-01-03"}},
        "date",
        [(us("2020-01-01T00:00:00+01:00"), us("2020-01-04T00:00:00+01:00"))],
    ),
    (
        "Period open at the end",
        {"resourceType": "Encounter", "period": {"start": "2020-01-01T08:00:00+01:00"}},
        "date",
        [(us("2020-01-01T08:00:00+01:00"), MAX_INSTANT)],
    ),
    (
        "Period open at the start",
        {"resourceType": "Encounter", "period": {"end": "2020"}},
        "date",
        [(MIN_INSTANT, us("2021-01-01T00:00:00+01:00"))],
    ),
    (
        "instant (meta.lastUpdated)",
        {"resourceType": "Patient", "meta": {"lastUpdated": "2024-03-31T02:30:00.5+02:00"}},
        "_lastUpdated",
        [(us("2024-03-31T02:30:00.5+02:00"), us("2024-03-31T02:30:00.6+02:00"))],
    ),
    (
        "Timing: outer limits of events and bounds",
        {
            "resourceType": "MedicationRequest",
            "dosageInstruction": [
                {
                    "timing": {
                        "event": ["2020-01-10", "2020-01-05T08:00:00+01:00"],
                        "repeat": {"boundsPeriod": {"start": "2020-01-01", "end": "2020-01-31"}},
                    }
                }
            ],
        },
        "MedicationRequest-date-not-a-param",
        [],
    ),
    (
        "several values: one row each",
        {
            "resourceType": "Immunization",
            "occurrenceDateTime": "2021-05-01",
            "recorded": "2021-05-02",
        },
        "date",
        [(us("2021-05-01T00:00:00+02:00"), us("2021-05-02T00:00:00+02:00"))],
    ),
    (
        "inverted Period (breaks per-1): no row",
        {"resourceType": "Encounter", "period": {"start": "2021", "end": "2020"}},
        "date",
        [],
    ),
    (
        "malformed date: skipped, no exception",
        {"resourceType": "Patient", "birthDate": "1980-13-45"},
        "birthdate",
        [],
    ),
]


@pytest.mark.parametrize(
    ("label", "resource", "param", "expected"), DATE_CASES, ids=[c[0] for c in DATE_CASES]
)
def test_date_rows(
    registry: SearchRegistry,
    label: str,
    resource: dict[str, Any],
    param: str,
    expected: list[tuple[int, int]],
) -> None:
    got = [(r.low, r.high) for r in rows_for(registry, resource, param)]  # type: ignore[union-attr]
    assert got == expected


def test_timing_outer_limits(registry: SearchRegistry) -> None:
    # CarePlan.activity.detail.scheduled[x] Timing is indexed by the 'activity-date' param.
    careplan = {
        "resourceType": "CarePlan",
        "activity": [
            {
                "detail": {
                    "scheduledTiming": {
                        "event": ["2020-01-10", "2020-01-05T08:00:00+01:00"],
                        "repeat": {"boundsPeriod": {"start": "2020-01-07", "end": "2020-01-31"}},
                    }
                }
            }
        ],
    }
    assert [(r.low, r.high) for r in rows_for(registry, careplan, "activity-date")] == [  # type: ignore[union-attr]
        (us("2020-01-05T08:00:00+01:00"), us("2020-02-01T00:00:00+01:00"))
    ]


def test_timing_bounds_open_end(registry: SearchRegistry) -> None:
    careplan = {
        "resourceType": "CarePlan",
        "activity": [
            {"detail": {"scheduledTiming": {"repeat": {"boundsPeriod": {"start": "2020"}}}}}
        ],
    }
    assert [(r.low, r.high) for r in rows_for(registry, careplan, "activity-date")] == [  # type: ignore[union-attr]
        (us("2020-01-01T00:00:00+01:00"), MAX_INSTANT)
    ]


def test_timezone_parameter(registry: SearchRegistry) -> None:
    patient = {"resourceType": "Patient", "birthDate": "2000-01-01"}
    rows = extract(patient, registry, tz=ZoneInfo("UTC"))
    assert [(r.low, r.high) for r in rows.dates] == [
        (us("2000-01-01T00:00:00+00:00"), us("2000-01-02T00:00:00+00:00"))
    ]


# --- reference --------------------------------------------------------------------------

REFERENCE_CASES: list[tuple[str, dict[str, Any], list[ReferenceRow]]] = [
    ("relative", {"reference": "Patient/p1"}, [ReferenceRow("subject", "Patient", "p1")]),
    (
        "version dropped",
        {"reference": "Patient/p1/_history/3"},
        [ReferenceRow("subject", "Patient", "p1")],
    ),
    (
        "absolute URL kept and split",
        {"reference": "https://fhir.example.fr/r4/Patient/p1"},
        [ReferenceRow("subject", "Patient", "p1", "https://fhir.example.fr/r4/Patient/p1")],
    ),
    (
        "urn:uuid typed by Reference.type",
        {"reference": "urn:uuid:0b2a", "type": "Group"},
        [ReferenceRow("subject", "Group", None, "urn:uuid:0b2a")],
    ),
    ("display only: nothing", {"display": "Jean"}, []),
]


@pytest.mark.parametrize(
    ("label", "ref", "expected"), REFERENCE_CASES, ids=[c[0] for c in REFERENCE_CASES]
)
def test_reference_rows(
    registry: SearchRegistry, label: str, ref: dict[str, Any], expected: list[ReferenceRow]
) -> None:
    obs = {"resourceType": "Observation", "subject": ref}
    assert rows_for(registry, obs, "subject") == expected


def test_where_resolve_is_patient(registry: SearchRegistry) -> None:
    def patient_rows(ref: dict[str, Any]) -> list[Row]:
        return rows_for(registry, {"resourceType": "Observation", "subject": ref}, "patient")

    assert patient_rows({"reference": "Patient/p1"}) == [ReferenceRow("patient", "Patient", "p1")]
    assert patient_rows({"reference": "Group/g1"}) == []
    assert patient_rows({"reference": "http://x.fr/fhir/Patient/p2"}) == [
        ReferenceRow("patient", "Patient", "p2", "http://x.fr/fhir/Patient/p2")
    ]
    assert patient_rows({"reference": "urn:uuid:1", "type": "Patient"}) == [
        ReferenceRow("patient", "Patient", None, "urn:uuid:1")
    ]
    assert patient_rows({"reference": "urn:uuid:1"}) == []


def test_contained_reference_is_typed_by_the_container(registry: SearchRegistry) -> None:
    eob = {
        "resourceType": "ExplanationOfBenefit",
        "contained": [{"resourceType": "Coverage", "id": "cov"}],
        "insurance": [{"coverage": {"reference": "#cov"}}],
    }
    assert rows_for(registry, eob, "coverage") == [
        ReferenceRow("coverage", "Coverage", None, "#cov")
    ]


def test_reference_identifier_row(registry: SearchRegistry) -> None:
    obs = {
        "resourceType": "Observation",
        "subject": {"identifier": {"system": "urn:oid:1.2.250.1.213.1.4.8", "value": "123"}},
    }
    assert rows_for(registry, obs, "subject") == []
    assert rows_for(registry, obs, "subject:identifier") == [
        TokenRow("subject:identifier", "urn:oid:1.2.250.1.213.1.4.8", "123")
    ]


def test_canonical_reference_with_version(registry: SearchRegistry) -> None:
    qr = {
        "resourceType": "QuestionnaireResponse",
        "questionnaire": "http://example.org/fhir/Questionnaire/aggir|2.1",
    }
    assert rows_for(registry, qr, "questionnaire") == [
        ReferenceRow(
            "questionnaire",
            "Questionnaire",
            "aggir",
            "http://example.org/fhir/Questionnaire/aggir",
            "2.1",
        )
    ]


def test_bundle_first_resource_is_a_reference(registry: SearchRegistry) -> None:
    bundle = {
        "resourceType": "Bundle",
        "type": "document",
        "entry": [{"resource": {"resourceType": "Composition", "id": "c1"}}],
    }
    assert rows_for(registry, bundle, "composition") == [
        ReferenceRow("composition", "Composition", "c1")
    ]


def test_has_extension_filter(registry: SearchRegistry) -> None:
    url = "http://hl7.org/fhir/StructureDefinition/questionnaireresponse-isSubject"
    qr = {
        "resourceType": "QuestionnaireResponse",
        "item": [
            {
                "extension": [{"url": url, "valueBoolean": True}],
                "answer": [{"valueReference": {"reference": "Patient/p1"}}],
            },
            {"answer": [{"valueReference": {"reference": "Patient/p2"}}]},
        ],
    }
    assert rows_for(registry, qr, "item-subject") == [ReferenceRow("item-subject", "Patient", "p1")]


# --- quantity and number ----------------------------------------------------------------

QUANTITY_CASES: list[tuple[str, Any, tuple[float, float, float]]] = [
    ("Decimal keeps trailing zeros", Decimal("1.50"), (1.5, 1.495, 1.505)),
    ("integer precision", 100, (100.0, 99.5, 100.5)),
    ("Decimal integer", Decimal("100"), (100.0, 99.5, 100.5)),
    ("float via repr", 64.041, (64.041, 64.0405, 64.0415)),
    ("exponent", Decimal("1E+2"), (100.0, 50.0, 150.0)),
    ("negative", Decimal("-0.5"), (-0.5, -0.55, -0.45)),
]


@pytest.mark.parametrize(
    ("label", "value", "expected"), QUANTITY_CASES, ids=[c[0] for c in QUANTITY_CASES]
)
def test_quantity_precision(
    registry: SearchRegistry, label: str, value: Any, expected: tuple[float, float, float]
) -> None:
    obs = {
        "resourceType": "Observation",
        "valueQuantity": {"value": value, "unit": "x", "code": "{x}"},
    }
    rows = rows_for(registry, obs, "value-quantity")
    assert len(rows) == 1
    row = rows[0]
    assert isinstance(row, QuantityRow)
    assert (row.value, row.low, row.high) == pytest.approx(expected)
    assert (row.system, row.code, row.unit, row.canonical) == (None, "{x}", "x", False)


def test_quantity_canonical_ucum_row(registry: SearchRegistry) -> None:
    obs = {
        "resourceType": "Observation",
        "valueQuantity": {"value": Decimal("250"), "unit": "mg", "system": UCUM, "code": "mg"},
    }
    given, canonical = rows_for(registry, obs, "value-quantity")
    assert given == QuantityRow("value-quantity", 250.0, 249.5, 250.5, UCUM, "mg", "mg")
    assert isinstance(canonical, QuantityRow)
    assert canonical.canonical is True
    assert (canonical.system, canonical.code) == (UCUM, "g")
    assert (canonical.value, canonical.low, canonical.high) == pytest.approx((0.25, 0.2495, 0.2505))


def test_temperature_canonicalised_to_kelvin(registry: SearchRegistry) -> None:
    obs = {
        "resourceType": "Observation",
        "valueQuantity": {"value": Decimal("37.0"), "system": UCUM, "code": "Cel"},
    }
    rows = rows_for(registry, obs, "value-quantity")
    assert [(r.code, round(r.value, 2)) for r in rows] == [("Cel", 37.0), ("K", 310.15)]  # type: ignore[union-attr]


def test_quantity_component_and_missing_value(registry: SearchRegistry) -> None:
    obs = {
        "resourceType": "Observation",
        "component": [
            {"valueQuantity": {"value": 120, "system": UCUM, "code": "mm[Hg]"}},
            {"valueQuantity": {"unit": "mm[Hg]"}},  # no value: no row
        ],
    }
    rows = rows_for(registry, obs, "component-value-quantity")
    assert [(r.value, r.code, r.canonical) for r in rows] == [  # type: ignore[union-attr]
        (120.0, "mm[Hg]", False),
        (pytest.approx(15998.686), "Pa", True),
    ]


def test_range_and_money(registry: SearchRegistry) -> None:
    condition = {
        "resourceType": "Condition",
        "onsetRange": {"low": {"value": 10, "unit": "a", "system": UCUM, "code": "a"}},
    }
    (row, _canonical) = rows_for(registry, condition, "onset-age")
    assert isinstance(row, QuantityRow)
    assert (row.value, row.low, row.high, row.code) == (10.0, 9.5, float("inf"), "a")
    claim = {
        "resourceType": "ChargeItem",
        "priceOverride": {"value": Decimal("12.30"), "currency": "EUR"},
    }
    assert rows_for(registry, claim, "price-override") == [
        QuantityRow("price-override", 12.3, 12.295, 12.305, "urn:iso:std:iso:4217", "EUR")
    ]


def test_number_rows(registry: SearchRegistry) -> None:
    ra = {
        "resourceType": "RiskAssessment",
        "prediction": [{"probabilityDecimal": Decimal("0.25")}, {"probabilityDecimal": 1}],
    }
    assert rows_for(registry, ra, "probability") == [
        NumberRow("probability", 0.25, 0.245, 0.255),
        NumberRow("probability", 1.0, 0.5, 1.5),
    ]


# --- uri, extensions, de-duplication, robustness --------------------------------------


def test_uri_rows(registry: SearchRegistry) -> None:
    sd = {
        "resourceType": "StructureDefinition",
        "url": "http://interop.esante.gouv.fr/fhir/StructureDefinition/fr-patient",
        "meta": {"profile": ["http://a/p1", "http://a/p2"], "source": "http://src"},
    }
    assert rows_for(registry, sd, "url") == [
        UriRow("url", "http://interop.esante.gouv.fr/fhir/StructureDefinition/fr-patient")
    ]
    assert rows_for(registry, sd, "_profile") == [
        UriRow("_profile", "http://a/p1"),
        UriRow("_profile", "http://a/p2"),
    ]
    assert rows_for(registry, sd, "_source") == [UriRow("_source", "http://src")]


def test_pdsm_is_archived_from_extension(registry: SearchRegistry) -> None:
    url = "http://esante.gouv.fr/cisis/fhir/StructureDefinition/PDSm_isArchived"
    doc = {"resourceType": "DocumentReference", "extension": [{"url": url, "valueBoolean": True}]}
    assert rows_for(registry, doc, "isArchived") == [TokenRow("isArchived", None, "true")]
    other = {"resourceType": "List", "extension": [{"url": "http://other", "valueBoolean": True}]}
    assert rows_for(registry, other, "isArchived") == []


def test_extension_parameter_typed_at_run_time(registry: SearchRegistry) -> None:
    # The URL as the published R4 expression spells it (not the extension's own URL).
    url = "http://hl7.org/fhir/StructureDefinition/patient-extensions-Patient-mothersMaidenName"
    patient = {"resourceType": "Patient", "extension": [{"url": url, "valueString": "Martin"}]}
    assert rows_for(registry, patient, "mothersMaidenName") == [
        StringRow("mothersMaidenName", "martin", "Martin")
    ]


def test_rows_are_deduplicated(registry: SearchRegistry) -> None:
    patient = {
        "resourceType": "Patient",
        "identifier": [{"system": "s", "value": "1"}, {"system": "s", "value": "1"}],
    }
    assert rows_for(registry, patient, "identifier") == [TokenRow("identifier", "s", "1")]


def test_deduplication_keeps_the_first_of_each_row_in_order(registry: SearchRegistry) -> None:
    patient = {
        "resourceType": "Patient",
        "identifier": [
            {"system": "s", "value": "2"},
            {"system": "s", "value": "1"},
            {"system": "s", "value": "2"},
        ],
    }
    assert rows_for(registry, patient, "identifier") == [
        TokenRow("identifier", "s", "2"),
        TokenRow("identifier", "s", "1"),
    ]


def test_skip_leaves_parameters_out(registry: SearchRegistry) -> None:
    obs = {
        "resourceType": "Observation",
        "id": "o1",
        "status": "final",
        "subject": {"reference": "Patient/1"},
    }
    full = extract(obs, registry)
    rows = extract(obs, registry, skip=frozenset({"_id", "subject"}))
    assert rows.tokens == [t for t in full.tokens if t.param != "_id"]
    assert rows.references == [r for r in full.references if r.param != "subject"]
    assert [t.param for t in rows.tokens] == ["status"]


def test_only_restricts_parameters(registry: SearchRegistry) -> None:
    obs = {"resourceType": "Observation", "status": "final", "subject": {"reference": "Patient/1"}}
    rows = extract(obs, registry, only=frozenset({"status"}))
    assert [r.param for r in all_rows(rows)] == ["status"]


@pytest.mark.parametrize(
    "resource",
    [
        {},
        {"resourceType": "NotAType"},
        {"resourceType": 3},
        {"resourceType": "Patient", "name": "not a list of names"},
        {"resourceType": "Patient", "name": [None, 3, "x", {"family": 5, "given": [None, 1]}]},
        {"resourceType": "Observation", "valueQuantity": {"value": "NaN"}},
        {"resourceType": "Observation", "valueQuantity": {"value": float("inf")}},
        {"resourceType": "Observation", "subject": {"reference": 12}},
        {"resourceType": "Observation", "effectivePeriod": {"start": 2020}},
        {"resourceType": "Encounter", "period": "2020"},
        {"resourceType": "Patient", "birthDate": None, "gender": None},
    ],
)
def test_malformed_resources_do_not_crash(
    registry: SearchRegistry, resource: dict[str, Any]
) -> None:
    rows = extract(resource, registry)
    assert all(isinstance(r.param, str) for r in all_rows(rows))


def test_synthea_sample_extracts_without_errors(
    registry: SearchRegistry, synthea: list[dict[str, Any]]
) -> None:
    counts = {}
    for resource in synthea:
        rows = extract(resource, registry)
        counts[resource["resourceType"]] = len(rows)
        assert len(rows) > 0
    assert counts["Patient"] > 20
    assert counts["Observation"] >= 8


def test_synthea_observation_rows(registry: SearchRegistry, synthea: list[dict[str, Any]]) -> None:
    obs = next(r for r in synthea if r["resourceType"] == "Observation" and "valueQuantity" in r)
    rows = extract(obs, registry)
    params = {r.param for r in all_rows(rows)}
    assert {
        "_id",
        "code",
        "category",
        "status",
        "date",
        "subject",
        "patient",
        "encounter",
    } <= params
    assert {"value-quantity", "combo-code", "combo-value-quantity"} <= params
