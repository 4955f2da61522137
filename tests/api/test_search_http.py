"""Search over HTTP: GET and POST _search alike, links and paging, totals, subsets,
compartments, and fresh results on every request."""

from __future__ import annotations

from typing import Any

import httpx

SUBSETTED = {
    "system": "http://terminology.hl7.org/CodeSystem/v3-ObservationValue",
    "code": "SUBSETTED",
    "display": "subsetted",
}


def _patient(family: str, **fields: Any) -> dict[str, Any]:
    return {"resourceType": "Patient", "name": [{"family": family}], **fields}


def _ids(bundle: dict[str, Any], mode: str = "match") -> list[str]:
    return [e["resource"]["id"] for e in bundle.get("entry", []) if e["search"]["mode"] == mode]


def _link(bundle: dict[str, Any], relation: str) -> str | None:
    return next((lk["url"] for lk in bundle["link"] if lk["relation"] == relation), None)


def test_get_and_post_search_agree(client: httpx.Client) -> None:
    for family in ("Durand", "Dupont", "Martin"):
        client.post("/Patient", json=_patient(family, birthDate="1970-08-03"))
    got = client.get("/Patient", params={"name": "du", "birthdate": "1970"}).json()
    form = {"content-type": "application/x-www-form-urlencoded"}
    posted = client.post("/Patient/_search", content=b"name=du&birthdate=1970", headers=form)
    assert posted.status_code == 200
    assert sorted(_ids(got)) == sorted(_ids(posted.json()))
    assert len(_ids(got)) == 2 and got["total"] == 2
    mixed = client.post("/Patient/_search?name=du", content=b"birthdate=1971", headers=form)
    assert _ids(mixed.json()) == []


def test_post_search_takes_a_form_or_an_empty_body_and_refuses_any_other(
    client: httpx.Client,
) -> None:
    client.post("/Patient", json=_patient("Zeller"))
    empty = client.post("/Patient/_search?name=zeller")
    assert empty.status_code == 200 and len(_ids(empty.json())) == 1
    typed_empty = client.post(
        "/Patient/_search?name=zeller", headers={"content-type": "application/fhir+json"}
    )
    assert typed_empty.status_code == 200 and len(_ids(typed_empty.json())) == 1
    form = {"content-type": "application/x-www-form-urlencoded; charset=utf-8"}
    none = client.post("/Patient/_search", content=b"name=zzz", headers=form)
    assert none.status_code == 200 and _ids(none.json()) == []
    for content_type, body in (
        ("application/fhir+json", b'{"name":"zzz"}'),
        ("application/json", b'{"name":"zzz"}'),
        ("text/plain", b"name=zzz"),
        (None, b"name=zzz"),
    ):
        headers = {"content-type": content_type} if content_type else {}
        r = client.post("/Patient/_search", content=body, headers=headers)
        assert r.status_code == 415, (content_type, r.text)
        text = r.json()["issue"][0]["diagnostics"]
        assert text.endswith("send the search parameters as application/x-www-form-urlencoded")


def test_paging_links_walk_every_match_once(client: httpx.Client) -> None:
    made = {client.post("/Patient", json=_patient(f"P{i:02d}")).json()["id"] for i in range(11)}
    first = client.get("/Patient", params={"_count": "4", "_sort": "-family"}).json()
    assert "total" not in first
    assert _link(first, "self") and _link(first, "first") and _link(first, "prev") is None
    seen: list[str] = []
    pages = [first]
    url = _link(first, "next")
    seen += _ids(first)
    while url:
        page = client.get(url).json()
        pages.append(page)
        seen += _ids(page)
        url = _link(page, "next")
    assert len(pages) == 3 and len(seen) == 11 and set(seen) == made
    families = [f"P{i:02d}" for i in range(11)]
    by_id = {
        e["resource"]["id"]: e["resource"]["name"][0]["family"] for p in pages for e in p["entry"]
    }
    assert [by_id[i] for i in seen] == sorted(families, reverse=True)
    back = client.get(_link(pages[-1], "prev") or "").json()
    assert _ids(back) == _ids(pages[1])
    assert client.get(_link(pages[-1], "first") or "").json()["entry"] == first["entry"]
    accurate = client.get("/Patient", params={"_count": "4", "_total": "accurate"}).json()
    assert accurate["total"] == 11


def test_a_fresh_query_sees_what_was_just_written(client: httpx.Client) -> None:
    assert client.get("/Patient", params={"name": "Nouveau"}).json()["total"] == 0
    client.post("/Patient", json=_patient("Nouveau"))
    assert client.get("/Patient", params={"name": "Nouveau"}).json()["total"] == 1


def test_summary_and_elements(client: httpx.Client) -> None:
    client.post(
        "/Patient",
        json=_patient(
            "Durand",
            birthDate="1970",
            gender="female",
            text={
                "status": "generated",
                "div": '<div xmlns="http://www.w3.org/1999/xhtml">x</div>',
            },
            maritalStatus={"text": "married"},
        ),
    )

    def only(params: dict[str, str]) -> dict[str, Any]:
        bundle = client.get("/Patient", params=params).json()
        resource: dict[str, Any] = bundle["entry"][0]["resource"]
        return resource

    elements = only({"_elements": "birthDate"})
    assert set(elements) == {"resourceType", "id", "meta", "birthDate"}
    assert SUBSETTED in elements["meta"]["tag"]
    summary = only({"_summary": "true"})
    assert {"name", "gender", "birthDate"} <= set(summary)
    assert "maritalStatus" not in summary and "text" not in summary
    assert SUBSETTED in summary["meta"]["tag"]
    text = only({"_summary": "text"})
    assert set(text) == {"resourceType", "id", "meta", "text"}
    data = only({"_summary": "data"})
    assert "text" not in data and "maritalStatus" in data
    full = only({})
    assert "tag" not in full["meta"]
    counted = client.get("/Patient", params={"_summary": "count"}).json()
    assert counted["total"] == 1 and "entry" not in counted


def test_read_and_vread_subsets_are_tagged_as_in_a_search(client: httpx.Client) -> None:
    """A read or vread with ``_summary``/``_elements`` is cut and tagged SUBSETTED like a
    search's entries (search.html#summary); its ETag stays the version's."""
    created = client.post(
        "/Patient",
        json=_patient(
            "Durand",
            birthDate="1970",
            text={
                "status": "generated",
                "div": '<div xmlns="http://www.w3.org/1999/xhtml">x</div>',
            },
            maritalStatus={"text": "married"},
        ),
    )
    pid = created.json()["id"]
    searched = client.get("/Patient", params={"_id": pid, "_summary": "true"}).json()
    for path in (f"/Patient/{pid}", f"/Patient/{pid}/_history/1"):
        full = client.get(path)
        assert full.status_code == 200 and "tag" not in full.json()["meta"]
        assert "maritalStatus" in full.json()
        for params in ({"_summary": "false"}, {"_summary": "count"}):
            assert client.get(path, params=params).json() == full.json()
        summary = client.get(path, params={"_summary": "true"})
        assert summary.status_code == 200
        assert summary.headers["etag"] == full.headers["etag"] == 'W/"1"'
        assert summary.json() == searched["entry"][0]["resource"]
        assert summary.json()["meta"]["tag"] == [SUBSETTED]
        assert "maritalStatus" not in summary.json() and "text" not in summary.json()
        elements = client.get(path, params={"_elements": "birthDate"}).json()
        assert set(elements) == {"resourceType", "id", "meta", "birthDate"}
        assert elements["meta"]["tag"] == [SUBSETTED]
        text = client.get(path, params={"_summary": "text"}).json()
        assert set(text) == {"resourceType", "id", "meta", "text"}
        assert SUBSETTED in text["meta"]["tag"]
        data = client.get(path, params={"_summary": "data"}).json()
        assert "text" not in data and SUBSETTED in data["meta"]["tag"]
        bad = client.get(path, params={"_summary": "maybe"})
        assert bad.status_code == 400


def test_include_over_http(client: httpx.Client) -> None:
    dr = client.post("/Practitioner", json={"resourceType": "Practitioner"}).json()["id"]
    pid = client.post(
        "/Patient",
        json={
            "resourceType": "Patient",
            "generalPractitioner": [{"reference": f"Practitioner/{dr}"}],
        },
    ).json()["id"]
    bundle = client.get(
        "/Patient", params={"_id": pid, "_include": "Patient:general-practitioner"}
    ).json()
    assert _ids(bundle) == [pid] and _ids(bundle, "include") == [dr]
    assert bundle["total"] == 1


def test_compartment_search(client: httpx.Client) -> None:
    a = client.post("/Patient", json=_patient("A")).json()["id"]
    b = client.post("/Patient", json=_patient("B")).json()["id"]
    obs = {"resourceType": "Observation", "status": "final", "code": {"text": "x"}}
    mine = client.post("/Observation", json={**obs, "subject": {"reference": f"Patient/{a}"}})
    client.post("/Observation", json={**obs, "subject": {"reference": f"Patient/{b}"}})
    bundle = client.get(f"/Patient/{a}/Observation").json()
    assert _ids(bundle) == [mine.json()["id"]]
    assert (_link(bundle, "self") or "").endswith(f"/fhir/Patient/{a}/Observation")
    assert client.get(f"/Patient/{a}/Observation", params={"code:text": "y"}).json()["total"] == 0
    outside = client.get(f"/Patient/{a}/Organization")
    assert outside.status_code == 400
    assert client.get(f"/Encounter/{a}/Observation").status_code == 400
