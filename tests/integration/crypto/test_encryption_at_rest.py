"""Encryption at rest (issue 9): canary scans, tamper detection, rotation, shredding.

Real SQLite and PostgreSQL (the ``backend`` fixtures), real Redis for the canary.
"""

from __future__ import annotations

import base64
import subprocess
import threading
import uuid
from typing import Any

import pytest
import redis
from sqlalchemy import delete, select, text, update

from gateway.access.context import AccessContext
from gateway.app import build_services
from gateway.config import CryptoSettings, Settings
from gateway.crypto.errors import ContentErased, ContentIntegrityError
from gateway.crypto.kek import KekFile, kek_path
from gateway.intake import ledger
from gateway.intake import quarantine as q
from gateway.record.erasure import NothingToShred, shred_patient
from gateway.record.repository import Repository
from gateway.record.services import RecordServices
from gateway.storage import schema as s
from gateway.storage.audit_log import AuditLog
from gateway.storage.keys import Keyring, keyring_of
from gateway.storage.seal_existing import seal_existing
from tests.support import REDIS_URL, empty_database


def _marker(tag: str) -> str:
    return f"CANARY{tag}{uuid.uuid4().hex[:12].upper()}"


def _patient(repo: Repository, family: str) -> str:
    with repo.writing() as w:
        return w.create({"resourceType": "Patient", "name": [{"family": family}]}).version.id


def _observation(repo: Repository, pid: str, note: str) -> str:
    body = {
        "resourceType": "Observation",
        "status": "final",
        "code": {"text": "weight"},
        "subject": {"reference": f"Patient/{pid}"},
        "note": [{"text": note}],
    }
    with repo.writing() as w:
        return w.create(body).version.id


def _forms(marker: str) -> list[bytes]:
    raw = marker.encode()
    b64 = base64.b64encode(raw)
    return [raw, b64[: len(b64) - 4], raw.lower()]


def _dump(services: RecordServices) -> bytes:
    engine = services.store.engine
    if engine.dialect.name == "sqlite":
        path = services.settings.data_dir / "gateway.sqlite3"
        with engine.connect() as conn:  # the WAL too: scan both files
            conn.exec_driver_sql("PRAGMA wal_checkpoint(PASSIVE)")
        out = path.read_bytes()
        wal = path.with_name(path.name + "-wal")
        return out + (wal.read_bytes() if wal.exists() else b"")
    url = services.settings.database_url
    assert url is not None
    dump = ["pg_dump", "--data-only", url]
    return subprocess.run(dump, check=True, capture_output=True).stdout


def test_canary_no_marker_in_clear(repo: Repository, services: RecordServices) -> None:
    note, ext, data, name, quarantined, audited, acked = (
        _marker(t) for t in ("NOTE", "EXT", "BIN", "NAME", "QUAR", "AUDIT", "ACK")
    )
    pid = _patient(repo, name)
    _observation(repo, pid, note)
    with repo.writing() as w:
        w.create(
            {
                "resourceType": "Observation",
                "status": "final",
                "code": {"text": "x"},
                "subject": {"reference": f"Patient/{pid}"},
                "extension": [{"url": "http://example.org/x", "valueString": ext}],
            }
        )
        w.create(
            {
                "resourceType": "Binary",
                "contentType": "text/plain",
                "data": base64.b64encode(data.encode()).decode(),
            }
        )
    with services.store.writer() as tx:
        q.add(
            tx.conn,
            [
                q.QuarantineEntry(
                    id=q.new_id(),
                    source="c",
                    structure="s",
                    format="hl7v2",
                    kind="ADT^A01",
                    reason="rejected",
                    status="open",
                    received=1,
                    updated=1,
                    payload=f"MSH|^~\\&|PID|||{quarantined}".encode(),
                    payload_sha256="0" * 64,
                    issues=[{"diagnostics": quarantined}],
                    details={"v": quarantined},
                )
            ],
        )
        # The ledger keeps each message's first answer, which may quote its content.
        ledger.add(
            tx.conn,
            [
                ledger.LedgerRecord(
                    key="k" * 64,
                    source="c",
                    structure="s",
                    format="hl7v2",
                    kind="ORU^R01",
                    message_id="m1",
                    payload_sha256="0" * 64,
                    received=1,
                    status="quarantined",
                    response=f"MSA|AE|m1\rERR|||{acked}".encode(),
                )
            ],
        )
    with services.store.reader() as tx:
        found = ledger.find(tx.conn, ["k" * 64])["k" * 64]
    assert acked.encode() in found.response, "the ledger reads its answer back in clear"
    # An audited search whose query names the marker (the log keeps the raw query).
    assert services.audit is not None
    from gateway.audit.events import AuditRecord

    services.audit.record_standalone(
        AuditRecord(
            interaction="search-type",
            ctx=repo.ctx,
            recorded=1,
            query=f"Observation?note={audited}".encode(),
        )
    )
    dump = _dump(services)
    for marker in (note, ext, data, quarantined, audited, acked):
        for form in _forms(marker):
            assert form not in dump, marker
    # Redis (change notifications, caches): nothing in clear either.
    r = redis.Redis.from_url(REDIS_URL)
    blobs = b"".join(r.dump(k) or b"" for k in r.scan_iter(count=1000))
    for marker in (note, ext, data, quarantined, audited, name):
        assert marker.encode() not in blobs
    # The documented trade-off: a name's normalised form stays in clear in idx_string.
    with services.store.reader() as tx:
        norms = [bytes(str(v), "utf-8") for v in tx.conn.execute(select(s.idx_string.c.norm))]
    assert any(name.lower().encode() in v.lower() for v in norms)
    # Everything reads back in clear through the store.
    with repo.reading() as reader:
        body = reader.read("Patient", pid).content
    assert body is not None and name.encode() in body


def _raw(services: RecordServices, rid: str) -> bytes:
    with services.store.reader() as tx:
        value = tx.conn.execute(select(s.resource.c.content).where(s.resource.c.id == rid)).scalar()
    assert value is not None
    return bytes(value)


def _put_raw(services: RecordServices, rid: str, blob: bytes) -> None:
    with services.store.writer() as tx:
        tx.conn.execute(update(s.resource).where(s.resource.c.id == rid).values(content=blob))


def _read(repo: Repository, rid: str) -> Any:
    with repo.reading() as reader:
        return reader.read("Observation", rid).content


def test_a_flipped_bit_is_an_integrity_error(repo: Repository, services: RecordServices) -> None:
    pid = _patient(repo, "Tamper")
    rid = _observation(repo, pid, "secret")
    blob = bytearray(_raw(services, rid))
    assert blob[:3] == b"\x00GW"
    blob[-20] ^= 0x01
    _put_raw(services, rid, bytes(blob))
    with pytest.raises(ContentIntegrityError) as err:
        _read(repo, rid)
    assert err.value.status == 500 and err.value.code == "GW-5090"


@pytest.mark.parametrize("other", ["id", "patient", "version"])
def test_a_moved_ciphertext_is_an_integrity_error(
    repo: Repository, services: RecordServices, other: str
) -> None:
    pid = _patient(repo, "Mover")
    a = _observation(repo, pid, "first")
    if other == "id":
        b = _observation(repo, pid, "second")
        _put_raw(services, b, _raw(services, a))
        target = b
    elif other == "patient":
        b = _observation(repo, _patient(repo, "Other"), "third")
        _put_raw(services, b, _raw(services, a))
        target = b
    else:  # version 2's row gets version 1's bytes
        old = _raw(services, a)
        with repo.writing() as w:
            w.update(
                "Observation",
                a,
                {
                    "resourceType": "Observation",
                    "id": a,
                    "status": "amended",
                    "code": {"text": "w"},
                    "subject": {"reference": f"Patient/{pid}"},
                },
            )
        _put_raw(services, a, old)
        target = a
    with pytest.raises(ContentIntegrityError):
        _read(repo, target)


def test_legacy_plaintext_reads_and_seal_existing_encrypts_it(
    repo: Repository, services: RecordServices
) -> None:
    pid = _patient(repo, "Legacy")
    rid = _observation(repo, pid, "old")
    plain = _read(repo, rid)
    _put_raw(services, rid, plain)  # as written before encryption was on
    assert _read(repo, rid) == plain
    done = dict(seal_existing(services.store.engine, batch=2))
    assert done["resource"] >= 1
    assert _raw(services, rid)[:3] == b"\x00GW"
    assert _read(repo, rid) == plain


def test_rotation_under_load_then_new_kek_alone(settings: Settings) -> None:
    # A key file instead of the tests' shared environment KEK; data keys of earlier tests
    # (wrapped by that one) are removed first.
    settings = settings.model_copy(update={"crypto": CryptoSettings()})
    services = build_services(settings)
    empty_database(services.store.engine)
    with services.store.engine.begin() as conn:
        conn.execute(delete(s.data_key))
    try:
        _rotation(Repository(AccessContext.dev_open(), services), services)
    finally:
        services.store.engine.dispose()


def _rotation(repo: Repository, services: RecordServices) -> None:
    pids = [_patient(repo, f"Rot{i}") for i in range(5)]
    rids = [_observation(repo, p, f"n{i}") for i, p in enumerate(pids)]
    errors: list[BaseException] = []
    stop = threading.Event()

    def load(n: int) -> None:
        mine = Repository(repo.ctx, services)  # a repository is one caller's, per thread
        try:
            while not stop.is_set():
                _read(mine, rids[n % len(rids)])
                pid = _patient(mine, f"Load{n}")
                rids.append(_observation(mine, pid, "during"))
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=load, args=(n,)) for n in range(3)]
    for t in threads:
        t.start()
    path = kek_path(services.settings)
    assert path is not None
    kf = KekFile.load(path)
    old = kf.current
    kf.add()
    kf.save()
    ring = _ring(services)
    rounds = 0
    while rounds < 3:
        list(ring.rewrap(services.store.engine, batch=3))
        rounds += 1
    stop.set()
    for t in threads:
        t.join()
    list(ring.rewrap(services.store.engine, batch=3))  # keys made just before the stop
    assert errors == []
    with services.store.reader() as tx:
        status = Keyring.status(tx.conn)
    assert {k for k, _, _ in status} == {kf.current}
    # The old KEK leaves the key file; a fresh process (a new keyring) reads everything.
    kf = KekFile.load(path)
    del kf.keys[old]
    kf.save()
    fresh = build_services(services.settings)  # a fresh process: a new keyring
    try:
        fresh_repo = Repository(repo.ctx, fresh)
        for rid in list(rids):
            assert _read(fresh_repo, rid) is not None
    finally:
        fresh.store.engine.dispose()


def _ring(services: RecordServices) -> Keyring:
    with services.store.engine.connect() as conn:
        ring = keyring_of(conn)
    assert ring is not None
    return ring


def test_shred_erases_a_patient_and_keeps_the_audit_log(
    repo: Repository, services: RecordServices
) -> None:
    gone, kept = _patient(repo, "Shredme"), _patient(repo, "Keepme")
    a, b = _observation(repo, gone, "erase"), _observation(repo, kept, "keep")
    log = services.audit
    assert isinstance(log, AuditLog)
    log.checkpoint()
    count = shred_patient(services, gone)
    assert count == 2  # the Patient and their Observation
    with pytest.raises(ContentErased) as err:
        _read(repo, a)
    assert err.value.status == 410 and err.value.code == "GW-3090"
    assert _read(repo, b) is not None
    with services.store.reader() as tx:
        row = tx.conn.execute(select(s.data_key).where(s.data_key.c.owner == gone)).one()
        indexed = tx.conn.execute(
            text(
                "SELECT count(*) FROM idx_reference r JOIN resource x ON x.pk = r.resource_pk "
                "WHERE x.patient_id = :p"
            ),
            {"p": gone},
        ).scalar()
    assert row.wrapped is None and row.shredded is not None
    assert indexed == 0
    # Nothing new can be written for the erased patient.
    with pytest.raises(ContentErased):
        _observation(repo, gone, "after")
    # The log stays readable and verifiable (its own key), and records the shred.
    from gateway.audit.verifier import verify
    from gateway.storage.audit_checkpoints import all_notes
    from gateway.storage.audit_keys import known_keys
    from gateway.storage.audit_reads import stored_entries

    log.checkpoint()
    with services.store.engine.connect() as conn:
        entries = list(stored_entries(conn))
        verdict = verify(iter(entries), list(all_notes(conn)), [k for k, _ in known_keys(conn)])
    assert verdict.ok, verdict
    assert any(b"crypto-shred" in content for _, content, _ in entries)
    # Shredding again destroys nothing and records nothing; neither does an unknown id.
    for again, why in ((gone, "already destroyed"), ("nobody", "no such patient")):
        with pytest.raises(NothingToShred, match=why):
            shred_patient(services, again)
    with services.store.engine.connect() as conn:
        assert len(list(stored_entries(conn))) == len(entries)
        nobody = select(s.data_key).where(s.data_key.c.owner == "nobody")
        assert conn.execute(nobody).first() is None, "no tombstone key for an unknown id"
