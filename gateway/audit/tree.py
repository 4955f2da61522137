"""The append-only Merkle tree of the audit log, as state plus the nodes to store.

The log's storage keeps every *complete* subtree hash ``(level, index, hash)``: they
never change once written, so proofs are O(log n) lookups
(:mod:`gateway.audit.proofs`). Appending leaf ``n`` completes exactly one new node per
trailing one bit of ``n``, plus the leaf itself.

:class:`Frontier` is the immutable in-memory state a single sequencer needs: the tree
size and the hashes of its peaks (the complete subtrees that cover ``[0, size)``,
largest first). :meth:`Frontier.append` returns the next frontier *and* the nodes to
insert, without touching storage, so the storage layer inserts the nodes in the same
transaction as the entry and adopts the new frontier only after the commit::

    new_frontier, nodes = frontier.append(leaf_hash(entry_bytes))
    with transaction:
        insert the entry (seq = frontier.size) and the nodes
    frontier = new_frontier

A SQL table ``audit_node(level INT, idx BIGINT, hash BYTEA, PRIMARY KEY (level, idx))``
implements :class:`NodeStore` (its columns are the fields of :class:`Node`, so
``executemany`` takes the nodes as they are); :class:`MemoryNodeStore` is a real
in-memory one.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import NamedTuple, Protocol

from gateway.audit.merkle import HASH_SIZE, node_hash, root_from_peaks
from gateway.audit.proofs import MissingNode, NodeId, SubtreeHashes, peaks


class Node(NamedTuple):
    """One complete subtree hash to store: leaves ``[idx << level, (idx + 1) << level)``."""

    level: int
    idx: int  # not "index": that name is taken by tuple.index
    hash: bytes


class NodeStore(SubtreeHashes, Protocol):
    """Stored complete-subtree hashes: read them (:class:`SubtreeHashes`) and add some."""

    def put_nodes(self, nodes: Iterable[Node]) -> None:
        """Store new nodes. Re-storing an identical node is harmless; a different hash
        for a stored ``(level, index)`` is an error (the tree is append-only)."""
        ...


@dataclass(frozen=True, slots=True)
class Frontier:
    """The tree at ``size`` leaves, as the hashes of its peaks (largest first)."""

    size: int = 0
    peak_hashes: tuple[bytes, ...] = ()

    def __post_init__(self) -> None:
        if self.size < 0 or len(self.peak_hashes) != self.size.bit_count():
            raise ValueError("a frontier has one peak per set bit of its size")
        if any(len(h) != HASH_SIZE for h in self.peak_hashes):
            raise ValueError("peak hashes are 32 bytes")

    @classmethod
    def load(cls, size: int, nodes: SubtreeHashes) -> Frontier:
        """Rebuild the frontier of a stored tree of ``size`` leaves (one lookup)."""
        return cls(size, tuple(nodes.subtree_hashes(peaks(size))))

    def root(self) -> bytes:
        """The tree head ``MTH(D[size])``."""
        return root_from_peaks(self.peak_hashes)

    def append(self, leaf: bytes) -> tuple[Frontier, list[Node]]:
        """Add the leaf hash at index ``size``: the next frontier and the new nodes.

        The nodes are the leaf at level 0, then each subtree it completes, bottom up.
        """
        if len(leaf) != HASH_SIZE:
            raise ValueError("a leaf hash is 32 bytes")
        index = self.size
        stack = list(self.peak_hashes)
        nodes = [Node(0, index, leaf)]
        h, level = leaf, 0
        while index & 1:  # each trailing one bit closes a left sibling
            h = node_hash(stack.pop(), h)
            index >>= 1
            level += 1
            nodes.append(Node(level, index, h))
        stack.append(h)
        return Frontier(self.size + 1, tuple(stack)), nodes

    def extend(self, leaves: Iterable[bytes]) -> tuple[Frontier, list[Node]]:
        """Append several leaf hashes in order (a group commit)."""
        frontier, out = self, []
        for leaf in leaves:
            frontier, nodes = frontier.append(leaf)
            out.extend(nodes)
        return frontier, out


class MemoryNodeStore:
    """An in-memory :class:`NodeStore`: one list of hashes per level.

    Levels fill left to right in an append-only tree, so position is the index: no
    per-node key objects, which keeps a million-leaf tree in a few hundred MB.
    """

    def __init__(self) -> None:
        self._levels: list[list[bytes]] = []

    def subtree_hashes(self, ids: Sequence[NodeId]) -> list[bytes]:
        levels = self._levels
        out = []
        for level, index in ids:
            # explicit bounds: a negative index would silently read from the end
            if not (0 <= level < len(levels) and 0 <= index < len(levels[level])):
                raise MissingNode(f"no stored subtree hash for {(level, index)}")
            out.append(levels[level][index])
        return out

    def put_nodes(self, nodes: Iterable[Node]) -> None:
        levels = self._levels
        for level, index, h in nodes:
            if level < 0 or index < 0 or len(h) != HASH_SIZE:
                raise ValueError(f"invalid node {(level, index)}")
            while len(levels) <= level:
                levels.append([])
            row = levels[level]
            if index == len(row):
                row.append(h)
            elif index > len(row):
                raise ValueError(f"node {(level, index)} would leave a gap at level {level}")
            elif row[index] != h:
                raise ValueError(f"node {(level, index)} is already stored with another hash")

    def leaf_count(self) -> int:
        """How many leaves are stored."""
        return len(self._levels[0]) if self._levels else 0


def root(size: int, nodes: SubtreeHashes) -> bytes:
    """The tree head at any past ``size`` from stored nodes (O(log n), one lookup)."""
    return Frontier.load(size, nodes).root()
