"""Group commit: the HL7 v2 messages that arrive together share one database transaction.

Each message still gets its own outcome, and its ACK is still sent only after the
transaction holding it has committed: :meth:`GroupCommit.ingest` returns after the
commit. What the group shares is the cost of the transaction itself (the writer lock,
``BEGIN``/``COMMIT``, the audit log's head), which a message at a time pays once per
message.

Callers block in :meth:`GroupCommit.ingest` from their own threads (the MLLP listener's
workers, HTTP requests). A caller that finds fewer than ``concurrency`` groups being
written becomes a *leader*: it takes the messages queued so far (up to ``max_group``)
and writes them in one :func:`~gateway.intake.unit.write_unit`, each message inside its
own savepoint (:meth:`~gateway.intake.unit.WriteUnit.savepoint`). The others wait; a
group is formed from whatever arrives while the previous ones are written, so a lone
sender never waits for company. SQLite admits one writer at a time, so one group is
written at a time there; PostgreSQL writers run in parallel (their round trips
overlap), so up to :data:`PARALLEL_GROUPS` groups are written at once.

A message whose processing raises anything (a refusal of the rules or profiles, a
409, a bug) is rolled back to its savepoint and, after the group has committed, stored
alone by :meth:`MessageIntake.store`, which quarantines, retries or raises exactly as
without a group. If the group's transaction fails as a whole, every message of it is
stored alone in the same way. So a message's outcome never depends on its neighbours.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Sequence
from dataclasses import dataclass

from gateway.intake.messages import MessageIntake, Parsed
from gateway.intake.outcome import MessageOutcome
from gateway.intake.sender import Sender
from gateway.intake.unit import write_unit

MAX_GROUP = 32
PARALLEL_GROUPS = 4  # PostgreSQL
log = logging.getLogger("gateway.intake")


def _name(exc: BaseException) -> str:
    return type(exc).__name__


@dataclass(slots=True)
class _Job:
    message: Parsed
    done: bool = False
    outcome: MessageOutcome | None = None
    error: BaseException | None = None


class GroupCommit:
    def __init__(
        self,
        messages: MessageIntake,
        *,
        max_group: int = MAX_GROUP,
        concurrency: int | None = None,
    ) -> None:
        self.messages = messages
        self.max_group = max(1, max_group)
        if concurrency is None:
            sqlite = messages.services.store.dialect == "sqlite"
            concurrency = 1 if sqlite else PARALLEL_GROUPS
        self.concurrency = max(1, concurrency)
        self._cond = threading.Condition()
        self._queue: list[_Job] = []
        self._leaders = 0
        self.groups = 0  # groups written with more than one message (for tests, metrics)

    def ingest(self, payload: bytes, sender: Sender) -> MessageOutcome:
        """Ingest one message; returns once it is committed (or quarantined)."""
        job = _Job(self.messages.parse(payload, sender))
        with self._cond:
            self._queue.append(job)
            while self._leaders >= self.concurrency and not job.done:
                self._cond.wait()
            leader = not job.done
            if leader:
                self._leaders += 1  # until its own message is done
        if leader:
            self._lead(job)
        return self._result(job)

    def _lead(self, job: _Job) -> None:
        try:
            while not job.done:
                with self._cond:
                    group = self._queue[: self.max_group]
                    del self._queue[: self.max_group]
                if group:
                    self._write(group)
                else:  # another leader took it: wait for that group
                    with self._cond:
                        while not job.done:
                            self._cond.wait()
        finally:
            with self._cond:
                self._leaders -= 1
                self._cond.notify_all()

    def ingest_group(self, messages: Sequence[tuple[bytes, Sender]]) -> list[MessageOutcome]:
        """Ingest ``messages`` as one group, in this thread (the CLI, tests); their
        outcomes in order, as :meth:`ingest` would give them."""
        jobs = [_Job(self.messages.parse(payload, sender)) for payload, sender in messages]
        self._write(jobs)
        return [self._result(job) for job in jobs]

    @staticmethod
    def _result(job: _Job) -> MessageOutcome:
        if job.error is not None:
            raise job.error
        assert job.outcome is not None
        return job.outcome

    def _write(self, group: list[_Job]) -> None:
        try:
            if len(group) > 1:
                self._together(group)
            for job in group:
                if job.outcome is None:
                    self._alone(job)
        finally:
            with self._cond:
                for job in group:
                    if job.outcome is None and job.error is None:
                        job.error = RuntimeError("the group commit was interrupted")
                    job.done = True
                self._cond.notify_all()

    def _together(self, group: list[_Job]) -> None:
        outcomes: dict[int, MessageOutcome] = {}
        try:
            with write_unit(self.messages.services, merge_writes=True) as unit:
                for n, job in enumerate(group):
                    try:
                        with unit.savepoint():
                            outcomes[n] = self.messages.in_unit(unit, job.message)
                    except Exception as exc:  # stored alone below, where it surfaces
                        log.debug("message left its group", extra={"error_type": _name(exc)})
        except Exception as exc:  # the group failed as a whole: each message goes alone
            log.info("group commit failed", extra={"error_type": _name(exc)})
            return
        self.groups += 1
        for n, outcome in outcomes.items():
            group[n].outcome = outcome

    def _alone(self, job: _Job) -> None:
        try:
            job.outcome = self.messages.store(job.message)
        except BaseException as exc:  # handed to the caller's thread
            job.error = exc
