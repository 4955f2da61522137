"""Notices to patients: queued on the bus, handed to a pluggable sender by the worker.

Two sources queue them: the ``notify-patient`` obligation of an access decision
(emergency access, a consent recorded by a professional; see :mod:`gateway.sync.access`)
and documents hidden from the patient (``INVISIBLE_PATIENT``) that are announced after the
delay of CSP R1111-53 (:mod:`gateway.sync.announcer`). A notice says who, when and why,
never clinical content.

**The sender interface.** Delivery (e-mail, the patient's app, a letter) goes through a
:class:`NoticeSender`: ``send(notice)`` returns when the notice is handed over and raises
to have it retried later; it may be called more than once for one ``notice.id`` (at-least
once), so a sender that can deduplicate should. ``GATEWAY_SYNC__NOTICE_SENDER`` chooses it:
``log`` (the default: one log line, no personal data beyond ids), ``file`` (JSON lines in
``GATEWAY_SYNC__NOTICE_FILE``, for development), or ``package.module:factory``, a callable
taking the :class:`~gateway.config.Settings` and returning a sender.
"""

from __future__ import annotations

import hashlib
import importlib
import logging
import threading
import uuid
from collections import OrderedDict
from pathlib import Path
from typing import Protocol

from gateway.config import Settings
from gateway.errors import ServiceUnavailable
from gateway.events.bus import NOTICES, EventBus
from gateway.events.model import NoticeKind, PatientNotice
from gateway.record.seams import AccessUnit

log = logging.getLogger("gateway.sync.notices")


class NoticeSender(Protocol):
    def send(self, notice: PatientNotice) -> None: ...


class LogNoticeSender:
    """Logs each notice (ids and codes only)."""

    def send(self, notice: PatientNotice) -> None:
        log.info(
            "patient notice %s kind=%s patient=%s reason=%s",
            notice.id,
            notice.kind,
            notice.patient,
            notice.reason,
        )


class FileNoticeSender:
    """Appends each notice as one JSON line to a file (development)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._lock = threading.Lock()

    def send(self, notice: PatientNotice) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with self._lock, self.path.open("ab") as fh:
            fh.write(notice.encode() + b"\n")


def load_sender(settings: Settings) -> NoticeSender:
    choice = settings.sync.notice_sender
    if choice == "log":
        return LogNoticeSender()
    if choice == "file":
        return FileNoticeSender(settings.sync.notice_file or settings.data_dir / "notices.ndjson")
    module, _, attr = choice.partition(":")
    if not module or not attr:
        raise ValueError(
            f"GATEWAY_SYNC__NOTICE_SENDER: expected log, file or module:factory, not {choice!r}"
        )
    factory = getattr(importlib.import_module(module), attr)
    sender: NoticeSender = factory(settings)
    return sender


class NoticeQueue:
    """Queues notices on the bus (the access wrapper's ``notify`` hook).

    One notice per token (or request) and patient: a search that returns fifty of a
    patient's resources in an emergency mode gives one notice, not fifty.
    """

    def __init__(self, bus: EventBus, *, remember: int = 10_000) -> None:
        self._bus = bus
        self._seen: OrderedDict[str, None] = OrderedDict()
        self._remember = remember
        self._lock = threading.Lock()

    def __call__(self, unit: AccessUnit, patient_id: str, kind: str, reason: str) -> None:
        ctx = unit.ctx
        scope = ctx.jti or ctx.request_id or uuid.uuid4().hex
        notice_id = hashlib.sha256(f"{kind}|{scope}|{patient_id}".encode()).hexdigest()[:32]
        with self._lock:
            if notice_id in self._seen:
                return
        actor = {
            name: value
            for name in ("kind", "subject", "structure", "profession", "purpose_of_use")
            if isinstance(value := getattr(ctx, name), str)
        }
        notice = PatientNotice(
            id=notice_id,
            kind=_kind(kind),
            patient=patient_id,
            time=int(unit.now().timestamp() * 1_000_000),
            reason=reason,
            actor=actor,
        )
        try:
            self._bus.publish(NOTICES, notice.encode())
        except Exception as exc:
            log.error("cannot queue a patient notice: %s", type(exc).__name__)
            raise ServiceUnavailable(
                "The patient notice this access requires cannot be queued; retry later",
                code="GW-5081",
            ) from None
        with self._lock:
            self._seen[notice_id] = None
            while len(self._seen) > self._remember:
                self._seen.popitem(last=False)


def _kind(value: str) -> NoticeKind:
    if value == "emergency-access":
        return "emergency-access"
    if value == "consent-recorded":
        return "consent-recorded"
    return "document-announced"
