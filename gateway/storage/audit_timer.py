"""The checkpoint timer: signs pending entries at least every ``checkpoint_seconds``.

Each server process runs one. They all queue on the sequencer lock, and a checkpoint
that another process already signed is simply found, so several workers never sign
twice for the same size (:meth:`gateway.storage.audit_log.AuditLog.checkpoint`).
"""

from __future__ import annotations

import logging
import threading

from gateway.storage.audit_log import AuditLog

log = logging.getLogger("gateway.audit")


class CheckpointTimer:
    """A daemon thread that calls :meth:`AuditLog.checkpoint_if_due` about every second,
    and checkpoints SQLite's WAL (:meth:`AuditLog.wal_checkpoint`)."""

    def __init__(self, audit: AuditLog, *, interval: float = 1.0) -> None:
        self.audit = audit
        self.interval = min(interval, audit.checkpoint_seconds / 2)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="audit-checkpoints", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            try:
                self.audit.checkpoint_if_due()
                self.audit.wal_checkpoint()
            except Exception as exc:  # keep ticking: the next tick retries
                log.warning("audit checkpoint failed: %s", type(exc).__name__)

    def stop(self) -> None:
        """Stop ticking, then sign whatever is still pending (graceful shutdown)."""
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(timeout=30)
        try:
            self.audit.checkpoint()
        except Exception as exc:
            log.error("final audit checkpoint failed: %s", type(exc).__name__)
