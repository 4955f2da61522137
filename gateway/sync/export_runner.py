"""The worker stage that runs export jobs.

A job is claimed under a lease; it restarts from scratch if its worker died (files of the
earlier attempt are removed first), so it survives a restart. It reads through a repository
bound to the owner's context, exactly like a search: every resource is kept only if
``reader.visible`` allows it, so the files hold what the owner may read and nothing else.
Patient-level exports cover every Patient the owner may see; Group exports the members of
the Group (read with the owner's rights) that the owner may see. Resources go to one NDJSON
file per type (split every ``export_file_resources``). Each file stored is recorded in
``sync_export_file`` with the patients whose data it holds and, in the same transaction,
in the audit log (:func:`gateway.sync.export_audit.file_written`: one AuditEvent per
file, the owner as agent, those patients as entities). A cancelled job stops at its next
lease renewal and its files are removed.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from typing import Any

import orjson

from gateway.config import Settings
from gateway.errors import GatewayError
from gateway.record.reader import RecordReader
from gateway.record.repository import Repository
from gateway.record.services import RecordServices
from gateway.storage.export_jobs import (
    ExportFile,
    ExportJob,
    add_file,
    any_claimable,
    claim_job,
    current_page,
    finish_job,
    forget_files,
    renew_job,
    types_of_patients,
)
from gateway.sync.export_audit import file_written
from gateway.sync.export_files import ExportStorage
from gateway.sync.owner import context_of

log = logging.getLogger("gateway.sync.export")
PAGE = 500
PATIENT_CHUNK = 500


class Cancelled(Exception):
    """The job was cancelled (or taken over) while it ran."""


class ExportRunner:
    def __init__(
        self, services: RecordServices, settings: Settings, storage: ExportStorage, *, holder: str
    ) -> None:
        self.services = services
        self.settings = settings
        self.storage = storage
        self.holder = holder
        self.lease = int(settings.sync.lease_seconds * 1_000_000)

    def run_once(self) -> bool:
        """Run one job to its end; False when there was none to run."""
        with self.services.store.reader() as tx:
            if not any_claimable(tx, now=self.services.clock()):
                return False
        with self.services.store.writer() as tx:
            job = claim_job(tx, holder=self.holder, now=self.services.clock(), lease_us=self.lease)
        if job is None:
            return False
        self.storage.remove(job.id)
        with self.services.store.writer() as tx:
            forget_files(tx, job.id)
        try:
            self._run(job)
        except Cancelled:
            self.storage.remove(job.id)
            return True
        except Exception as exc:
            log.exception("export %s failed", job.id)
            self.storage.remove(job.id)
            with self.services.store.writer() as tx:
                forget_files(tx, job.id)
                finish_job(
                    tx,
                    job.id,
                    holder=self.holder,
                    state="failed",
                    now=self.services.clock(),
                    error=f"export failed ({type(exc).__name__})",
                )
            return True
        with self.services.store.writer() as tx:
            done = finish_job(
                tx, job.id, holder=self.holder, state="complete", now=self.services.clock()
            )
        if not done:
            self.storage.remove(job.id)
        return True

    # -- the work ------------------------------------------------------------------------

    def _renew(self, job: ExportJob, progress: str) -> None:
        with self.services.store.writer() as tx:
            alive = renew_job(
                tx,
                job.id,
                holder=self.holder,
                now=self.services.clock(),
                lease_us=self.lease,
                progress=progress[:200],
            )
        if not alive:
            raise Cancelled(job.id)

    def _run(self, job: ExportJob) -> None:
        facts: dict[str, str] = orjson.loads(job.caller)
        repo = Repository(context_of(facts), self.services)
        with repo.reading() as reader:
            patients = self._patients(reader, job)
            types = job.types.split(",") if job.types else self._types(reader, patients)
        for index, rtype in enumerate(types):
            self._renew(job, f"{rtype} ({index + 1} of {len(types)} types)")
            self._export_type(job, repo, rtype, patients)

    def _patients(self, reader: RecordReader, job: ExportJob) -> list[str]:
        if job.level == "group":
            assert job.group_id is not None
            try:
                group = reader.read("Group", job.group_id)
            except GatewayError:
                return []  # the owner no longer sees the Group: nothing to export
            members = _member_ids(orjson.loads(group.content or b"{}"))
            out = []
            for pid in members:
                current = reader.tx.current("Patient", pid)
                if current is not None and not current.deleted and reader.visible(current):
                    out.append(pid)
            return out
        out, after = [], 0
        while True:
            page = current_page(reader.tx, "Patient", after_pk=after, limit=PAGE)
            out.extend(v.id for v in page if reader.visible(v))
            if len(page) < PAGE:
                return out
            after = page[-1].pk or after

    def _types(self, reader: RecordReader, patients: list[str]) -> list[str]:
        found: set[str] = set()
        for start in range(0, len(patients), PATIENT_CHUNK):
            found.update(types_of_patients(reader.tx, patients[start : start + PATIENT_CHUNK]))
        return sorted(found)

    def _export_type(
        self, job: ExportJob, repo: Repository, rtype: str, patients: list[str]
    ) -> None:
        per_file = self.settings.sync.export_file_resources
        number = 0
        lines: list[bytes] = []
        holders: set[str] = set()
        for content, patient in self._visible(job, repo, rtype, patients):
            lines.append(content + b"\n")
            if patient:
                holders.add(patient)
            if len(lines) >= per_file:
                number += 1
                self._store(job, rtype, number, lines, holders)
                lines, holders = [], set()
        if lines:
            number += 1
            self._store(job, rtype, number, lines, holders)

    def _visible(
        self, job: ExportJob, repo: Repository, rtype: str, patients: list[str]
    ) -> Iterator[tuple[bytes, str | None]]:
        """The owner's visible resources of ``rtype``, each with its patient's id."""
        for start in range(0, len(patients), PATIENT_CHUNK):
            chunk = patients[start : start + PATIENT_CHUNK]
            after = 0
            while True:
                with repo.reading() as reader:
                    page = current_page(
                        reader.tx,
                        rtype,
                        patient_ids=chunk,
                        since=job.since,
                        after_pk=after,
                        limit=PAGE,
                    )
                    kept = [
                        (v.content, v.patient_id) for v in page if v.content and reader.visible(v)
                    ]
                yield from ((c, p) for c, p in kept if c is not None)
                if len(page) < PAGE:
                    break
                after = page[-1].pk or after

    def _store(
        self, job: ExportJob, rtype: str, number: int, lines: list[bytes], patients: set[str]
    ) -> None:
        name = f"{rtype}-{number}.ndjson"
        size, sha = self.storage.write(job.id, name, lines)
        file = ExportFile(job.id, name, rtype, len(lines), size, sha, " ".join(sorted(patients)))
        with self.services.store.writer() as tx:
            alive = renew_job(
                tx,
                job.id,
                holder=self.holder,
                now=self.services.clock(),
                lease_us=self.lease,
                progress=f"{rtype}: {name} written",
            )
            if alive:
                add_file(tx, file)
                file_written(self.services, tx.conn, job, file)
        if not alive:
            raise Cancelled(job.id)


def _member_ids(group: Any) -> list[str]:
    out: list[str] = []
    for member in group.get("member") or [] if isinstance(group, dict) else []:
        if not isinstance(member, dict) or member.get("inactive") is True:
            continue
        ref = (member.get("entity") or {}).get("reference")
        if isinstance(ref, str) and ref.startswith("Patient/") and ref.count("/") == 1:
            out.append(ref.split("/", 1)[1])
    return list(dict.fromkeys(out))
