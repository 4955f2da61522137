"""Differential property test: random datasets and queries, the gateway against a naive
reference implementation (:mod:`tests.contract.search_reference`), on SQLite and
PostgreSQL. Equal result sets, and for sorted queries equal pages when walked."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from gateway.record.repository import Repository
from gateway.record.search import SearchExecutor
from gateway.record.services import RecordServices
from tests.contract import search_reference as ref
from tests.contract.searching import BASE, seed, with_clock
from tests.support import empty_database

NOW = ref.micros(datetime(2021, 6, 15, 12, tzinfo=UTC))
FAMILIES = ["Durand", "DURANDE", "Dupont", "Élodie", "Zoë", "du Bois", "Müller"]
GIVENS = ["Léa", "Marc", "hélène", "Jean"]
PREFIXES = ["eq", "ne", "gt", "lt", "ge", "le", "sa", "eb", "ap"]
SYSTEMS = ["urn:a", "urn:b", None]
CODES = ["1", "2", "3"]

years = st.integers(2019, 2021)
months = st.integers(1, 12)
days = st.integers(1, 28)
hours = st.integers(8, 20)  # away from the night-time daylight-saving changes
minutes = st.integers(0, 59)


@st.composite
def stored_date(draw: st.DrawFn) -> str:
    y, mo, d = draw(years), draw(months), draw(days)
    kind = draw(st.sampled_from(["y", "m", "d", "s"]))
    if kind == "y":
        return f"{y}"
    if kind == "m":
        return f"{y}-{mo:02d}"
    if kind == "d":
        return f"{y}-{mo:02d}-{d:02d}"
    zone = draw(st.sampled_from(["Z", "+02:00", "-05:00"]))
    return f"{y}-{mo:02d}-{d:02d}T{draw(hours):02d}:{draw(minutes):02d}:{draw(minutes):02d}{zone}"


@st.composite
def query_date(draw: st.DrawFn) -> str:
    y, mo, d = draw(years), draw(months), draw(days)
    kind = draw(st.sampled_from(["y", "m", "d", "min", "s"]))
    if kind in ("y", "m", "d"):
        return {"y": f"{y}", "m": f"{y}-{mo:02d}", "d": f"{y}-{mo:02d}-{d:02d}"}[kind]
    zone = draw(st.sampled_from(["", "Z", "+02:00"]))
    clock = f"{draw(hours):02d}:{draw(minutes):02d}"
    if kind == "s":
        clock += f":{draw(minutes):02d}"
    return f"{y}-{mo:02d}-{d:02d}T{clock}{zone}"


decimals = st.builds(
    lambda units, places: Decimal(units).scaleb(-places), st.integers(0, 2000), st.integers(0, 2)
)


@st.composite
def patient(draw: st.DrawFn, i: int) -> dict[str, Any]:
    out: dict[str, Any] = {"resourceType": "Patient", "id": f"p{i}"}
    if draw(st.booleans()):
        out["name"] = [
            {"family": draw(st.sampled_from(FAMILIES)), "given": [draw(st.sampled_from(GIVENS))]}
        ]
    if draw(st.booleans()):
        out["birthDate"] = draw(stored_date().filter(lambda t: "T" not in t))
    if draw(st.booleans()):
        out["gender"] = draw(st.sampled_from(["male", "female"]))
    return out


@st.composite
def observation(draw: st.DrawFn, i: int, patients: int) -> dict[str, Any]:
    codings = []
    for _ in range(draw(st.integers(1, 2))):
        system = draw(st.sampled_from(SYSTEMS))
        coding = {"code": draw(st.sampled_from(CODES))}
        if system:
            coding["system"] = system
        codings.append(coding)
    out: dict[str, Any] = {
        "resourceType": "Observation",
        "id": f"o{i}",
        "status": draw(st.sampled_from(["final", "amended"])),
        "code": {"coding": codings},
    }
    if patients and draw(st.booleans()):
        out["subject"] = {"reference": f"Patient/p{draw(st.integers(0, patients - 1))}"}
    when = draw(st.sampled_from(["none", "date", "period"]))
    if when == "date":
        out["effectiveDateTime"] = draw(stored_date())
    elif when == "period":
        start, end = sorted([draw(stored_date().filter(lambda t: "T" not in t)) for _ in "se"])
        period = {}
        if draw(st.booleans()):
            period["start"] = start
        if draw(st.booleans()) or not period:
            period["end"] = end
        if (
            ref.resource_dates({"effectivePeriod": period}, "effective")[0][0]
            < ref.resource_dates({"effectivePeriod": period}, "effective")[0][1]
        ):
            out["effectivePeriod"] = period
    unit = draw(st.sampled_from(["mg", "g", None, "none"]))
    if unit != "none":
        quantity: dict[str, Any] = {"value": draw(decimals)}
        if unit:
            quantity |= {"system": ref.UCUM, "code": unit}
        out["valueQuantity"] = quantity
    return out


Clause = tuple[str, str, ref.Matcher]


def _from(pool: list[Any], fallback: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    """A value of the dataset (when there is one) or a random one."""
    return st.one_of(st.sampled_from(pool), fallback) if pool else fallback


@st.composite
def patient_clause(draw: st.DrawFn, pool: dict[str, list[Any]]) -> Clause:
    kind = draw(st.sampled_from(["name", "family", "birthdate", "gender", "id"]))
    if kind in ("name", "family"):
        modifier = draw(st.sampled_from([None, "exact", "contains"]))
        word = draw(st.sampled_from(FAMILIES + GIVENS))
        if modifier != "exact":
            word = draw(st.sampled_from([word, word[:3], word.upper(), word[1:4]]))
        part = "family" if kind == "family" else None
        name = kind + (f":{modifier}" if modifier else "")
        return (
            name,
            word,
            lambda r, _w: any(
                ref.string_matches(modifier, word, v) for v in ref.name_values(r, part)
            ),
        )
    if kind == "birthdate":
        prefix, text = (
            draw(st.sampled_from(PREFIXES)),
            draw(_from(pool["birthdates"], query_date().filter(lambda t: "T" not in t))),
        )
        q = ref.date_range(text)
        return (
            "birthdate",
            prefix + text,
            lambda r, _w: any(
                ref.date_matches(prefix, q, d, NOW) for d in ref.resource_dates(r, "birthDate")
            ),
        )
    if kind == "gender":
        values = draw(
            st.lists(st.sampled_from(["male", "female", "other"]), min_size=1, max_size=2)
        )
        return "gender", ",".join(values), lambda r, _w: r.get("gender") in values
    ids = draw(st.lists(st.sampled_from([f"p{i}" for i in range(4)]), min_size=1, max_size=2))
    return "_id", ",".join(ids), lambda r, _w: r["id"] in ids


def _codings(r: dict[str, Any]) -> list[tuple[str | None, str]]:
    return [(c.get("system"), c["code"]) for c in r["code"]["coding"]]


@st.composite
def observation_clause(draw: st.DrawFn, pool: dict[str, list[Any]]) -> Clause:
    kind = draw(
        st.sampled_from(["code", "code:not", "status", "subject", "date", "quantity", "chain"])
    )
    if kind in ("code", "code:not"):
        forms = list(CODES) + [f"{s}|{c}" for s in ("urn:a", "urn:b") for c in CODES]
        forms += [f"|{c}" for c in CODES] + ["urn:a|", "urn:b|"]
        values = draw(st.lists(st.sampled_from(forms), min_size=1, max_size=2))

        def hit(r: dict[str, Any], _w: dict[str, Any]) -> bool:
            return any(ref.token_matches(v, _codings(r)) for v in values)

        if kind == "code":
            return "code", ",".join(values), hit
        return "code:not", ",".join(values), lambda r, w: not hit(r, w)
    if kind == "status":
        value = draw(st.sampled_from(["final", "amended"]))
        return "status", value, lambda r, _w: r["status"] == value
    if kind == "subject":
        which = draw(st.integers(0, 3))
        form = draw(st.sampled_from(["Patient/p", "p", "missing"]))
        if form == "missing":
            flag = draw(st.booleans())
            return "subject:missing", str(flag).lower(), lambda r, _w: ("subject" not in r) == flag
        target = f"Patient/p{which}"
        return (
            "subject",
            f"{form}{which}",
            lambda r, _w: r.get("subject", {}).get("reference") == target,
        )
    if kind == "date":
        prefix, text = draw(st.sampled_from(PREFIXES)), draw(_from(pool["dates"], query_date()))
        q = ref.date_range(text)
        return (
            "date",
            prefix + text,
            lambda r, _w: any(
                ref.date_matches(prefix, q, d, NOW) for d in ref.resource_dates(r, "effective")
            ),
        )
    if kind == "quantity":
        prefix, value = draw(st.sampled_from(PREFIXES)), draw(_from(pool["values"], decimals))
        unit = draw(st.sampled_from([None, "mg", "g"]))
        text = prefix + str(value) + (f"|{ref.UCUM}|{unit}" if unit else "")
        return (
            "value-quantity",
            text,
            lambda r, _w: (
                "valueQuantity" in r
                and ref.quantity_matches(prefix, value, unit, r["valueQuantity"])
            ),
        )
    word = draw(st.sampled_from(FAMILIES + GIVENS))[:3]

    def chained(r: dict[str, Any], world: dict[str, Any]) -> bool:
        target = world.get(r.get("subject", {}).get("reference", ""))
        return target is not None and any(
            ref.string_matches(None, word, v) for v in ref.name_values(target)
        )

    return "subject:Patient.name", word, chained


SORTS = ["date", "-date", "value-quantity", "-value-quantity", "-date,value-quantity"]
Query = tuple[str, list[Clause], str | None, int]


def sort_key(sort: str, r: dict[str, Any]) -> tuple[Any, ...]:
    """The reference order: lowest value ascending, highest descending, missing last."""
    key: list[Any] = []
    for raw in sort.split(","):
        down = raw.startswith("-")
        if raw.lstrip("-") == "date":
            ranges = ref.resource_dates(r, "effective")
            value: Any = (
                (max(h for _, h in ranges) if down else min(lo for lo, _ in ranges))
                if ranges
                else None
            )
        else:
            value = r["valueQuantity"]["value"] if "valueQuantity" in r else None
        key.append((1, 0) if value is None else (0, -value if down else value))
    return tuple(key)


@st.composite
def scenario(draw: st.DrawFn) -> tuple[list[dict[str, Any]], list[Query]]:
    n_patients = draw(st.integers(1, 5))
    resources = [draw(patient(i)) for i in range(n_patients)]
    resources += [draw(observation(i, n_patients)) for i in range(draw(st.integers(0, 14)))]
    # Query values are often taken from the data: that is where the boundaries are.
    pool: dict[str, list[Any]] = {
        "birthdates": [r["birthDate"] for r in resources if "birthDate" in r],
        "dates": [r["effectiveDateTime"] for r in resources if "effectiveDateTime" in r]
        + [v for r in resources for v in r.get("effectivePeriod", {}).values()],
        "values": [r["valueQuantity"]["value"] for r in resources if "valueQuantity" in r],
    }
    queries: list[Query] = []
    for _ in range(6):
        rtype = draw(st.sampled_from(["Patient", "Observation"]))
        clause = patient_clause(pool) if rtype == "Patient" else observation_clause(pool)
        size = draw(st.sampled_from([0, 1, 1, 1, 2, 3] if rtype == "Observation" else [1, 1, 2]))
        sort = draw(st.sampled_from([None, *SORTS])) if rtype == "Observation" else None
        count = draw(st.sampled_from([1, 2, 3, 5]))
        queries.append((rtype, [draw(clause) for _ in range(size)], sort, count))
    return resources, queries


@settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(case=scenario())
def test_gateway_agrees_with_the_reference(services: RecordServices, case: Any) -> None:
    """Equal result sets; with ``_sort``, the same order; and the pages of any ``_count``
    concatenate to the whole result."""
    resources, queries = case
    empty_database(services.store.engine)
    repo: Repository = with_clock(services, NOW)
    seed(repo, resources)  # one transaction, in list order: primary keys follow the list
    world = {f"{r['resourceType']}/{r['id']}": r for r in resources}
    for rtype, clauses, sort, count in queries:
        params = [(name, value) for name, value, _ in clauses]
        if sort:
            params.append(("_sort", sort))
        matching = [
            r
            for r in resources
            if r["resourceType"] == rtype and all(match(r, world) for _, _, match in clauses)
        ]
        if sort:
            matching.sort(key=lambda r: sort_key(sort, r))
        expected = [r["id"] for r in matching]
        with repo.reading() as reader:
            executor = SearchExecutor(reader, base=BASE)
            whole = executor.page(services.search.parse(rtype, [*params, ("_count", "1000")]))
            request = services.search.parse(rtype, [*params, ("_count", str(count))])
            walked, result = [], executor.page(request)
            while True:
                walked += [v.id for v in result.matches]
                if result.next is None:
                    break
                result = executor.page(request, result.next)
        got = [v.id for v in whole.matches]
        assert got == expected, params  # without _sort: store (primary-key) order
        assert walked == got, (params, count)
