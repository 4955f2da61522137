"""Date, number and quantity search: prefixes over implicit ranges, on both back-ends.

Dates without a UTC offset are read in Europe/Paris (UTC+1 in winter, UTC+2 from
2020-03-29): the year 2020 starts at 2019-12-31T23:00Z, so ``2019-12-31T23:30:00Z``
is *in* 2020 for a French clinician.
"""

from __future__ import annotations

from typing import Any

from gateway.fhir.instant import parse_range
from gateway.record.repository import Repository
from gateway.record.services import RecordServices
from tests.contract.searching import ids, idset, seed, with_clock

UCUM = "http://unitsofmeasure.org"


def _obs(rid: str, **fields: Any) -> dict[str, Any]:
    return {"resourceType": "Observation", "id": rid, "status": "final", "code": {"text": "x"}}


def _dated(rid: str, **fields: Any) -> dict[str, Any]:
    return {**_obs(rid), **fields}


DATED = [
    _dated("year", effectiveDateTime="2020"),
    _dated("month", effectiveDateTime="2020-03"),
    _dated("day", effectiveDateTime="2020-03-15"),
    _dated("utc", effectiveDateTime="2020-03-15T10:00:00Z"),
    _dated("plus", effectiveDateTime="2020-03-15T23:30:00+02:00"),
    _dated("period", effectivePeriod={"start": "2020-03-10", "end": "2020-03-20"}),
    _dated("open", effectivePeriod={"start": "2021-06-01"}),
    _dated("edge", effectiveDateTime="2019-12-31T23:30:00Z"),
    _dated("none"),
]
ALL_DATED = {"year", "month", "day", "utc", "plus", "period", "open", "edge"}
MARCH_15 = {"day", "utc", "plus"}

DATE_CASES = [
    ("date=2020-03-15", MARCH_15),
    ("date=eq2020-03-15", MARCH_15),
    ("date=2020-03", {"month", "period"} | MARCH_15),
    ("date=2020", {"year", "month", "period", "edge"} | MARCH_15),
    ("date=ne2020-03", {"year", "open", "edge"}),
    ("date=gt2020-03-15", {"year", "month", "period", "open"}),
    ("date=lt2020-03-15", {"year", "month", "period", "edge"}),
    ("date=ge2020-03-15", {"year", "month", "period", "open"} | MARCH_15),
    ("date=le2020-03-15", {"year", "month", "period", "edge"} | MARCH_15),
    ("date=sa2020-03-15", {"open"}),
    ("date=eb2020-03-15", {"edge"}),
    ("date=2020-03-15T10:00:00Z", {"utc"}),
    ("date=2020-03-15T11:00", {"utc"}),
    ("date=2020-03-15T12:00%2B02:00", {"utc"}),
    ("date=2020-03-15T10:00:00.000Z", set()),
    ("date=2019", set()),
    ("date=2020-03-15,sa2020", MARCH_15 | {"open"}),
    ("date=sa2021", set()),
    ("date=ge2020-03&date=le2020-03-31", {"year", "month", "period"} | MARCH_15),
    ("date:missing=true", {"none"}),
    ("date:missing=false", ALL_DATED),
]


def test_date_prefixes_partial_dates_and_zones(repo: Repository) -> None:
    seed(repo, DATED)
    failures = [
        (q, got, want) for q, want in DATE_CASES if (got := idset(repo, "Observation", q)) != want
    ]
    assert not failures


def test_date_ap_is_ten_percent_of_the_distance_to_now(services: RecordServices) -> None:
    a_year_later = parse_range("2021-03-15T12:00:00Z")[0]
    repo = with_clock(services, a_year_later)
    seed(repo, DATED)
    # About 36 days of tolerance either side of 2020-03-15: the year, March, the period.
    assert (
        idset(repo, "Observation", "date=ap2020-03-15")
        == {
            "year",
            "month",
            "period",
        }
        | MARCH_15
    )
    # Today: no tolerance, only the values overlapping the day itself.
    today = with_clock(services, parse_range("2021-06-15T12:00:00Z")[0])
    assert idset(today, "Observation", "date=ap2021-06-15") == {"open"}
    assert idset(today, "Observation", "date=ap2021-06-14") == {"open"}


def test_birthdate_partial(repo: Repository) -> None:
    seed(
        repo,
        [
            {"resourceType": "Patient", "id": "a", "birthDate": "1970"},
            {"resourceType": "Patient", "id": "b", "birthDate": "1970-08-03"},
            {"resourceType": "Patient", "id": "c", "birthDate": "1971-01-01"},
        ],
    )
    assert idset(repo, "Patient", "birthdate=1970") == {"a", "b"}
    assert idset(repo, "Patient", "birthdate=1970-08-03") == {"b"}
    assert idset(repo, "Patient", "birthdate=1970-08") == {"b"}
    assert idset(repo, "Patient", "birthdate=ge1970-06") == {"a", "b", "c"}
    assert idset(repo, "Patient", "birthdate=lt1970-06") == {"a"}
    assert idset(repo, "Patient", "birthdate=gt1970") == {"c"}


def _risk(rid: str, probability: Any = None) -> dict[str, Any]:
    out: dict[str, Any] = {
        "resourceType": "RiskAssessment",
        "id": rid,
        "status": "final",
        "subject": {"reference": "Patient/x"},
    }
    if probability is not None:
        out["prediction"] = [{"probabilityDecimal": probability}]
    return out


def test_number_prefixes_and_precision(repo: Repository) -> None:
    from decimal import Decimal

    seed(
        repo,
        [
            _risk("r1", Decimal("100")),
            _risk("r2", Decimal("100.4")),
            _risk("r3", Decimal("99.5")),
            _risk("r4", Decimal("101")),
            _risk("r5", Decimal("0.5")),
            _risk("r6"),
        ],
    )
    cases = [
        ("probability=100", {"r1", "r2", "r3"}),
        ("probability=100.0", {"r1"}),
        ("probability=1e2", {"r1", "r2", "r3", "r4"}),
        ("probability=gt100", {"r2", "r4"}),
        ("probability=ge100", {"r1", "r2", "r4"}),
        ("probability=lt100", {"r3", "r5"}),
        ("probability=le100", {"r1", "r3", "r5"}),
        ("probability=ne100", {"r4", "r5"}),
        ("probability=ap100", {"r1", "r2", "r3", "r4"}),
        ("probability=sa100", {"r4"}),
        ("probability=eb100", {"r5"}),
        ("probability=0.5,101", {"r4", "r5"}),
        ("probability:missing=true", {"r6"}),
    ]
    failures = [(q, got, w) for q, w in cases if (got := idset(repo, "RiskAssessment", q)) != w]
    assert not failures


def _quantity(rid: str, **value: Any) -> dict[str, Any]:
    return {**_obs(rid), "valueQuantity": value}


def test_quantity_units_and_ucum_canonical_forms(repo: Repository) -> None:
    seed(
        repo,
        [
            _quantity("q1", value=5, system=UCUM, code="mg"),
            _quantity("q2", value=5, system=UCUM, code="g"),
            _quantity("q3", value=5000, system=UCUM, code="mg"),
            _quantity("q4", value=5, unit="mg"),
            _quantity("q5", value=5, system="http://other", code="mg"),
            _obs("q6"),
        ],
    )
    cases = [
        ("value-quantity=5", {"q1", "q2", "q4", "q5"}),
        (f"value-quantity=5|{UCUM}|g", {"q2", "q3"}),
        (f"value-quantity=5000|{UCUM}|mg", {"q2", "q3"}),
        ("value-quantity=5||mg", {"q1", "q4", "q5"}),
        ("value-quantity=5|http://other|mg", {"q5"}),
        (f"value-quantity=gt4|{UCUM}|g", {"q2", "q3"}),
        (f"value-quantity=lt1|{UCUM}|g", {"q1"}),
        (f"value-quantity=ap5.2|{UCUM}|g", {"q2", "q3"}),
        ("value-quantity:missing=true", {"q6"}),
    ]
    failures = [(q, got, w) for q, w in cases if (got := idset(repo, "Observation", q)) != w]
    assert not failures


def test_several_values_per_resource(repo: Repository) -> None:
    def components(rid: str, *values: int) -> dict[str, Any]:
        parts = [{"code": {"text": "c"}, "valueQuantity": {"value": v}} for v in values]
        return {**_obs(rid), "component": parts} if parts else _obs(rid)

    seed(repo, [components("both", 5, 10), components("five", 5), components("none")])
    cases = [
        ("component-value-quantity=10", {"both"}),
        ("component-value-quantity=5", {"both", "five"}),
        ("component-value-quantity=ne5", {"both"}),  # some value is not 5
        ("component-value-quantity=gt7", {"both"}),
        ("component-value-quantity=lt7", {"both", "five"}),
        ("component-value-quantity=gt7&component-value-quantity=lt7", {"both"}),
    ]
    failures = [(q, got, w) for q, w in cases if (got := idset(repo, "Observation", q)) != w]
    assert not failures
    assert ids(repo, "Observation", "_sort=component-value-quantity") == ["both", "five", "none"]
    assert ids(repo, "Observation", "_sort=-component-value-quantity") == ["both", "five", "none"]
    seed(repo, [components("seven", 7)])
    assert ids(repo, "Observation", "_sort=component-value-quantity")[:3] == [
        "both",
        "five",
        "seven",
    ]
    assert ids(repo, "Observation", "_sort=-component-value-quantity")[:3] == [
        "both",
        "seven",
        "five",
    ]
