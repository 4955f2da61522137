"""Keyset paging: pages concatenate to exactly the result set, also while others write."""

from __future__ import annotations

import random
from typing import Any

import pytest

from gateway.record.repository import Repository
from gateway.storage.search import Position
from tests.contract.searching import ids, page, seed


def _obs(rid: str, rng: random.Random) -> dict[str, Any]:
    out: dict[str, Any] = {
        "resourceType": "Observation",
        "id": rid,
        "status": rng.choice(["final", "amended"]),
        "code": {"coding": [{"system": "urn:c", "code": rng.choice("xyz")}]},
    }
    if rng.random() < 0.8:  # some without a date: they sort last
        out["effectiveDateTime"] = f"2020-0{rng.randint(1, 3)}-0{rng.randint(1, 3)}"
    if rng.random() < 0.8:
        out["valueQuantity"] = {"value": rng.randint(1, 4)}
    return out


def walk(repo: Repository, query: str) -> list[str]:
    """Follow ``next`` positions from the first page to the last."""
    seen: list[str] = []
    position: Position | None = None
    for _ in range(200):
        result = page(repo, "Observation", query, position)
        seen += [v.id for v in result.matches]
        if result.next is None:
            return seen
        position = result.next
    raise AssertionError("paging did not end")


QUERIES = ["", "_sort=date", "_sort=-date,value-quantity", "code=x,y&_sort=-value-quantity,date"]


@pytest.mark.parametrize("count", [1, 4, 7])
def test_pages_concatenate_to_the_result_set(repo: Repository, count: int) -> None:
    rng = random.Random(count)
    seed(repo, [_obs(f"o{i:02d}", rng) for i in range(23)])
    for query in QUERIES:
        everything = ids(repo, "Observation", query)
        assert walk(repo, f"{query}&_count={count}") == everything, query


def test_prev_walks_back_the_same_pages(repo: Repository) -> None:
    rng = random.Random(5)
    seed(repo, [_obs(f"o{i:02d}", rng) for i in range(17)])
    query = "_sort=-date,value-quantity&_count=4"
    forward: list[list[str]] = []
    last = None
    position: Position | None = None
    while True:
        last = page(repo, "Observation", query, position)
        forward.append([v.id for v in last.matches])
        if last.next is None:
            break
        position = last.next
    backward: list[list[str]] = []
    assert last is not None
    position = last.prev
    while position is not None:
        before = page(repo, "Observation", query, position)
        backward.append([v.id for v in before.matches])
        position = before.prev
    assert backward == list(reversed(forward[:-1]))


def test_no_duplicates_and_no_gaps_under_concurrent_inserts(repo: Repository) -> None:
    rng = random.Random(11)
    seed(repo, [_obs(f"o{i:02d}", rng) for i in range(20)])
    queries = ("_count=3", "_sort=date&_count=3", "_sort=-value-quantity,date&_count=3")
    for q, query in enumerate(queries):
        before = set(ids(repo, "Observation", query.split("&_count")[0]))
        seen: list[str] = []
        position: Position | None = None
        n = 0
        while True:
            result = page(repo, "Observation", query, position)
            seen += [v.id for v in result.matches]
            # Another client writes between two pages: new resources before and after.
            seed(repo, [_obs(f"new{q}-{n}-{k}", rng) for k in range(2)])
            n += 1
            if result.next is None:
                break
            position = result.next
        assert len(seen) == len(set(seen)), query
        assert before <= set(seen), query
