"""Rebuild the search index rows of stored resources (``dmp-gateway reindex``).

Index rows are derived data: what :class:`~gateway.record.indexing.SearchIndexer`
extracts from a resource's current version. After a change to what they hold (the
index key, ``hash_identifiers``, ``clear_names``, a new search parameter), existing
rows are rebuilt from the stored content, type by type, in batches of live resources
(:mod:`gateway.storage.reindexing`). Content is read through the store's read path
(:meth:`~gateway.storage.store.StoreTx.current_many`), never from the raw column, so
whatever that path does to stored bytes (decryption) applies here too.

It runs online: each batch is one short transaction; searches during a reindex see,
per resource, either the old rows or the new ones.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import orjson

from gateway.record.services import RecordServices
from gateway.search.rows import IndexRows
from gateway.storage.reindexing import live_batch, replace_index_rows, stored_types

DEFAULT_BATCH = 500


@dataclass(slots=True)
class ReindexReport:
    """Resources reindexed per type, and those whose content could not be read as JSON
    (their rows are left as they were)."""

    counts: dict[str, int] = field(default_factory=dict)
    unreadable: list[str] = field(default_factory=list)

    @property
    def total(self) -> int:
        return sum(self.counts.values())


def reindex(
    services: RecordServices,
    types: Sequence[str] = (),
    *,
    batch: int = DEFAULT_BATCH,
    progress: Callable[[str, int], None] | None = None,
) -> ReindexReport:
    """Rebuild the index rows of every live resource of ``types`` (all stored types when
    empty); ``progress(type, done)`` after each batch."""
    if batch < 1:
        raise ValueError("batch must be at least 1")
    report = ReindexReport()
    if not types:
        with services.store.reader() as tx:
            types = stored_types(tx)
    for rtype in types:
        done, after = 0, 0
        while True:
            with services.store.writer() as tx:
                pks = live_batch(tx, rtype, after, batch)
                if not pks:
                    break
                items: list[tuple[int, str, IndexRows]] = []
                for version in tx.current_many(pks):
                    body = _body(version.content)
                    if body is None or version.pk is None:
                        report.unreadable.append(f"{version.resource_type}/{version.id}")
                        continue
                    items.append((version.pk, version.resource_type, services.indexer.rows(body)))
                replace_index_rows(tx, items)
            after = pks[-1]
            done += len(items)
            if progress is not None:
                progress(rtype, done)
        report.counts[rtype] = done
    return report


def _body(content: bytes | None) -> dict[str, Any] | None:
    if content is None:
        return None
    try:
        body = orjson.loads(content)
    except orjson.JSONDecodeError:
        return None
    return body if isinstance(body, dict) else None


__all__ = ["DEFAULT_BATCH", "ReindexReport", "reindex"]
