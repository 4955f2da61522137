"""The append-only tree state and the in-memory node store."""

from __future__ import annotations

import pytest

from gateway.audit.merkle import EMPTY_ROOT, leaf_hash
from gateway.audit.proofs import MissingNode
from gateway.audit.tree import Frontier, MemoryNodeStore, Node, NodeStore, root

from . import audit_reference as ref


def built(n: int) -> tuple[Frontier, MemoryNodeStore, list[bytes]]:
    entries = ref.entries_for(n)
    store = MemoryNodeStore()
    frontier = Frontier()
    for e in entries:
        frontier, nodes = frontier.append(leaf_hash(e))
        store.put_nodes(nodes)
    return frontier, store, entries


def test_appending_the_ct_leaves_stores_exactly_the_published_nodes() -> None:
    store = MemoryNodeStore()
    frontier, nodes = Frontier().extend([leaf_hash(d) for d in ref.CT_LEAF_INPUTS])
    store.put_nodes(nodes)
    assert frontier.root() == ref.CT_ROOTS[8]
    for level, row in enumerate(ref.CT_NODES):
        assert store.subtree_hashes([(level, i) for i in range(len(row))]) == row
    assert len(nodes) == 8 + 4 + 2 + 1


def test_append_returns_the_nodes_it_completes_bottom_up() -> None:
    frontier, _, entries = built(7)
    leaf7 = leaf_hash(b"eighth")
    after, nodes = frontier.append(leaf7)
    assert [(n.level, n.idx) for n in nodes] == [(0, 7), (1, 3), (2, 1), (3, 0)]
    assert nodes[-1].hash == after.root() == ref.mth([*entries, b"eighth"])
    assert after.size == 8
    assert len(after.peak_hashes) == 1
    assert frontier.size == 7  # the old state is untouched: adopt the new one on commit


@pytest.mark.parametrize("n", [0, 1, 5, 13, 64, 100])
def test_root_at_every_past_size_from_stored_nodes(n: int) -> None:
    _, store, entries = built(100)
    assert root(n, store) == ref.mth(entries[:n])
    assert Frontier.load(n, store).root() == ref.mth(entries[:n])


def test_a_loaded_frontier_continues_like_the_original() -> None:
    frontier, store, _ = built(13)
    loaded = Frontier.load(13, store)
    assert loaded == frontier
    assert loaded.append(leaf_hash(b"x")) == frontier.append(leaf_hash(b"x"))


def test_empty_frontier() -> None:
    assert Frontier().root() == EMPTY_ROOT
    assert Frontier.load(0, MemoryNodeStore()) == Frontier()


def test_frontier_refuses_an_inconsistent_state_or_a_bad_leaf() -> None:
    with pytest.raises(ValueError, match="one peak per set bit"):
        Frontier(3, (EMPTY_ROOT,))
    with pytest.raises(ValueError, match="32 bytes"):
        Frontier(1, (b"short",))
    with pytest.raises(ValueError, match="32 bytes"):
        Frontier().append(b"an entry, not its hash")


def test_store_is_append_only() -> None:
    _, store, _ = built(4)
    same = store.subtree_hashes([(0, 3)])[0]
    store.put_nodes([Node(0, 3, same)])  # re-storing an identical node is harmless
    with pytest.raises(ValueError, match="another hash"):
        store.put_nodes([Node(0, 3, EMPTY_ROOT)])
    with pytest.raises(ValueError, match="gap"):
        store.put_nodes([Node(0, 9, EMPTY_ROOT)])
    with pytest.raises(ValueError, match="invalid node"):
        store.put_nodes([Node(0, -1, EMPTY_ROOT)])
    assert store.leaf_count() == 4


@pytest.mark.parametrize("node", [(0, 4), (0, -1), (3, 0), (-1, 0), (9, 0)])
def test_store_reports_missing_nodes_instead_of_guessing(node: tuple[int, int]) -> None:
    _, store, _ = built(4)
    with pytest.raises(MissingNode):
        store.subtree_hashes([node])


def test_memory_store_implements_the_protocol() -> None:
    store: NodeStore = MemoryNodeStore()
    assert store.subtree_hashes([]) == []
