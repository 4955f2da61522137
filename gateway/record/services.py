"""What a repository needs, built once by the composition root (:func:`gateway.app.create_app`)."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field

from gateway.config import Settings
from gateway.fhir.cursor import CursorCodec
from gateway.record.audit_trail import AuditSink
from gateway.record.facts_cache import FactsCache
from gateway.record.seams import (
    AccessPolicy,
    CommitListener,
    Indexer,
    ProfileValidator,
    SearchEngine,
    WriteCheck,
    WriteHook,
)
from gateway.search import BlindIndex
from gateway.storage.store import SqlStore


def system_clock() -> int:
    """Now, in microseconds since the Unix epoch."""
    return time.time_ns() // 1000


@dataclass(frozen=True)
class RecordServices:
    store: SqlStore
    settings: Settings
    indexer: Indexer
    validator: ProfileValidator
    policy: AccessPolicy
    cursors: CursorCodec
    search: SearchEngine
    # How index rows store identifiers and names (the indexer and the search engine hold
    # the same one); direct index lookups (identity, known identifiers) hash through it.
    blind: BlindIndex
    clock: Callable[[], int] = system_clock
    facts_cache: FactsCache | None = field(default_factory=FactsCache)
    audit: AuditSink | None = None
    listeners: tuple[CommitListener, ...] = field(default=())
    write_hooks: tuple[WriteHook, ...] = field(default=())
    write_checks: tuple[WriteCheck, ...] = field(default=())
