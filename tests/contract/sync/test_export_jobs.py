"""Bulk Data export jobs in the worker: access-filtered like reads, files recorded,
cancellation leaves nothing, a job survives the death of its worker."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

import orjson
import pytest

from gateway.access.context import AccessContext
from gateway.config import Settings
from gateway.errors import NotFound
from gateway.events.memory import MemoryBus
from gateway.record.repository import Repository
from gateway.record.services import RecordServices
from gateway.rest.request import FhirRequest
from gateway.rest.router import dispatch
from gateway.storage.export_jobs import claim_job
from gateway.sync import export_operation as _registered  # noqa: F401 - registers $export
from gateway.sync.export_files import FileExportStorage
from gateway.sync.export_runner import ExportRunner
from gateway.sync.export_status import cancel, export_file, job_status
from gateway.sync.runtime import SyncRuntime
from tests.contract.sync.conftest import (
    CONTEXT_A,
    CONTEXT_B,
    group,
    heart_rate,
    load_two_ehpads,
)
from tests.sync_support import FakeClock, sync_runtime


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def runtime(
    services: RecordServices, settings: Settings, clock: FakeClock, tmp_path: Path
) -> Iterator[SyncRuntime]:
    made = sync_runtime(
        services, settings, MemoryBus(), clock=clock, export_dir=tmp_path / "exports"
    )
    yield made
    made.close()


def kick_off(runtime: SyncRuntime, ctx: AccessContext, path: str, **query: str) -> str:
    req = FhirRequest(
        "GET",
        path.split("/"),
        query=list(query.items()),
        headers={"prefer": "respond-async"},
        base="http://gw.test/fhir",
    )
    response = dispatch(req, Repository(ctx, runtime.services))
    assert response.status == 202
    return response.headers["Content-Location"].rsplit("/", 1)[1]


def manifest(runtime: SyncRuntime, ctx: AccessContext, job: str) -> dict[str, Any]:
    answer = job_status(runtime.services.store, ctx, job, f"http://gw.test/sync/export/{job}")
    assert answer.status == 200 and answer.body is not None
    out: dict[str, Any] = orjson.loads(answer.body)
    return out


def exported(runtime: SyncRuntime, ctx: AccessContext, job: str) -> dict[str, dict[str, Any]]:
    out = {}
    for item in manifest(runtime, ctx, job)["output"]:
        name = item["url"].rsplit("/", 1)[1]
        path = export_file(runtime.services, runtime.exports, ctx, job, name)
        lines = path.read_bytes().splitlines()
        assert len(lines) == item["count"]
        for line in lines:
            resource = orjson.loads(line)
            assert resource["resourceType"] == item["type"]
            out[f"{resource['resourceType']}/{resource['id']}"] = resource
    return out


def readable(runtime: SyncRuntime, ctx: AccessContext) -> dict[str, dict[str, Any]]:
    """What ``ctx`` may read, in any patient's record (the expected export)."""
    out = {}
    with Repository(ctx, runtime.services).reading() as r:
        rows = r.tx.conn.exec_driver_sql(
            "SELECT resource_type, id FROM resource WHERE patient_id IS NOT NULL AND NOT deleted"
        ).all()
        for rtype, rid in rows:
            try:
                out[f"{rtype}/{rid}"] = orjson.loads(r.read(rtype, rid).content or b"{}")
            except NotFound:
                continue
    return out


def runner(runtime: SyncRuntime, holder: str = "w") -> ExportRunner:
    return ExportRunner(runtime.services, runtime.settings, runtime.exports, holder=holder)


def test_group_export_holds_exactly_what_the_ehpad_may_read(runtime: SyncRuntime) -> None:
    dev = load_two_ehpads(runtime)
    with dev.writing() as w:
        w.create(heart_rate("gaston", 81))
    job = kick_off(runtime, CONTEXT_A, "Group/ehpad-a/$export")
    pending = job_status(runtime.services.store, CONTEXT_A, job, "u")
    assert pending.status == 202 and "X-Progress" in pending.headers
    assert runner(runtime).run_once()
    got = exported(runtime, CONTEXT_A, job)
    assert got == readable(runtime, CONTEXT_A)
    assert {k.split("/")[0] for k in got} == {"Patient", "Observation"}
    assert all("bruno" not in orjson.dumps(r).decode() for r in got.values())
    with pytest.raises(NotFound):  # another EHPAD: the job does not exist for it
        job_status(runtime.services.store, CONTEXT_B, job, "u")
    with pytest.raises(NotFound):  # nor may it export a Group it cannot read
        kick_off(runtime, CONTEXT_B, "Group/ehpad-a/$export")


def test_after_a_move_the_old_ehpad_exports_nothing_of_the_resident(
    runtime: SyncRuntime,
) -> None:
    dev = load_two_ehpads(runtime)
    with dev.writing() as w:
        w.update("Group", "ehpad-a", group("ehpad-a", []))
        w.update("Group", "ehpad-b", group("ehpad-b", ["bruno", "gaston"]))
    old = kick_off(runtime, CONTEXT_A, "Patient/$export")
    new = kick_off(runtime, CONTEXT_B, "Group/ehpad-b/$export")
    assert runner(runtime).run_once() and runner(runtime).run_once()
    assert exported(runtime, CONTEXT_A, old) == {}
    assert "Patient/gaston" in exported(runtime, CONTEXT_B, new)


def test_patient_export_with_type_and_since(runtime: SyncRuntime, clock: FakeClock) -> None:
    dev = load_two_ehpads(runtime)
    clock.advance(10)
    since = clock.now
    with dev.writing() as w:
        late = w.create(heart_rate("gaston", 85)).version
    from gateway.fhir.instant import format_instant

    job = kick_off(
        runtime, CONTEXT_A, "Patient/$export", _type="Observation", _since=format_instant(since)
    )
    assert runner(runtime).run_once()
    assert set(exported(runtime, CONTEXT_A, job)) == {f"Observation/{late.id}"}


class CancellingStorage(FileExportStorage):
    """Cancels the job (as DELETE would) right after the worker stored its first file."""

    def __init__(self, root: Path, runtime: SyncRuntime, ctx: AccessContext) -> None:
        super().__init__(root)
        self.runtime, self.ctx = runtime, ctx

    def write(self, job_id: str, name: str, chunks: Iterable[bytes]) -> tuple[int, str]:
        result = super().write(job_id, name, chunks)
        cancel(self.runtime.services.store, self, self.ctx, job_id, now=0)
        super().write(job_id, "late.ndjson", [b"{}\n"])  # the worker is still writing
        return result


def test_a_cancelled_job_leaves_no_files(runtime: SyncRuntime, tmp_path: Path) -> None:
    load_two_ehpads(runtime)
    job = kick_off(runtime, CONTEXT_A, "Group/ehpad-a/$export")
    storage = CancellingStorage(tmp_path / "exports", runtime, CONTEXT_A)
    assert ExportRunner(runtime.services, runtime.settings, storage, holder="w").run_once()
    assert not (tmp_path / "exports" / job).exists()
    with pytest.raises(NotFound):
        job_status(runtime.services.store, CONTEXT_A, job, "u")
    queued = kick_off(runtime, CONTEXT_A, "Group/ehpad-a/$export")
    cancel(runtime.services.store, runtime.exports, CONTEXT_A, queued, now=0)
    assert runner(runtime).run_once() is False, "a job cancelled before it ran never runs"
    assert not (tmp_path / "exports" / queued).exists()


def test_a_job_survives_the_death_of_its_worker(runtime: SyncRuntime, clock: FakeClock) -> None:
    load_two_ehpads(runtime)
    job = kick_off(runtime, CONTEXT_A, "Group/ehpad-a/$export")
    with runtime.services.store.writer() as tx:  # a worker claims it, then dies
        assert claim_job(tx, holder="dead", now=clock(), lease_us=60_000_000) is not None
    assert runner(runtime, "alive").run_once() is False, "its lease still runs"
    clock.advance(61)
    assert runner(runtime, "alive").run_once()
    assert set(exported(runtime, CONTEXT_A, job)) == set(readable(runtime, CONTEXT_A))


def _export_audit(runtime: SyncRuntime) -> list[tuple[str, set[str]]]:
    """(operation, patient entities) of every AuditEvent about an exported file."""
    from gateway.storage.audit_reads import stored_entries

    out = []
    with runtime.services.store.engine.connect() as conn:
        for _seq, content, _leaf in stored_entries(conn):
            entities = orjson.loads(content).get("entity", [])
            operations = [
                d["valueString"]
                for e in entities
                for d in e.get("detail", [])
                if d.get("type") == "operation"
            ]
            if operations and operations[0].startswith("export-file-"):
                patients = {e["what"]["reference"] for e in entities if "what" in e}
                out.append((operations[0], patients))
    return out


def test_a_file_is_downloaded_only_while_the_rules_allow_its_patients_and_audited(
    runtime: SyncRuntime,
) -> None:
    """The file was written with the rights of the export's start; it is handed out only
    while the caller may still read every patient it holds (Gaston leaves EHPAD A: his
    data no longer goes to A), and each file written and downloaded is an AuditEvent
    naming its patients, so that it shows in their access logs."""
    dev = load_two_ehpads(runtime)
    job = kick_off(runtime, CONTEXT_A, "Group/ehpad-a/$export")
    assert runner(runtime).run_once()
    got = exported(runtime, CONTEXT_A, job)  # downloads every file, once
    assert "Patient/gaston" in got and "Patient/bruno" not in got
    audited = _export_audit(runtime)
    written = [p for op, p in audited if op == "export-file-written"]
    downloads = [p for op, p in audited if op == "export-file-download"]
    assert len(written) == len(downloads) == len(manifest(runtime, CONTEXT_A, job)["output"])
    assert all(p == {"Patient/gaston"} for p in written + downloads), audited
    with dev.writing() as w:
        w.update("Group", "ehpad-a", group("ehpad-a", []))
        w.update("Group", "ehpad-b", group("ehpad-b", ["bruno", "gaston"]))
    for item in manifest(runtime, CONTEXT_A, job)["output"]:
        with pytest.raises(NotFound) as gone:
            export_file(
                runtime.services, runtime.exports, CONTEXT_A, job, item["url"].rsplit("/", 1)[1]
            )
        assert gone.value.code == "GW-3082"
    assert len(_export_audit(runtime)) == len(audited), "a refused download is no download"
