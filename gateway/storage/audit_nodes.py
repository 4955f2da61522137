"""The Merkle tree of the audit log over SQL: stored subtree hashes, proofs, roots.

``audit_node(level, idx, hash)`` holds every complete subtree of the log (level 0:
the leaf hashes), written by the sequencer in the transaction that appends the
entries (:mod:`gateway.storage.audit_log`). Complete subtrees never change, so any
proof is a few lookups: :class:`SqlSubtreeHashes` answers each request for hashes
with **one** query, and :func:`gateway.audit.proofs.inclusion_proof` /
:func:`~gateway.audit.proofs.consistency_proof` make exactly one request per proof
(RFC 9162 §2.1.3.1 and §2.1.4.1).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from sqlalchemy.engine import Connection

from gateway.audit.proofs import (
    MissingNode,
    NodeId,
    consistency_proof,
    inclusion_proof,
    inclusion_ranges,
    tiling,
)
from gateway.audit.tree import Frontier

_CHUNK = 2000  # (level, idx) pairs per query
_SELECT = "SELECT level, idx, hash FROM audit_node WHERE "
# Up to this many nodes (one proof reads about 10 below the cached levels), one
# parametrised statement whose text depends only on the count: the driver's prepared
# statement cache then skips SQLite's parse and plan, about 4/5 of such a query's CPU.
_POINT_MAX = 64


class NodeCache:
    """Hashes of the upper complete subtrees, kept in process once read from the table.

    A complete subtree's hash never changes once committed (the tree is append-only),
    so a cached hash never goes stale. Only hashes *read* from ``audit_node`` enter,
    and only those of subtrees within :attr:`committed`, a tree size known to be
    committed: a hash read on a connection that has just appended (and may still roll
    back) is used but not kept. Levels from ``min_level`` up are kept: every proof
    reads one node per level, and the upper ones are shared by many proofs (a
    million-leaf tree has about 8,000 nodes from level 8 up). At ``max_entries`` the
    cache starts over, which bounds its memory whatever the size of the log.
    """

    def __init__(self, *, min_level: int = 8, max_entries: int = 1 << 16) -> None:
        self.min_level = min_level
        self.max_entries = max_entries
        self.committed = 0
        """A tree size known to be committed; it only grows (:meth:`saw_committed`)."""
        self._hashes: dict[NodeId, bytes] = {}

    def saw_committed(self, size: int) -> None:
        """Record that the first ``size`` leaves are committed."""
        if size > self.committed:
            self.committed = size  # a racing smaller write only costs a head read later

    def __len__(self) -> int:
        return len(self._hashes)

    def take(self, ids: Iterable[NodeId], into: dict[NodeId, bytes]) -> list[NodeId]:
        """Copy the cached hashes among ``ids`` into ``into``; return the others."""
        hashes, rest = self._hashes, []
        for node in ids:
            h = hashes.get(node)
            if h is None:
                rest.append(node)
            else:
                into[node] = h
        return rest

    def keep(self, level: int, idx: int, h: bytes) -> None:
        if level >= self.min_level and (idx + 1) << level <= self.committed:
            if len(self._hashes) >= self.max_entries:
                self._hashes = {}  # a rebinding: a concurrent reader keeps the old dict
            self._hashes[(level, idx)] = h


class SqlSubtreeHashes:
    """:class:`gateway.audit.proofs.SubtreeHashes` over ``audit_node``, on an open connection.

    Reads only what the connection sees: nodes of uncommitted appends by others are
    invisible, so a proof never covers entries that might still roll back. With a
    :class:`NodeCache`, the cached upper levels are not read again.
    """

    def __init__(self, conn: Connection, cache: NodeCache | None = None) -> None:
        self.conn = conn
        self.cache = cache

    def fetch(self, ids: Iterable[NodeId]) -> dict[NodeId, bytes]:
        """The stored hashes among ``ids`` (missing ones are simply absent).

        One query per :data:`_CHUNK` ids not in the cache, shaped
        ``(level = l AND idx IN (…)) OR …`` so that both back-ends answer it from the
        primary key (SQLite scans the table for a row-value ``(level, idx) IN (…)``).
        """
        found: dict[NodeId, bytes] = {}
        wanted = dict.fromkeys(ids)
        todo = list(wanted) if self.cache is None else self.cache.take(wanted, found)
        by_level: dict[int, list[int]] = {}
        for level, idx in todo:
            by_level.setdefault(level, []).append(idx)
        pairs = [(level, idx) for level, idxs in by_level.items() for idx in idxs]
        if len(pairs) <= _POINT_MAX:
            self._fetch_points(pairs, found)
            return found
        for start in range(0, len(pairs), _CHUNK):
            groups: dict[int, list[int]] = {}
            for level, idx in pairs[start : start + _CHUNK]:
                groups.setdefault(level, []).append(idx)
            # Only ints go in, through int(): never caller text. Building this SQL by
            # hand costs a tenth of the SQLAlchemy expression it replaces.
            where = " OR ".join(
                f"(level = {int(lv)} AND idx IN ({','.join(str(int(i)) for i in ix)}))"
                for lv, ix in groups.items()
            )
            self._found(self.conn.exec_driver_sql(_SELECT + where).all(), found)
        return found

    def _fetch_points(self, pairs: list[NodeId], found: dict[NodeId, bytes]) -> None:
        """A few nodes: one point lookup each on the primary key, joined by UNION ALL."""
        if not pairs:
            return
        mark = "?" if self.conn.dialect.paramstyle == "qmark" else "%s"
        one = f"{_SELECT}level = {mark} AND idx = {mark}"
        sql = " UNION ALL ".join([one] * len(pairs))
        params = tuple(int(x) for pair in pairs for x in pair)
        self._found(self.conn.exec_driver_sql(sql, params).all(), found)

    def _found(self, rows: Iterable[Any], found: dict[NodeId, bytes]) -> None:
        for level, idx, h in rows:
            found[(level, idx)] = h = bytes(h)
            if self.cache is not None:
                self.cache.keep(level, idx, h)

    def subtree_hashes(self, ids: Sequence[NodeId]) -> list[bytes]:
        found = self.fetch(ids)
        missing = [i for i in ids if i not in found]
        if missing:
            raise MissingNode(f"no stored subtree hash for {missing[0]}")
        return [found[i] for i in ids]


class PrefetchedHashes:
    """Hashes fetched once for many proofs (e.g. a patient's whole access log)."""

    def __init__(self, found: dict[NodeId, bytes]) -> None:
        self._found = found

    def subtree_hashes(self, ids: Sequence[NodeId]) -> list[bytes]:
        try:
            return [self._found[i] for i in ids]
        except KeyError as e:
            raise MissingNode(f"no stored subtree hash for {e.args[0]}") from None


def inclusion_node_ids(index: int, size: int) -> list[NodeId]:
    """Every stored node the inclusion proof of ``index`` in a tree of ``size`` reads."""
    return [node for a, b in inclusion_ranges(index, size) for node in tiling(a, b)]


def inclusion_proofs(
    conn: Connection, indexes: Sequence[int], size: int, cache: NodeCache | None = None
) -> list[list[bytes]]:
    """Inclusion proofs of many leaves in the tree of ``size``, from one batch of queries."""
    ids = [node for i in indexes for node in inclusion_node_ids(i, size)]
    hashes = PrefetchedHashes(SqlSubtreeHashes(conn, cache).fetch(ids))
    return [inclusion_proof(i, size, hashes) for i in indexes]


def leaf_and_inclusion(
    conn: Connection, index: int, size: int, cache: NodeCache | None = None
) -> tuple[bytes, list[bytes]]:
    """The stored leaf hash of entry ``index`` and its inclusion proof (at most one query)."""
    ids = [(0, index), *inclusion_node_ids(index, size)]
    hashes = PrefetchedHashes(SqlSubtreeHashes(conn, cache).fetch(ids))
    (leaf,) = hashes.subtree_hashes([(0, index)])
    return leaf, inclusion_proof(index, size, hashes)


def inclusion(
    conn: Connection, index: int, size: int, cache: NodeCache | None = None
) -> list[bytes]:
    """RFC 9162 ``PATH(index, D[size])`` (at most one query). Raises ValueError or MissingNode."""
    return inclusion_proof(index, size, SqlSubtreeHashes(conn, cache))


def consistency(
    conn: Connection, first: int, second: int, cache: NodeCache | None = None
) -> list[bytes]:
    """RFC 9162 ``PROOF(first, D[second])`` (at most one query). Raises ValueError or
    MissingNode."""
    return consistency_proof(first, second, SqlSubtreeHashes(conn, cache))


def root_at(conn: Connection, size: int) -> bytes:
    """The tree head at any ``size`` up to the committed one (one query)."""
    return Frontier.load(size, SqlSubtreeHashes(conn)).root()
