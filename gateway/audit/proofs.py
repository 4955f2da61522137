"""Inclusion and consistency proof generation from stored complete-subtree hashes.

RFC 9162 §2.1.3.1 (``PATH``) and §2.1.4.1 (``PROOF``/``SUBPROOF``) define proofs in
terms of ``MTH(D[a:b])`` for ranges that are either complete subtrees or the
incomplete right edge of the tree. A log only needs to store complete subtrees
(they never change once written): the hash of an incomplete range is rebuilt from
the complete subtrees that tile it, largest first, folded from the right.

Each proof needs O(log n) stored hashes, and they are fetched in **one** call to
:meth:`SubtreeHashes.subtree_hashes`, so a SQL store answers a proof with one query::

    SELECT level, idx, hash FROM audit_node WHERE (level, idx) IN (...)

Proofs are returned leaf-to-root, in the order the RFC's verification consumes them
(:func:`gateway.audit.merkle.verify_inclusion`, :func:`~gateway.audit.merkle.verify_consistency`).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

from gateway.audit.merkle import root_from_peaks

NodeId = tuple[int, int]
"""A complete subtree ``(level, index)``: leaves ``[index << level, (index + 1) << level)``."""


class MissingNode(LookupError):
    """A subtree hash the tree shape requires is not in the store (corrupt or truncated)."""


class SubtreeHashes(Protocol):
    """Read access to the stored hashes of complete subtrees."""

    def subtree_hashes(self, ids: Sequence[NodeId]) -> list[bytes]:
        """The hash of each ``(level, index)`` in ``ids``, in the same order.

        Raises :class:`MissingNode` if any is absent. ``ids`` may repeat an id.
        """
        ...


def tiling(start: int, end: int) -> list[NodeId]:
    """The complete subtrees tiling ``[start, end)``, largest (leftmost) first.

    Valid for the ranges proofs use: ``start`` is a multiple of a power of two at
    least ``end - start``, so the tiles follow the binary digits of ``end - start``.
    """
    ids: list[NodeId] = []
    while start < end:
        level = (end - start).bit_length() - 1
        if start & ((1 << level) - 1):
            raise ValueError(f"range [{start}, {end}) is not a subtree of the tree")
        ids.append((level, start >> level))
        start += 1 << level
    return ids


def peaks(size: int) -> list[NodeId]:
    """The complete subtrees covering a tree of ``size`` leaves (its compact range)."""
    return tiling(0, size)


def _largest_power_of_two_below(n: int) -> int:
    return 1 << ((n - 1).bit_length() - 1)


def inclusion_ranges(index: int, size: int) -> list[tuple[int, int]]:
    """The leaf ranges whose ``MTH`` forms ``PATH(index, D[size])``, leaf to root."""
    if not 0 <= index < size:
        raise ValueError(f"leaf index {index} is outside a tree of size {size}")
    ranges: list[tuple[int, int]] = []
    lo, hi = 0, size
    while hi - lo > 1:
        mid = lo + _largest_power_of_two_below(hi - lo)
        if index < mid:
            ranges.append((mid, hi))
            hi = mid
        else:
            ranges.append((lo, mid))
            lo = mid
    ranges.reverse()
    return ranges


def consistency_ranges(size1: int, size2: int) -> list[tuple[int, int]]:
    """The leaf ranges whose ``MTH`` forms ``PROOF(size1, D[size2])``, leaf to root.

    Defined for ``0 < size1 <= size2`` (an empty proof when they are equal), matching
    what :func:`gateway.audit.merkle.verify_consistency` accepts.
    """
    if not 0 < size1 <= size2:
        raise ValueError(f"no consistency proof from size {size1} to size {size2}")
    ranges: list[tuple[int, int]] = []
    lo, hi, m, whole = 0, size2, size1, True
    while m != hi - lo:
        k = _largest_power_of_two_below(hi - lo)
        if m <= k:
            ranges.append((lo + k, hi))
            hi = lo + k
        else:
            ranges.append((lo, lo + k))
            lo, m, whole = lo + k, m - k, False
    if not whole:  # SUBPROOF(m, D[m], false) = {MTH(D[m])}
        ranges.append((lo, hi))
    ranges.reverse()
    return ranges


def _hash_ranges(ranges: Sequence[tuple[int, int]], nodes: SubtreeHashes) -> list[bytes]:
    tiles = [tiling(a, b) for a, b in ranges]
    flat = [node for tile in tiles for node in tile]
    hashes = nodes.subtree_hashes(flat)
    if len(hashes) != len(flat):
        raise MissingNode("the node store returned the wrong number of hashes")
    out: list[bytes] = []
    pos = 0
    for tile in tiles:
        out.append(root_from_peaks(hashes[pos : pos + len(tile)]))
        pos += len(tile)
    return out


def inclusion_proof(index: int, size: int, nodes: SubtreeHashes) -> list[bytes]:
    """RFC 9162 §2.1.3.1 ``PATH(index, D[size])`` from stored subtree hashes.

    Raises :class:`ValueError` unless ``0 <= index < size``, and :class:`MissingNode`
    if the store lacks a subtree of the first ``size`` leaves.
    """
    return _hash_ranges(inclusion_ranges(index, size), nodes)


def consistency_proof(size1: int, size2: int, nodes: SubtreeHashes) -> list[bytes]:
    """RFC 9162 §2.1.4.1 ``PROOF(size1, D[size2])`` from stored subtree hashes.

    Raises :class:`ValueError` unless ``0 < size1 <= size2``, and :class:`MissingNode`
    if the store lacks a subtree of the first ``size2`` leaves.
    """
    return _hash_ranges(consistency_ranges(size1, size2), nodes)
