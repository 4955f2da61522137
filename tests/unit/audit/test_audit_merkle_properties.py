"""Property tests: generated proofs always verify, and any single-bit change fails.

A size is only meaningful together with its root (a checkpoint signs the pair), so a
flipped size is checked against the genuine root of a tree of that size; see
``test_inclusion_does_not_bind_the_size_on_its_own`` for why.
"""

from __future__ import annotations

from collections.abc import Iterator

from hypothesis import given, settings
from hypothesis import strategies as st

from gateway.audit.merkle import leaf_hash, root_from_leaves, verify_consistency, verify_inclusion
from gateway.audit.proofs import consistency_proof, inclusion_proof
from gateway.audit.tree import Frontier, MemoryNodeStore

from . import audit_reference as ref

# Distinct entries: with two equal leaves, swapping their indexes is no tampering.
entry_lists = st.lists(st.binary(max_size=12), min_size=1, max_size=70, unique=True)


class Log:
    """A tree over ``entries`` plus a longer tail, so any nearby size has a true root."""

    def __init__(self, entries: list[bytes]) -> None:
        self.size = len(entries)
        tail = [b"tail" + i.to_bytes(2, "big") for i in range(3 * self.size + 2)]
        self.leaves = [leaf_hash(e) for e in entries + [t for t in tail if t not in entries]]
        self.store = MemoryNodeStore()
        self.store.put_nodes(Frontier().extend(self.leaves)[1])

    def root(self, size: int) -> bytes:
        return root_from_leaves(self.leaves[:size])


def flips(value: bytes) -> Iterator[bytes]:
    for i in range(len(value) * 8):
        b = bytearray(value)
        b[i // 8] ^= 1 << (i % 8)
        yield bytes(b)


def int_flips(value: int) -> Iterator[int]:
    for bit in range(value.bit_length() + 1):
        yield value ^ (1 << bit)


@settings(deadline=None)
@given(entries=entry_lists, data=st.data())
def test_inclusion_proofs_verify_and_every_bit_flip_fails(
    entries: list[bytes], data: st.DataObject
) -> None:
    log = Log(entries)
    n = log.size
    m = data.draw(st.integers(0, n - 1), label="index")
    leaf, root = log.leaves[m], log.root(n)
    proof = inclusion_proof(m, n, log.store)
    assert proof == ref.path(m, entries)
    assert verify_inclusion(leaf, m, n, proof, root)

    for i, element in enumerate(proof):
        for bad in flips(element):
            assert not verify_inclusion(leaf, m, n, [*proof[:i], bad, *proof[i + 1 :]], root)
    for bad in flips(root):
        assert not verify_inclusion(leaf, m, n, proof, bad)
    for bad in flips(leaf):
        assert not verify_inclusion(bad, m, n, proof, root)
    for bad_index in int_flips(m):
        assert not verify_inclusion(leaf, bad_index, n, proof, root)
    for bad_size in int_flips(n):
        assert not verify_inclusion(leaf, m, bad_size, proof, log.root(bad_size))


@settings(deadline=None)
@given(entries=entry_lists, data=st.data())
def test_consistency_proofs_verify_and_every_bit_flip_fails(
    entries: list[bytes], data: st.DataObject
) -> None:
    log = Log(entries)
    n = log.size
    m = data.draw(st.integers(1, n), label="size1")
    r1, r2 = log.root(m), log.root(n)
    proof = consistency_proof(m, n, log.store)
    assert proof == ref.proof(m, entries)
    assert verify_consistency(m, n, proof, r1, r2)

    for i, element in enumerate(proof):
        for bad in flips(element):
            assert not verify_consistency(m, n, [*proof[:i], bad, *proof[i + 1 :]], r1, r2)
    for bad in flips(r1):
        assert not verify_consistency(m, n, proof, bad, r2)
    for bad in flips(r2):
        assert not verify_consistency(m, n, proof, r1, bad)
    for bad1 in int_flips(m):
        assert not verify_consistency(bad1, n, proof, log.root(bad1), r2)
    for bad2 in int_flips(n):
        assert not verify_consistency(m, bad2, proof, r1, log.root(bad2))


@settings(deadline=None)
@given(entries=entry_lists)
def test_frontier_appends_the_right_nodes_and_root(entries: list[bytes]) -> None:
    frontier = Frontier()
    for i, e in enumerate(entries):
        frontier, nodes = frontier.append(leaf_hash(e))
        assert nodes[0] == (0, i, leaf_hash(e))
        assert len(nodes) == ((i + 1) & -(i + 1)).bit_length()  # 1 + trailing zeros
        assert frontier.root() == ref.mth(entries[: i + 1])


@given(
    leaf=st.binary(max_size=40),
    index=st.integers(-(2**70), 2**70),
    size=st.integers(-(2**70), 2**70),
    proof=st.lists(st.binary(min_size=30, max_size=34), max_size=80),
    root=st.binary(max_size=40),
)
def test_inclusion_verification_never_raises(
    leaf: bytes, index: int, size: int, proof: list[bytes], root: bytes
) -> None:
    assert verify_inclusion(leaf, index, size, proof, root) in (True, False)


@given(
    size1=st.integers(-(2**70), 2**70),
    size2=st.integers(-(2**70), 2**70),
    proof=st.lists(st.binary(min_size=30, max_size=34), max_size=80),
    root1=st.binary(max_size=40),
    root2=st.binary(max_size=40),
)
def test_consistency_verification_never_raises(
    size1: int, size2: int, proof: list[bytes], root1: bytes, root2: bytes
) -> None:
    assert verify_consistency(size1, size2, proof, root1, root2) in (True, False)
