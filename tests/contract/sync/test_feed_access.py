"""Nothing reaches a caller through the feed that a read would hide (demo actors)."""

from __future__ import annotations

from gateway.record.repository import Repository
from gateway.storage.changes import FeedPosition
from gateway.sync.feed import read_feed
from gateway.sync.runtime import SyncRuntime
from tests.contract.sync.conftest import (
    CONTEXT_A,
    CONTEXT_B,
    group,
    heart_rate,
    load_two_ehpads,
)


def _drain(repo: Repository, position: FeedPosition) -> tuple[list[str], FeedPosition]:
    seen: list[str] = []
    while True:
        page = read_feed(repo, position, types=None, limit=2)
        seen += [
            f"{v.resource_type}/{v.id}" + (f"@{v.patient_id}" if v.patient_id else "")
            for v in page.versions
        ]
        position = page.position
        if page.caught_up and not page.versions:
            return seen, position


def test_each_ehpad_sees_its_residents_only(runtime: SyncRuntime) -> None:
    load_two_ehpads(runtime)
    a, _ = _drain(Repository(CONTEXT_A, runtime.services), FeedPosition())
    b, _ = _drain(Repository(CONTEXT_B, runtime.services), FeedPosition())
    assert "Patient/gaston@gaston" in a and "Group/ehpad-a" in a
    assert sum(x.startswith("Observation/") for x in a) == 1
    assert all("bruno" not in x and "alice" not in x and "ehpad-b" not in x for x in a)
    assert "Patient/bruno@bruno" in b and "Group/ehpad-b" in b
    assert all("gaston" not in x and "alice" not in x and "ehpad-a" not in x for x in b)


def test_a_resident_who_moves_from_a_to_b(runtime: SyncRuntime) -> None:
    dev = load_two_ehpads(runtime)
    feed_a = Repository(CONTEXT_A, runtime.services)
    feed_b = Repository(CONTEXT_B, runtime.services)
    _, at_a = _drain(feed_a, FeedPosition())
    _, at_b = _drain(feed_b, FeedPosition())
    with dev.writing() as w:
        w.create(heart_rate("gaston", 80))  # before the move: A's, not yet fetched by A
        w.update("Group", "ehpad-a", group("ehpad-a", []))
        w.update("Group", "ehpad-b", group("ehpad-b", ["bruno", "gaston"]))
    with dev.writing() as w:
        w.create(heart_rate("gaston", 90))
    after_a, _ = _drain(feed_a, at_a)
    after_b, _ = _drain(feed_b, at_b)
    assert after_a == ["Group/ehpad-a"], "A stops from the move on, even for unread data"
    gaston_b = [x for x in after_b if x.endswith("@gaston")]
    assert len(gaston_b) == 2, "B receives the resident's data from its cursor on"
    assert "Group/ehpad-b" in after_b
    everything_a, _ = _drain(feed_a, FeedPosition())
    assert all("gaston" not in x for x in everything_a), "nor does A see his past any more"
