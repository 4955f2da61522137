"""Signed checkpoints of the audit log: never two inconsistent ones.

A checkpoint is a C2SP tlog-checkpoint signed note (:mod:`gateway.audit.checkpoint`)
stored in ``audit_checkpoint(size, note, created)``. Before signing the tree at a new
size, :meth:`CheckpointSigner.sign` verifies the latest stored checkpoint (its
signature by a known key, its origin) and proves, from the stored subtree hashes,
that the new tree extends it (RFC 9162 §2.1.4). If anything disagrees it signs
nothing and raises :class:`~gateway.storage.audit_errors.AuditIntegrityError`: a
corrupted or tampered log stops being vouched for instead of being papered over.

Signing always happens under the sequencer lock (:mod:`gateway.storage.audit_head`),
so checkpoints are totally ordered with the appends.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass

from sqlalchemy import insert, select
from sqlalchemy.engine import Connection

from gateway.audit.checkpoint import (
    Checkpoint,
    CheckpointError,
    Signer,
    VerifierKey,
    sign_checkpoint,
    verify_checkpoint,
)
from gateway.audit.merkle import verify_consistency
from gateway.audit.proofs import MissingNode
from gateway.audit.tree import Frontier
from gateway.storage import schema as s
from gateway.storage.audit_errors import AuditIntegrityError
from gateway.storage.audit_keys import known_keys, register
from gateway.storage.audit_nodes import consistency, root_at


@dataclass(frozen=True, slots=True)
class StoredCheckpoint:
    size: int
    note: str
    created: int  # microseconds since the Unix epoch


_COLUMNS = (s.audit_checkpoint.c.size, s.audit_checkpoint.c.note, s.audit_checkpoint.c.created)


def latest(conn: Connection) -> StoredCheckpoint | None:
    c = s.audit_checkpoint
    row = conn.execute(select(*_COLUMNS).order_by(c.c.size.desc()).limit(1)).first()
    return StoredCheckpoint(row.size, row.note, row.created) if row else None


def at_size(conn: Connection, size: int) -> StoredCheckpoint | None:
    c = s.audit_checkpoint
    row = conn.execute(select(*_COLUMNS).where(c.c.size == size)).first()
    return StoredCheckpoint(row.size, row.note, row.created) if row else None


def all_notes(conn: Connection) -> Iterator[str]:
    """Every stored checkpoint note, by increasing size."""
    c = s.audit_checkpoint
    for (note,) in conn.execute(select(c.c.note).order_by(c.c.size)):
        yield note


def _refuse(why: str) -> AuditIntegrityError:
    return AuditIntegrityError(
        f"The audit log will not sign a new checkpoint: {why}. "
        "Run `dmp-gateway audit verify` and investigate."
    )


class CheckpointSigner:
    """Signs checkpoints of one log with one key, after the consistency check."""

    def __init__(self, signer: Signer, origin: str, clock: Callable[[], int]) -> None:
        if signer.name != origin:
            raise ValueError("the signing key is named after the log origin")
        self.signer = signer
        self.origin = origin
        self.clock = clock

    def keys(self, conn: Connection) -> list[VerifierKey]:
        """Our key and every key registered for this log (older keys after rotation)."""
        own = self.signer.verifier_key
        keys = [key for key, _ in known_keys(conn)]
        if own not in keys:
            register(conn, own, self.clock())
            keys.append(own)
        return keys

    def _check_extends(
        self, conn: Connection, keys: list[VerifierKey], prev: StoredCheckpoint, tree: Frontier
    ) -> bool:
        """Does ``tree`` extend ``prev``? False when they are the same tree."""
        try:
            cp = verify_checkpoint(prev.note, keys)
        except CheckpointError as e:
            raise _refuse(f"the checkpoint at size {prev.size} does not verify ({e})") from None
        if cp.origin != self.origin or cp.size != prev.size:
            raise _refuse(f"the checkpoint stored at size {prev.size} is not ours")
        root = tree.root()
        if cp.size > tree.size:
            raise _refuse(f"a checkpoint covers {cp.size} entries, the log has {tree.size}")
        if cp.size == tree.size:
            if cp.root != root:
                raise _refuse(f"the tree at size {cp.size} differs from its checkpoint")
            return False
        if cp.size > 0:
            try:
                proof = consistency(conn, cp.size, tree.size)
            except MissingNode as e:
                raise _refuse(f"a stored subtree is missing ({e})") from None
            if not verify_consistency(cp.size, tree.size, proof, cp.root, root):
                raise _refuse(f"the tree does not extend the checkpoint at size {cp.size}")
        return True

    def sign(self, conn: Connection, tree: Frontier) -> StoredCheckpoint:
        """Sign and store a checkpoint of ``tree``, or return the one at its size.

        Call under the sequencer lock, with ``tree`` the frontier this transaction
        holds (its nodes already inserted).
        """
        keys = self.keys(conn)
        prev = latest(conn)
        if prev is not None:
            if not self._check_extends(conn, keys, prev, tree):
                return prev
        elif tree.size:
            try:
                stored_root = root_at(conn, tree.size)
            except MissingNode as e:
                raise _refuse(f"a stored subtree is missing ({e})") from None
            if stored_root != tree.root():
                raise _refuse("the head disagrees with the stored subtrees")
        now = self.clock()
        note = sign_checkpoint(Checkpoint(self.origin, tree.size, tree.root()), [self.signer])
        conn.execute(insert(s.audit_checkpoint).values(size=tree.size, note=note, created=now))
        return StoredCheckpoint(tree.size, note, now)
