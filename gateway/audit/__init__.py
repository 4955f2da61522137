"""Tamper-evident audit log: RFC 9162 Merkle tree, C2SP checkpoints, offline verifier.

Pure modules, no I/O: :mod:`.merkle` (hashing and proof verification), :mod:`.proofs`
(proof generation from stored subtree hashes), :mod:`.tree` (append-only state),
:mod:`.checkpoint` (signed tree heads) and :mod:`.verifier` (offline verification of a
whole exported log). This package imports none of them, so importing one module
never drags in the others.
"""
