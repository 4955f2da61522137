"""The change feed for one caller: committed versions they may see, in commit order.

Reads :func:`gateway.storage.changes.read_changes` through the caller's repository and
keeps only what ``reader.visible_version`` allows (the DMP rules; a deletion is judged on
the version it ended; an old version shows only if the resource as it is now may be seen
too, so masking a document later hides its earlier changes), so a hidden resource never
appears, nor any sign of it: the position simply moves past it. Delivery is at-least-once
(a client that loses a response reads the same page again with the same cursor) and in
order for each resource.

Each call scans at most ``scan_limit`` versions, so a caller who sees little of a busy
record gets short answers that still move forward (``caught_up`` is then False).

With a :class:`~gateway.sync.feed_share.SharedReads`, callers woken by the same commit
share the unfiltered reads (the window's closing snapshot, the batches of changes and the
patients' access facts); each still decides with its own repository what it may see.
The page's ``mark`` is the bus mark taken before the read that found the caller caught
up: the long-poll waits for what is published after it.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable, Sequence
from dataclasses import dataclass
from typing import TypeVar

from gateway.errors import BadRequest
from gateway.fhir.cursor import digest
from gateway.policy import PatientFacts
from gateway.record.repository import Repository
from gateway.rest.paging import caller_digest
from gateway.storage.changes import (
    ChangeBatch,
    FeedPosition,
    current_position,
    read_changes,
    snapshot_covers,
    take_snapshot,
)
from gateway.storage.records import StoredVersion
from gateway.storage.store import StoreTx
from gateway.sync.feed_share import SharedReads

Mark = Callable[[], "str | None"]
T = TypeVar("T")


def _no_mark() -> str | None:
    return None


@dataclass(frozen=True, slots=True)
class FeedPage:
    versions: list[StoredVersion]
    position: FeedPosition
    caught_up: bool
    mark: str | None = None  # the bus mark the read that ended the page began after


def read_feed(
    repo: Repository,
    position: FeedPosition,
    *,
    types: Sequence[str] | None,
    limit: int,
    scan_limit: int | None = None,
    share: SharedReads | None = None,
    fresh_after: float = 0.0,
    mark: Mark = _no_mark,
) -> FeedPage:
    """The next page for the repository's caller. ``mark`` reads the bus's latest id (once,
    before the read transaction begins); ``share`` and ``fresh_after``: see
    :mod:`gateway.sync.feed_share` (without them every read is the caller's own)."""
    budget = scan_limit if scan_limit is not None else max(limit * 20, 2000)
    batch_size = min(max(limit * 2, 100), budget)
    picked: list[StoredVersion] = []
    seen: dict[tuple[str, str], bool] = {}
    key_types = tuple(sorted(types)) if types else None
    began = share.now() if share is not None else 0.0
    reads = _Reads(share, fresh_after, began, mark())
    with repo.reading() as reader:
        if share is not None:
            reader.share_facts(reads.patient_facts)
        while True:
            batch, batch_mark = reads.batch(reader.tx, position, key_types, batch_size)
            for version in batch.versions:
                budget -= 1
                if reader.visible_version(version, seen=seen, current_numbers=batch.current):
                    picked.append(version)
                    if len(picked) >= limit:
                        return FeedPage(picked, batch.after(version), False)
                if budget <= 0:
                    return FeedPage(picked, batch.after(version), False)
            position = batch.position
            if batch.caught_up:
                return FeedPage(picked, position, True, batch_mark)


class _Reads:
    """The unfiltered reads of one page: shared (see :mod:`gateway.sync.feed_share`), or
    the caller's own. ``began``: when the caller's transaction began; ``mark``: the bus
    mark taken after that and before the transaction."""

    def __init__(
        self, share: SharedReads | None, fresh_after: float, began: float, mark: str | None
    ) -> None:
        self._share = share
        self._fresh_after = fresh_after
        self._began = began
        self._mark = mark

    def _read(self, key: Hashable, compute: Callable[[], T]) -> tuple[T, str | None]:
        if self._share is None:
            return compute(), self._mark
        got = self._share.read(
            key,
            fresh_after=self._fresh_after,
            began=self._began,
            mark=self._mark,
            compute=compute,
        )
        return got.value, got.mark

    def horizon(self, tx: StoreTx) -> tuple[str | None, str | None]:
        """A snapshot to close a new window with (PostgreSQL), and the mark before it."""
        if tx.dialect != "postgresql":
            return None, None
        return self._read(("horizon",), lambda: take_snapshot(tx))

    def patient_facts(self, patient_id: str, load: Callable[[], PatientFacts]) -> PatientFacts:
        return self._read(("patient-facts", patient_id), load)[0]

    def batch(
        self, tx: StoreTx, position: FeedPosition, types: tuple[str, ...] | None, size: int
    ) -> tuple[ChangeBatch, str | None]:
        hi: str | None = None
        mark: str | None = None
        if position.hi is None:
            hi, mark = self.horizon(tx)
            if hi is not None and position.lo is not None and not snapshot_covers(hi, position.lo):
                hi = mark = None  # read_changes takes a snapshot of its own
        batch, batch_mark = self._read(
            ("changes", position, types, size, hi),
            lambda: read_changes(tx, position, types=types, limit=size, hi=hi),
        )
        if hi is not None and batch.hi == hi:
            return batch, mark  # the window ends at the shared snapshot: its mark
        return batch, batch_mark


def start_now(
    repo: Repository, share: SharedReads | None = None, fresh_after: float = 0.0
) -> FeedPosition:
    """A position after everything committed so far (with ``share``: at the snapshot that
    closes the windows of callers reading now, so they all read on together)."""
    began = share.now() if share is not None else 0.0
    with repo.reading() as reader:
        hi, _ = _Reads(share, fresh_after, began, None).horizon(reader.tx)
        return current_position(reader.tx, hi=hi)


def _query_key(types: Sequence[str] | None) -> str:
    return digest(["sync-changes", ",".join(sorted(types or ()))])


def encode_cursor(repo: Repository, position: FeedPosition, types: Sequence[str] | None) -> str:
    """An opaque cursor, signed, bound to the caller and to the ``_type`` filter."""
    return repo.services.cursors.encode(
        position.to_json(), query=_query_key(types), caller=caller_digest(repo.ctx)
    )


def decode_cursor(repo: Repository, token: str, types: Sequence[str] | None) -> FeedPosition:
    raw = repo.services.cursors.decode(
        token, query=_query_key(types), caller=caller_digest(repo.ctx), name="cursor"
    )
    try:
        return FeedPosition.from_json(raw)
    except ValueError:
        raise BadRequest("Invalid cursor", expression="cursor", code="GW-1601") from None
