"""History at instance, type and system level, with _since, _at and signed paging."""

from __future__ import annotations

from urllib.parse import parse_qs, urlsplit

import httpx


def _page_token(link: str) -> str:
    return parse_qs(urlsplit(link).query)["_page"][0]


def test_instance_type_and_system_history(client: httpx.Client) -> None:
    a = client.post("/Patient", json={"resourceType": "Patient"}).json()
    client.put(f"/Patient/{a['id']}", json={**a, "gender": "male"})
    client.delete(f"/Patient/{a['id']}")
    client.post("/Group", json={"resourceType": "Group", "type": "person", "actual": True})
    inst = client.get(f"/Patient/{a['id']}/_history").json()
    assert inst["type"] == "history"
    assert [e["request"]["method"] for e in inst["entry"]] == ["DELETE", "PUT", "POST"]
    assert "resource" not in inst["entry"][0]
    assert [e["resource"]["meta"]["versionId"] for e in inst["entry"][1:]] == ["2", "1"]
    assert len(client.get("/Patient/_history").json()["entry"]) == 3
    assert len(client.get("/_history").json()["entry"]) == 4
    assert client.get("/Patient/nobody/_history").status_code == 404


def test_a_version_that_created_says_201(client: httpx.Client) -> None:
    """A history entry answers what its interaction answered: 201 for version 1 and for
    the first version after a deletion (a PUT that created again), 200 for an update."""
    body = {"resourceType": "Patient", "id": "again"}
    statuses = [client.put("/Patient/again", json=body).status_code]
    statuses.append(client.put("/Patient/again", json={**body, "active": True}).status_code)
    statuses.append(client.delete("/Patient/again").status_code)
    statuses.append(client.put("/Patient/again", json=body).status_code)
    statuses.append(client.put("/Patient/again", json={**body, "active": False}).status_code)
    assert statuses == [201, 200, 204, 201, 200]
    want = ["200", "201", "204", "200", "201"]  # newest first
    for count in (10, 1):  # a page that holds a version without the one before it
        seen: list[str] = []
        url: str | None = f"/Patient/again/_history?_count={count}"
        while url:
            page = client.get(url).json()
            seen += [e["response"]["status"] for e in page["entry"]]
            url = next(
                (link["url"] for link in page.get("link", []) if link["relation"] == "next"), None
            )
        assert seen == want, count
    system = client.get("/Patient/_history", params={"_count": 2}).json()
    assert [e["response"]["status"] for e in system["entry"]] == want[:2]


def test_since_and_at(client: httpx.Client) -> None:
    first = client.post("/Patient", json={"resourceType": "Patient"}).json()
    cut = first["meta"]["lastUpdated"]
    second = client.put(f"/Patient/{first['id']}", json={**first, "active": True}).json()
    since = client.get("/_history", params={"_since": second["meta"]["lastUpdated"]}).json()
    assert [e["resource"]["meta"]["versionId"] for e in since["entry"]] == ["2"]
    at = client.get(f"/Patient/{first['id']}/_history", params={"_at": cut}).json()
    assert [e["resource"]["meta"]["versionId"] for e in at["entry"]] == ["1"]


def test_paging_walks_everything_once_and_refuses_tampering(client: httpx.Client) -> None:
    ids = {
        client.post("/Basic", json={"resourceType": "Basic", "code": {"text": str(i)}}).json()["id"]
        for i in range(7)
    }
    seen: list[str] = []
    url: str | None = "/Basic/_history?_count=3"
    pages = 0
    while url:
        page = client.get(url).json()
        pages += 1
        seen.extend(e["resource"]["id"] for e in page.get("entry", []))
        nxt = [link["url"] for link in page["link"] if link["relation"] == "next"]
        url = nxt[0] if nxt else None
    assert pages == 3
    assert sorted(seen) == sorted(ids) and len(seen) == 7
    first = client.get("/Basic/_history?_count=3").json()
    token = _page_token(next(lk["url"] for lk in first["link"] if lk["relation"] == "next"))
    forged = token[:-2] + ("AA" if token[-2:] != "AA" else "BB")
    assert client.get("/Basic/_history", params={"_count": "3", "_page": forged}).status_code == 400
    other_query = client.get("/Basic/_history", params={"_count": "4", "_page": token})
    assert other_query.status_code == 400


def test_an_unknown_parameter_is_named_without_its_control_characters(
    client: httpx.Client,
) -> None:
    """_history, $everything and the change feed name an unknown parameter (400), with a
    %1B or %00 it carried escaped: diagnostics reach terminals and log viewers."""
    for path in ("/Patient/_history", "/_history", "/Patient/x/$everything"):
        r = client.get(path + "?fo%1B%5B2Jo=1")
        assert r.status_code == 400, (path, r.text)
        issue = r.json()["issue"][0]
        assert "\\x1b" in issue["diagnostics"], issue
        assert all(c.isprintable() for c in issue["diagnostics"] + "".join(issue["expression"]))
