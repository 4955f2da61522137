"""Assembling sync: the bus, and the record services with sync's seams filled in.

:func:`start_sync` is called by the composition root (the server's lifespan) and by
``dmp-gateway worker``. It wraps the access policy (:class:`gateway.sync.access.SyncAccess`),
adds the Subscription write hook and the change publisher, and returns them with the bus.
The bus is Redis Streams when ``GATEWAY_REDIS_URL`` is set, else in-process.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from functools import cached_property

import orjson

from gateway.config import Settings
from gateway.events.bus import EventBus
from gateway.events.memory import MemoryBus
from gateway.events.redis_bus import RedisBus
from gateway.record.services import RecordServices
from gateway.sync.access import SyncAccess
from gateway.sync.export_files import FileExportStorage
from gateway.sync.feed_share import RecentValues, SharedReads
from gateway.sync.notices import NoticeQueue
from gateway.sync.publisher import ChangePublisher
from gateway.sync.signing import NotificationSigner, load_signer
from gateway.sync.subscription_hook import SubscriptionHook


def make_bus(settings: Settings) -> EventBus:
    if settings.redis_url:
        return RedisBus(
            settings.redis_url,
            prefix=settings.sync.stream_prefix,
            maxlen=settings.sync.stream_maxlen,
        )
    return MemoryBus(maxlen=settings.sync.stream_maxlen)


def export_storage(settings: Settings) -> FileExportStorage:
    return FileExportStorage(settings.sync.export_dir or settings.data_dir / "exports")


@dataclass(frozen=True)
class SyncRuntime:
    settings: Settings
    bus: EventBus
    services: RecordServices  # with sync's policy wrapper, hook and publisher
    exports: FileExportStorage
    # The change feed's reads shared by callers woken together (gateway.sync.feed_share).
    feed_reads: SharedReads = field(default_factory=SharedReads)
    feed_entries: RecentValues[orjson.Fragment] = field(default_factory=RecentValues)

    @cached_property
    def signer(self) -> NotificationSigner:
        return load_signer(self.settings)

    @property
    def worker_in_server(self) -> bool:
        choice = self.settings.sync.worker_in_server
        return choice == "on" or (choice == "auto" and not self.settings.redis_url)

    def close(self) -> None:
        self.bus.close()


def start_sync(
    settings: Settings, services: RecordServices, *, bus: EventBus | None = None
) -> SyncRuntime:
    bus = bus if bus is not None else make_bus(settings)
    wrapped = replace(
        services,
        policy=SyncAccess(services.policy, NoticeQueue(bus)),
        listeners=(*services.listeners, ChangePublisher(bus)),
        write_hooks=(*services.write_hooks, SubscriptionHook(settings.sync)),
    )
    return SyncRuntime(settings, bus, wrapped, export_storage(settings))
