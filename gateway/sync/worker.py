"""``dmp-gateway worker``: the stages of sync, each in its own thread.

- **changes** (:mod:`.processor`): follows the database feed from its checkpoint, matches
  subscriptions, schedules announcements; woken early by the bus (consumer group
  ``processor``), else every ``worker_poll_seconds``;
- **deliveries** (:mod:`.delivery`): ``delivery_concurrency`` threads POST notifications;
- **exports** (:mod:`.export_runner`): one job at a time per worker;
- **notices** (:mod:`.notifier`) and **announcements** (:mod:`.announcer`).

Several workers can run against one database (and Redis): the feed checkpoint is leased,
deliveries and exports are claimed with ``SKIP LOCKED``, notices come from a consumer
group. :meth:`Worker.drain` runs every stage until none has work, for tests and
``dmp-gateway worker --once``.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import uuid
from collections.abc import Callable

import httpx

from gateway.events.bus import CHANGES
from gateway.sync.announcer import Announcer
from gateway.sync.delivery import Deliverer
from gateway.sync.export_runner import ExportRunner
from gateway.sync.netguard import Resolver, system_resolver
from gateway.sync.notices import NoticeSender, load_sender
from gateway.sync.notifier import Notifier
from gateway.sync.processor import ChangeProcessor
from gateway.sync.runtime import SyncRuntime
from gateway.sync.signing import NotificationSigner, load_signer

log = logging.getLogger("gateway.sync.worker")
WAKE_GROUP = "processor"


def holder_name() -> str:
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:6]}"


class Worker:
    def __init__(
        self,
        runtime: SyncRuntime,
        *,
        holder: str | None = None,
        signer: NotificationSigner | None = None,
        sender: NoticeSender | None = None,
        http: httpx.Client | None = None,
        resolver: Resolver = system_resolver,
    ) -> None:
        settings, services = runtime.settings, runtime.services
        self.runtime = runtime
        self.holder = holder or holder_name()
        self.processor = ChangeProcessor(services, settings, holder=self.holder)
        if not settings.base_url:
            log.warning(
                "GATEWAY_BASE_URL is not set: notifications name resources under "
                "http://localhost/fhir; set it to the public FHIR base"
            )
        self.deliverer = Deliverer(
            services,
            settings,
            signer or load_signer(settings),
            base_url=settings.base_url or "http://localhost/fhir",
            http=http,
            resolver=resolver,
        )
        self.exporter = ExportRunner(services, settings, runtime.exports, holder=self.holder)
        self.announcer = Announcer(services, settings, runtime.bus)
        self.notifier = Notifier(
            services,
            runtime.bus,
            sender or load_sender(settings),
            holder=self.holder,
            claim_idle_ms=settings.sync.claim_idle_ms,
        )

    def drain(self, *, rounds: int = 50) -> None:
        """Run every stage until none has anything left to do (or ``rounds`` is reached)."""
        for _ in range(rounds):
            busy = self.processor.run_once()
            busy += self.deliverer.run_once()
            busy += int(self.exporter.run_once())
            busy += self.announcer.run_once()
            busy += self.notifier.run_once()
            if not busy:
                return

    def close(self) -> None:
        self.deliverer.close()
        try:
            self.processor.release()
        except Exception:  # the database is gone: the lease runs out by itself
            log.warning("could not release the feed lease; another worker waits for it")

    # -- running --------------------------------------------------------------------------

    def run(self, stop: threading.Event) -> None:
        """Run every stage in threads until ``stop`` is set."""
        poll = self.runtime.settings.sync.worker_poll_seconds
        stages: list[tuple[str, Callable[[], None]]] = [
            ("changes", lambda: self._changes(stop, poll)),
            ("exports", lambda: self._loop(stop, poll, self.exporter.run_once)),
            ("announcements", lambda: self._loop(stop, max(poll, 30.0), self.announcer.run_once)),
            (
                "notices",
                lambda: self._loop(
                    stop, 0, lambda: self.notifier.run_once(block_ms=int(poll * 1000))
                ),
            ),
        ]
        stages += [
            (f"deliveries-{i}", lambda: self._loop(stop, poll, self.deliverer.run_once))
            for i in range(self.runtime.settings.sync.delivery_concurrency)
        ]
        threads = [
            threading.Thread(
                target=self._guarded, args=(name, body, stop), name=f"sync-{name}", daemon=True
            )
            for name, body in stages
        ]
        for thread in threads:
            thread.start()
        stop.wait()
        for thread in threads:
            thread.join(timeout=30)
        self.close()

    def _guarded(self, name: str, body: Callable[[], None], stop: threading.Event) -> None:
        while not stop.is_set():
            try:
                body()
            except Exception:
                log.exception("sync stage %s failed; restarting it", name)
                stop.wait(1.0)

    @staticmethod
    def _loop(stop: threading.Event, idle: float, step: Callable[[], object]) -> None:
        while not stop.is_set():
            if not step():
                stop.wait(idle)

    def _changes(self, stop: threading.Event, poll: float) -> None:
        bus = self.runtime.bus
        while not stop.is_set():
            if self.processor.run_once():
                continue
            if not self.processor.holds_lease:  # another worker leads; take over if it dies
                stop.wait(poll)
                continue
            woken = bus.read_group(
                CHANGES, WAKE_GROUP, self.holder, count=1000, block_ms=int(poll * 1000)
            )
            bus.ack(CHANGES, WAKE_GROUP, [e.id for e in woken])
