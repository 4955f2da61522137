"""Strict by default: every unsupported parameter, modifier, chain and value is a 400
naming it; ``Prefer: handling=lenient`` ignores unknown parameters and modifiers and says
so in the Bundle, but never the value of a served parameter."""

from __future__ import annotations

from typing import Any

import httpx
import pytest


def _issue(r: httpx.Response) -> dict[str, Any]:
    issue: dict[str, Any] = r.json()["issue"][0]
    return issue


REFUSED = [
    ("Patient", "foo", "bar", "not-supported"),
    ("Patient", "name:foo", "x", "not-supported"),
    ("Patient", "name:below", "x", "not-supported"),
    ("Patient", "gender:in", "http://vs", "not-supported"),
    ("Observation", "code:above", "x", "not-supported"),
    ("Observation", "code:below", "x", "not-supported"),
    ("Patient", "birthdate", "xx2020", "invalid"),
    ("Patient", "birthdate:exact", "2020", "not-supported"),
    ("Observation", "value-quantity:contains", "5", "not-supported"),
    ("Observation", "code-value-quantity", "x$5", "not-supported"),
    ("Patient", "_text", "x", "not-supported"),
    ("Patient", "_content", "x", "not-supported"),
    ("Patient", "_query", "x", "not-supported"),
    ("Patient", "_filter", "name eq x", "not-supported"),
    ("Patient", "_contained", "true", "not-supported"),
    ("Patient", "_type", "Observation", "not-supported"),
    ("Patient", "_sort", "foo", "not-supported"),
    ("Patient", "_sort", "name:exact", "not-supported"),
    ("Patient", "_include", "Patient:foo", "not-supported"),
    ("Patient", "_include:foo", "Patient:link", "not-supported"),
    ("Observation", "subject.organization.name", "x", "not-supported"),
    ("Observation", "subject:Patient.foo", "x", "not-supported"),
    ("Patient", "_has:Observation:foo:code", "x", "not-supported"),
    ("Observation", "_list", "$current-allergies", "not-supported"),
    ("Patient", "_id:exact", "x", "not-supported"),
    ("Observation", "date", "2020-13", "invalid"),
    ("Observation", "value-quantity", "five", "invalid"),
    ("Observation", "subject", "Foo/1", "invalid"),
    ("Patient", "_count", "5000", "invalid"),
    ("Patient", "_count", "-1", "invalid"),
    ("Patient", "_total", "all", "invalid"),
    ("Patient", "_summary", "maybe", "invalid"),
    ("Patient", "_elements", "nope", "invalid"),
    ("Patient", "name:missing", "perhaps", "invalid"),
    ("Patient", "gender", ",".join(["male"] * 101), "invalid"),
]


@pytest.mark.parametrize(("rtype", "name", "value", "code"), REFUSED)
def test_refused_with_a_400_naming_the_parameter(
    client: httpx.Client, rtype: str, name: str, value: str, code: str
) -> None:
    r = client.get(f"/{rtype}", params={name: value})
    assert r.status_code == 400, r.text
    issue = _issue(r)
    assert issue["code"] == code
    assert issue["expression"] == [name]
    # The diagnostics name what was refused: the parameter, its modifier or its value.
    parts = [*name.replace(".", ":").split(":"), *value.split(",")[0][:20].split(":")]
    assert any(part in issue["diagnostics"] for part in parts if part)


SERVED_MODIFIERS = {
    "string": {"missing", "exact", "contains"},
    "token": {"missing", "not", "text", "of-type"},
    "date": {"missing"},
    "number": {"missing"},
    "quantity": {"missing"},
    "reference": {"missing", "identifier", "Patient", "Group", "Device", "Location"},
    "uri": {"missing", "above", "below"},
}
R4_MODIFIERS = [
    "missing",
    "exact",
    "contains",
    "text",
    "in",
    "below",
    "above",
    "not-in",
    "not",
    "identifier",
    "of-type",
    "Patient",
    "Practitioner",
]
PARAMS = [
    ("Patient", "name", "string", "x"),
    ("Patient", "identifier", "token", "x"),
    ("Observation", "date", "date", "2020"),
    ("RiskAssessment", "probability", "number", "5"),
    ("Observation", "value-quantity", "quantity", "5"),
    ("Observation", "subject", "reference", "p1"),
    ("ValueSet", "url", "uri", "http://x"),
]
UNSERVED = [
    (rtype, f"{param}:{modifier}", value)
    for rtype, param, kind, value in PARAMS
    for modifier in R4_MODIFIERS
    if modifier not in SERVED_MODIFIERS[kind] and not (kind == "token" and modifier == "of-type")
]


@pytest.mark.parametrize(("rtype", "name", "value"), UNSERVED)
def test_every_unserved_modifier_is_a_400(
    client: httpx.Client, rtype: str, name: str, value: str
) -> None:
    r = client.get(f"/{rtype}", params={name: value})
    assert r.status_code == 400, r.text
    assert _issue(r)["expression"] == [name]


@pytest.mark.parametrize(
    ("rtype", "name"),
    [("Observation", "date"), ("RiskAssessment", "probability"), ("Observation", "value-quantity")],
)
def test_prefixes(client: httpx.Client, rtype: str, name: str) -> None:
    for prefix in ("eq", "ne", "gt", "lt", "ge", "le", "sa", "eb", "ap"):
        assert client.get(f"/{rtype}", params={name: f"{prefix}2020"}).status_code == 200
    for prefix in ("xx", "gte", "EQ"):
        r = client.get(f"/{rtype}", params={name: f"{prefix}2020"})
        assert r.status_code == 400 and _issue(r)["expression"] == [name], prefix


def test_limits_on_the_number_of_parameters_and_on_includes(client: httpx.Client) -> None:
    many: list[tuple[str, str | int | float | bool | None]] = [("gender", "male")] * 101
    r = client.get("/Patient", params=many)
    assert r.status_code == 400 and "101 parameters" in _issue(r)["diagnostics"]
    includes: list[tuple[str, str | int | float | bool | None]] = [
        ("_include", "Patient:link")
    ] * 11
    r = client.get("/Patient", params=includes)
    assert r.status_code == 400 and _issue(r)["expression"] == ["_include"]


def test_lenient_handling_ignores_and_reports(client: httpx.Client) -> None:
    client.post("/Patient", json={"resourceType": "Patient", "gender": "male"})
    lenient = {"prefer": "handling=lenient"}
    query = {"foo": "bar", "gender:in": "x", "gender": "male", "_count": "5000"}
    r = client.get("/Patient", params=query, headers=lenient)
    assert r.status_code == 200, r.text
    bundle = r.json()
    matches = [e for e in bundle["entry"] if e["search"]["mode"] == "match"]
    assert len(matches) == 1
    (outcome,) = [e["resource"] for e in bundle["entry"] if e["search"]["mode"] == "outcome"]
    assert outcome["resourceType"] == "OperationOutcome"
    named = {tuple(i.get("expression", ())) for i in outcome["issue"]}
    assert {("foo",), ("gender:in",), ("_count",)} <= named
    assert all(i["severity"] == "warning" for i in outcome["issue"])
    strict = client.get("/Patient", params=query, headers={"prefer": "handling=strict"})
    assert strict.status_code == 400
    # The links name the parameters actually used (R4 search: self), and still page.
    client.post("/Patient", json={"resourceType": "Patient", "gender": "male"})
    paged = client.get(
        "/Patient", params={"foo": "bar", "gender": "male", "_count": "1"}, headers=lenient
    ).json()
    links = {lk["relation"]: lk["url"] for lk in paged["link"]}
    assert "foo" not in links["self"] and "gender=male" in links["self"]
    following = client.get(links["next"])  # strict by default: nothing left to ignore
    assert following.status_code == 200, following.text
    assert [e["search"]["mode"] for e in following.json()["entry"]] == ["match"]


@pytest.mark.parametrize(
    ("name", "value", "code"),
    [
        ("date", "xx2024", "invalid"),
        ("date", "ge2026-13-01", "invalid"),
        ("value-quantity", "gt1OO", "invalid"),
        ("value-quantity", "zz5", "invalid"),
        ("code", "a|b|c", "invalid"),
        ("subject", "Foo/1", "invalid"),
        ("_list", "$current-allergies", "not-supported"),
    ],
)
def test_lenient_never_drops_the_value_of_a_served_parameter(
    client: httpx.Client, name: str, value: str, code: str
) -> None:
    """Dropping a filter's value would widen a clinical query to every resource:
    lenient handling skips unknown parameters only (R4 search §3.1.1.3, errors)."""
    client.post(
        "/Observation",
        json={"resourceType": "Observation", "status": "final", "code": {"text": "x"}},
    )
    for prefer in ("handling=lenient", "handling=strict"):
        r = client.get("/Observation", params={name: value}, headers={"prefer": prefer})
        assert r.status_code == 400, (prefer, r.text)
        issue = _issue(r)
        assert (issue["code"], issue["expression"]) == (code, [name])
        assert name in issue["diagnostics"]


def test_lenient_unknown_modifier_is_ignored_and_said_so(client: httpx.Client) -> None:
    client.post(
        "/Observation",
        json={"resourceType": "Observation", "status": "final", "code": {"text": "x"}},
    )
    query = {"code:nott": "http://loinc.org|1234-5"}
    strict = client.get("/Observation", params=query)
    assert strict.status_code == 400 and _issue(strict)["expression"] == ["code:nott"]
    r = client.get("/Observation", params=query, headers={"prefer": "handling=lenient"})
    assert r.status_code == 200, r.text
    entries = r.json()["entry"]
    assert [e["search"]["mode"] for e in entries].count("match") == 1
    (outcome,) = [e["resource"] for e in entries if e["search"]["mode"] == "outcome"]
    (issue,) = outcome["issue"]
    assert (issue["severity"], issue["expression"]) == ("warning", ["code:nott"])
    assert "'code:nott' was ignored" in issue["diagnostics"]
    assert "not filtered by it" in issue["diagnostics"]


def test_paging_cursor_is_signed_and_bound_to_the_query(client: httpx.Client) -> None:
    for i in range(5):
        client.post("/Basic", json={"resourceType": "Basic", "code": {"text": str(i)}})
    first = client.get("/Basic", params={"_count": "2"}).json()
    nxt = next(lk["url"] for lk in first["link"] if lk["relation"] == "next")
    token = httpx.URL(nxt).params["_page"]
    forged = token[:-2] + ("AA" if token[-2:] != "AA" else "BB")
    r = client.get("/Basic", params={"_count": "2", "_page": forged})
    assert r.status_code == 400 and _issue(r)["expression"] == ["_page"]
    r = client.get("/Basic", params={"_count": "3", "_page": token})
    assert r.status_code == 400 and "another query" in _issue(r)["diagnostics"]
    r = client.get("/Basic", params={"_count": "2", "_page": "not-a-cursor"})
    assert r.status_code == 400
