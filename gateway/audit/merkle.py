"""Merkle tree hashing and proof verification, exactly as RFC 9162 §2.1 defines them.

This module is the trust anchor of the audit log: it imports nothing but the standard
library, so an auditor can read it in one sitting. See
https://www.rfc-editor.org/rfc/rfc9162#section-2.1.

Definitions (RFC 9162 §2.1.1), with ``D[n]`` the list of ``n`` entries::

    MTH({})    = SHA-256()                                  the empty tree
    MTH({d0})  = SHA-256(0x00 || d0)                        a leaf
    MTH(D[n])  = SHA-256(0x01 || MTH(D[0:k]) || MTH(D[k:n]))
                 with k the largest power of two smaller than n

Vocabulary used across :mod:`gateway.audit`:

- an *entry* is the exact bytes of one logged AuditEvent;
- a *leaf hash* is ``leaf_hash(entry)`` (32 bytes);
- a *complete subtree* at ``(level, index)`` covers leaves ``[index * 2**level,
  (index + 1) * 2**level)``; level 0 holds the leaf hashes themselves.

The verification functions never raise on bad input: a malformed proof, a hash that is
not 32 bytes, an index outside the tree or an impossible size all give ``False``.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence

HASH_SIZE = 32
LEAF_PREFIX = b"\x00"
NODE_PREFIX = b"\x01"
EMPTY_ROOT = hashlib.sha256(b"").digest()

_sha256 = hashlib.sha256


def leaf_hash(data: bytes) -> bytes:
    """``SHA-256(0x00 || data)``: the hash of one entry (RFC 9162 §2.1.1)."""
    return _sha256(LEAF_PREFIX + data).digest()


def node_hash(left: bytes, right: bytes) -> bytes:
    """``SHA-256(0x01 || left || right)``: the hash of an interior node."""
    return _sha256(NODE_PREFIX + left + right).digest()


def root_from_leaves(leaves: Sequence[bytes]) -> bytes:
    """The tree head ``MTH`` of a list of **leaf hashes** (not entries).

    Pass ``[leaf_hash(e) for e in entries]``. Taking hashes rather than entries keeps
    the function usable on stored leaf hashes and makes the domain separation visible
    at the call site. Raises :class:`ValueError` if a leaf hash is not 32 bytes (this
    is a programming error, not untrusted input).

    Pairing neighbours level by level and promoting an unpaired last node unchanged
    builds exactly the RFC's tree, whose left subtree is always the largest power of
    two: O(n) hashes, no recursion.
    """
    if any(len(h) != HASH_SIZE for h in leaves):
        raise ValueError("every leaf hash must be 32 bytes")
    if not leaves:
        return EMPTY_ROOT
    level = list(leaves)
    while len(level) > 1:
        lefts, rights = level[0::2], level[1::2]  # an odd last node has no right
        nxt = [_sha256(NODE_PREFIX + a + b).digest() for a, b in zip(lefts, rights, strict=False)]
        if len(level) % 2:
            nxt.append(level[-1])
        level = nxt
    return level[0]


def root_from_peaks(peaks: Sequence[bytes]) -> bytes:
    """The tree head from the hashes of the complete subtrees that cover ``[0, size)``.

    ``peaks`` lists those subtrees left to right, i.e. from the largest to the
    smallest (one per set bit of ``size``). Folding them from the right rebuilds the
    RFC's right spine, where the right child is always the rest of the tree.
    """
    if not peaks:
        return EMPTY_ROOT
    root = peaks[-1]
    for peak in reversed(peaks[:-1]):
        root = node_hash(peak, root)
    return root


def _valid_hashes(hashes: Sequence[bytes]) -> bool:
    return all(isinstance(h, bytes) and len(h) == HASH_SIZE for h in hashes)


def _valid_size(n: object) -> bool:
    # bool is an int subclass; a True "size" is a caller bug, never a tree size.
    return type(n) is int and n >= 0


def inclusion_proof_length(index: int, size: int) -> int:
    """How many hashes the inclusion proof of leaf ``index`` in a tree of ``size`` has.

    The inner part is the path below the point where the leaf's path leaves the right
    border of the tree; the border part is one hash per left subtree met above it.
    """
    inner = (index ^ (size - 1)).bit_length()
    return inner + (index >> inner).bit_count()


def verify_inclusion(
    leaf_hash: bytes, index: int, tree_size: int, proof: Sequence[bytes], root: bytes
) -> bool:
    """RFC 9162 §2.1.3.2: does ``proof`` show ``leaf_hash`` at ``index`` under ``root``?"""
    if not (_valid_size(index) and _valid_size(tree_size)) or index >= tree_size:
        return False  # step 1: leaf_index >= tree_size fails
    if len(proof) != inclusion_proof_length(index, tree_size):
        return False  # the loop below would also catch it; fail early and plainly
    if not _valid_hashes([leaf_hash, root, *proof]):
        return False
    fn, sn, r = index, tree_size - 1, leaf_hash  # steps 2 and 3
    for p in proof:  # step 4
        if sn == 0:
            return False  # 4a
        if fn & 1 or fn == sn:  # 4b
            r = node_hash(p, r)
            if not fn & 1:
                while not fn & 1 and fn != 0:
                    fn >>= 1
                    sn >>= 1
        else:
            r = node_hash(r, p)
        fn >>= 1  # 4c
        sn >>= 1
    return sn == 0 and r == root  # step 5


def consistency_proof_length(size1: int, size2: int) -> int:
    """How many hashes the consistency proof from ``size1`` to ``size2`` has.

    Valid for ``0 < size1 < size2``. The proof is the inclusion proof of leaf
    ``size1 - 1`` with the levels under the largest complete subtree ending at
    ``size1`` cut off, plus that subtree's own hash unless it is the whole old tree.
    """
    shift = (size1 & -size1).bit_length() - 1  # trailing zeros of size1
    inner = ((size1 - 1) ^ (size2 - 1)).bit_length()
    border = ((size1 - 1) >> inner).bit_count()
    seed = 0 if size1 == 1 << shift else 1
    return seed + inner - shift + border


def verify_consistency(
    size1: int, size2: int, proof: Sequence[bytes], root1: bytes, root2: bytes
) -> bool:
    """RFC 9162 §2.1.4.2: is the tree ``(size1, root1)`` a prefix of ``(size2, root2)``?

    Edge cases the RFC algorithm leaves to the caller, decided here:

    - ``size1 == 0``: always ``False``. Every tree extends the empty tree, so such a
      "proof" proves nothing; a caller asking for one is confused or being fooled.
    - ``size1 == size2``: ``True`` only for an empty proof and ``root1 == root2``
      (RFC 9162 §2.1.4.1: ``SUBPROOF(m, D[m], true) = {}``).
    - ``size1 > size2``: ``False``.
    """
    if not (_valid_size(size1) and _valid_size(size2)) or size1 == 0 or size1 > size2:
        return False
    if size1 == size2:
        return not proof and _valid_hashes([root1, root2]) and root1 == root2
    if not proof:
        return False  # step 1
    if len(proof) != consistency_proof_length(size1, size2):
        return False
    if not _valid_hashes([root1, root2, *proof]):
        return False
    path = list(proof)
    if size1 & (size1 - 1) == 0:  # step 2: size1 is an exact power of two
        path.insert(0, root1)
    fn, sn = size1 - 1, size2 - 1  # step 3
    while fn & 1:  # step 4
        fn >>= 1
        sn >>= 1
    fr = sr = path[0]  # step 5
    for c in path[1:]:  # step 6
        if sn == 0:
            return False  # 6a
        if fn & 1 or fn == sn:  # 6b
            fr = node_hash(c, fr)
            sr = node_hash(c, sr)
            if not fn & 1:
                while not fn & 1 and fn != 0:
                    fn >>= 1
                    sn >>= 1
        else:
            sr = node_hash(sr, c)
        fn >>= 1  # 6c
        sn >>= 1
    return sn == 0 and fr == root1 and sr == root2  # step 7
