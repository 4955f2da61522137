"""Known-answer tests for RFC 9162 tree hashes, inclusion and consistency proofs.

Expected values come from the naive transcription of the RFC in ``audit_reference``
and from the published Certificate Transparency vectors, never from the code under
test.
"""

from __future__ import annotations

import hashlib

import pytest

from gateway.audit.merkle import (
    EMPTY_ROOT,
    consistency_proof_length,
    inclusion_proof_length,
    leaf_hash,
    node_hash,
    root_from_leaves,
    root_from_peaks,
    verify_consistency,
    verify_inclusion,
)
from gateway.audit.proofs import (
    MissingNode,
    consistency_proof,
    inclusion_proof,
    peaks,
    tiling,
)
from gateway.audit.tree import Frontier, MemoryNodeStore

from . import audit_reference as ref

SIZES = [1, 2, 3, 4, 5, 6, 7, 8, 13, 31, 32, 33, 100]
N0, N1, N2, N3 = ref.CT_NODES


def store_for(entries: list[bytes]) -> MemoryNodeStore:
    store = MemoryNodeStore()
    _, nodes = Frontier().extend([ref.sha256(b"\x00" + e) for e in entries])
    store.put_nodes(nodes)
    return store


# --- the reference itself agrees with the published vectors -----------------------


def test_reference_reproduces_the_published_ct_roots_and_nodes() -> None:
    leaves = ref.CT_LEAF_INPUTS
    assert [ref.mth(leaves[:n]) for n in range(9)] == ref.CT_ROOTS
    for level, row in enumerate(ref.CT_NODES):
        width = 1 << level
        assert [ref.mth(leaves[i * width : (i + 1) * width]) for i in range(len(row))] == row


# --- hashing ----------------------------------------------------------------------


def test_empty_tree_root_is_sha256_of_the_empty_string() -> None:
    assert EMPTY_ROOT == hashlib.sha256(b"").digest() == ref.CT_ROOTS[0]
    assert root_from_leaves([]) == EMPTY_ROOT
    assert root_from_peaks([]) == EMPTY_ROOT


def test_leaf_and_node_hashes_use_the_rfc_prefixes() -> None:
    assert leaf_hash(b"") == N0[0]
    assert leaf_hash(b"\x00") == N0[1]
    assert node_hash(N0[0], N0[1]) == N1[0]
    assert node_hash(N1[0], N1[1]) == N2[0]
    assert leaf_hash(b"abc") == hashlib.sha256(b"\x00abc").digest()


@pytest.mark.parametrize("n", range(9))
def test_root_matches_the_published_ct_root_at_every_size(n: int) -> None:
    leaves = [leaf_hash(d) for d in ref.CT_LEAF_INPUTS[:n]]
    assert root_from_leaves(leaves) == ref.CT_ROOTS[n]


@pytest.mark.parametrize("n", SIZES)
def test_root_matches_the_rfc_definition(n: int) -> None:
    entries = ref.entries_for(n)
    assert root_from_leaves([leaf_hash(e) for e in entries]) == ref.mth(entries)


def test_root_from_leaves_takes_hashes_and_refuses_anything_else() -> None:
    with pytest.raises(ValueError, match="32 bytes"):
        root_from_leaves([b"an entry, not a leaf hash"])


# --- inclusion --------------------------------------------------------------------


def test_published_ct_inclusion_proofs() -> None:
    store = store_for(ref.CT_LEAF_INPUTS)
    assert inclusion_proof(0, 8, store) == [N0[1], N1[1], N2[1]]
    assert inclusion_proof(5, 8, store) == [N0[4], N1[3], N2[0]]
    assert inclusion_proof(2, 3, store) == [N1[0]]
    assert inclusion_proof(1, 5, store) == [N0[0], N1[1], N0[4]]
    assert verify_inclusion(N0[5], 5, 8, [N0[4], N1[3], N2[0]], ref.CT_ROOTS[8])


@pytest.mark.parametrize("n", SIZES)
def test_every_rfc_inclusion_proof_verifies_and_is_what_we_generate(n: int) -> None:
    entries = ref.entries_for(n)
    root = ref.mth(entries)
    store = store_for(entries)
    for m in range(n):
        expected = ref.path(m, entries)
        leaf = ref.sha256(b"\x00" + entries[m])
        assert len(expected) == inclusion_proof_length(m, n)
        assert verify_inclusion(leaf, m, n, expected, root)
        assert inclusion_proof(m, n, store) == expected


@pytest.mark.parametrize("n", SIZES)
def test_inclusion_proofs_at_past_sizes_come_from_the_same_store(n: int) -> None:
    entries = ref.entries_for(100)
    store = store_for(entries)
    for m in range(0, n, 3):
        assert inclusion_proof(m, n, store) == ref.path(m, entries[:n])


def _ct8() -> tuple[bytes, list[bytes], bytes]:
    return N0[5], [N0[4], N1[3], N2[0]], ref.CT_ROOTS[8]


def test_inclusion_rejects_index_at_or_past_the_size() -> None:
    leaf, proof, root = _ct8()
    assert not verify_inclusion(leaf, 8, 8, proof, root)
    assert not verify_inclusion(leaf, 9, 8, proof, root)
    assert not verify_inclusion(leaf, -1, 8, proof, root)
    assert not verify_inclusion(leaf, 0, 0, [], EMPTY_ROOT)


@pytest.mark.parametrize(
    "proof",
    [
        [],
        [N0[4], N1[3]],  # too short
        [N0[4], N1[3], N2[0], N2[1]],  # too long
        [N0[4], N1[3], N2[0][:31]],  # 31-byte element
        [N0[4], N1[3], N2[0] + b"\x00"],  # 33-byte element
        [N1[3], N0[4], N2[0]],  # reordered
    ],
)
def test_inclusion_rejects_malformed_proofs(proof: list[bytes]) -> None:
    leaf, _, root = _ct8()
    assert not verify_inclusion(leaf, 5, 8, proof, root)


def test_inclusion_rejects_hashes_of_the_wrong_length_or_type() -> None:
    leaf, proof, root = _ct8()
    assert not verify_inclusion(leaf[:31], 5, 8, proof, root)
    assert not verify_inclusion(leaf, 5, 8, proof, root + b"\x00")
    assert not verify_inclusion(leaf, 5, 8, [*proof[:2], proof[2].hex()], root)  # type: ignore[list-item]
    assert not verify_inclusion(leaf, True, 8, proof, root)


def test_single_leaf_tree_has_an_empty_inclusion_proof() -> None:
    leaf = leaf_hash(b"only")
    assert verify_inclusion(leaf, 0, 1, [], leaf)
    assert not verify_inclusion(leaf, 0, 1, [leaf], leaf)


def test_inclusion_does_not_bind_the_size_on_its_own() -> None:
    # RFC 9162 inclusion verification sees the size only through the path's shape:
    # leaf 0's path has the same shape in trees of 5 and 7 leaves. The size is bound
    # to the root by the signed checkpoint, which is why callers verify against a
    # checkpoint's (size, root) pair and never a size from elsewhere.
    entries = ref.entries_for(7)
    proof5 = ref.path(0, entries[:5])
    leaf = ref.sha256(b"\x00" + entries[0])
    assert verify_inclusion(leaf, 0, 7, proof5, ref.mth(entries[:5]))
    assert not verify_inclusion(leaf, 0, 7, proof5, ref.mth(entries))


# --- consistency ------------------------------------------------------------------


def test_published_ct_consistency_proofs() -> None:
    store = store_for(ref.CT_LEAF_INPUTS)
    assert consistency_proof(2, 8, store) == [N1[1], N2[1]]
    assert consistency_proof(6, 8, store) == [N1[2], N1[3], N2[0]]
    assert consistency_proof(2, 5, store) == [N1[1], N0[4]]
    assert consistency_proof(1, 8, store) == [N0[1], N1[1], N2[1]]
    assert verify_consistency(6, 8, [N1[2], N1[3], N2[0]], ref.CT_ROOTS[6], ref.CT_ROOTS[8])


@pytest.mark.parametrize("n", SIZES)
def test_every_rfc_consistency_proof_verifies_and_is_what_we_generate(n: int) -> None:
    entries = ref.entries_for(n)
    root2 = ref.mth(entries)
    store = store_for(entries)
    for m in range(1, n + 1):
        expected = ref.proof(m, entries)
        root1 = ref.mth(entries[:m])
        if m < n:
            assert len(expected) == consistency_proof_length(m, n)
        assert verify_consistency(m, n, expected, root1, root2)
        assert consistency_proof(m, n, store) == expected


def test_consistency_from_an_empty_tree_is_always_rejected() -> None:
    assert not verify_consistency(0, 8, [], EMPTY_ROOT, ref.CT_ROOTS[8])
    assert not verify_consistency(0, 0, [], EMPTY_ROOT, EMPTY_ROOT)
    assert not verify_consistency(0, 1, [N0[0]], EMPTY_ROOT, ref.CT_ROOTS[1])


def test_consistency_between_equal_sizes_needs_equal_roots_and_no_proof() -> None:
    r6 = ref.CT_ROOTS[6]
    assert verify_consistency(6, 6, [], r6, r6)
    assert not verify_consistency(6, 6, [], r6, ref.CT_ROOTS[7])
    assert not verify_consistency(6, 6, [r6], r6, r6)


@pytest.mark.parametrize(
    "proof",
    [
        [],
        [N1[2], N1[3]],  # too short
        [N1[2], N1[3], N2[0], N2[0]],  # too long
        [N1[2], N1[3], N2[0][:31]],
        [N1[2], N1[3] + b"\x01", N2[0]],
        [N1[3], N1[2], N2[0]],  # reordered
    ],
)
def test_consistency_rejects_malformed_proofs(proof: list[bytes]) -> None:
    assert not verify_consistency(6, 8, proof, ref.CT_ROOTS[6], ref.CT_ROOTS[8])


def test_consistency_rejects_impossible_sizes_and_bad_roots() -> None:
    good = [N1[2], N1[3], N2[0]]
    r6, r8 = ref.CT_ROOTS[6], ref.CT_ROOTS[8]
    assert not verify_consistency(8, 6, good, r8, r6)
    assert not verify_consistency(-6, 8, good, r6, r8)
    assert not verify_consistency(6, 8, good, r6[:31], r8)
    assert not verify_consistency(6, 8, good, r6, r8 + b"\x00")
    assert not verify_consistency(6, 8, good, r8, r6)


# --- generation from stored subtrees ----------------------------------------------


def test_generation_refuses_impossible_requests() -> None:
    store = store_for(ref.entries_for(8))
    with pytest.raises(ValueError, match="outside"):
        inclusion_proof(8, 8, store)
    with pytest.raises(ValueError, match="no consistency proof"):
        consistency_proof(0, 8, store)
    with pytest.raises(ValueError, match="no consistency proof"):
        consistency_proof(5, 4, store)
    assert consistency_proof(8, 8, store) == []


def test_generation_past_the_stored_tree_reports_the_missing_node() -> None:
    store = store_for(ref.entries_for(8))
    with pytest.raises(MissingNode):
        inclusion_proof(0, 9, store)
    with pytest.raises(MissingNode):
        consistency_proof(3, 12, store)


def test_peaks_and_tilings_follow_the_binary_digits_of_the_size() -> None:
    assert peaks(0) == []
    assert peaks(13) == [(3, 0), (2, 2), (0, 12)]
    assert tiling(8, 13) == [(2, 2), (0, 12)]
    with pytest.raises(ValueError, match="not a subtree"):
        tiling(3, 7)
