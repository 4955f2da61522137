"""The verifier's batch opener (``AuditOpener.rows``) gives, row for row, what the
general opener gives, including on stored bytes an insider edited without the keys.

A real sealed log in the test database (both back-ends), then raw edits of
``audit_entry.content``: a flipped ciphertext byte, two ciphertexts swapped between
rows (each bound to its own seq), legacy plaintext, a truncated header, an unknown
version. Each row must come out as the general path opens it, or as stored when that
path refuses it (so the verifier locates a leaf mismatch there).
"""

from __future__ import annotations

import pytest
from sqlalchemy import Engine, select, update

from gateway.audit.checkpoint import Signer
from gateway.audit.verifier import verify
from gateway.crypto import envelope
from gateway.crypto.errors import ContentIntegrityError
from gateway.record.services import RecordServices
from gateway.storage import audit_checkpoints, audit_reads
from gateway.storage import schema as s
from gateway.storage.sealing import AuditOpener
from tests.audit_support import ORIGIN, append_in_batches, entries, new_log

N = 40
_e = s.audit_entry


def raw_rows(engine: Engine) -> list[tuple[int, bytes, bytes]]:
    with engine.connect() as conn:
        stmt = select(_e.c.seq, _e.c.content, _e.c.leaf).order_by(_e.c.seq)
        return [(q, bytes(c), bytes(lf)) for q, c, lf in conn.execute(stmt)]


def set_raw(engine: Engine, seq: int, content: bytes) -> None:
    with engine.begin() as conn:
        conn.execute(update(_e).where(_e.c.seq == seq).values(content=content))


def one_by_one(
    engine: Engine, rows: list[tuple[int, bytes, bytes]]
) -> list[tuple[int, bytes, bytes]]:
    out = []
    with engine.connect() as conn:
        opener = AuditOpener(conn)
        for seq, content, leaf in rows:
            try:
                out.append((seq, opener(seq, content), leaf))
            except ContentIntegrityError:
                out.append((seq, content, leaf))
    return out


@pytest.fixture
def signer() -> Signer:
    return Signer.generate(ORIGIN)


@pytest.fixture
def engine(services: RecordServices, signer: Signer) -> Engine:
    log = new_log(services.store.engine, signer, checkpoint_every=10)
    append_in_batches(log, entries(N), batch=7)
    log.checkpoint()
    return services.store.engine


def test_an_intact_sealed_log_opens_as_the_general_path_opens_it(
    engine: Engine, signer: Signer
) -> None:
    rows = raw_rows(engine)
    assert all(envelope.is_sealed(c) for _, c, _ in rows)  # the fast path is exercised
    with engine.connect() as conn:
        batched = AuditOpener(conn).rows(rows)
        notes = list(audit_checkpoints.all_notes(conn))
    assert batched == one_by_one(engine, rows)
    assert all(b'"resourceType":"AuditEvent"' in data for _, data, _ in batched)
    assert verify(batched, notes, [signer.verifier_key]).ok


def test_raw_edits_come_out_as_the_general_path_says(engine: Engine, signer: Signer) -> None:
    before = raw_rows(engine)
    content = {q: c for q, c, _ in before}
    flipped = bytearray(content[5])
    flipped[-20] ^= 0x01
    set_raw(engine, 5, bytes(flipped))  # ciphertext edited: the tag fails
    set_raw(engine, 11, content[12])  # a valid ciphertext, bound to another seq
    set_raw(engine, 12, content[11])
    set_raw(engine, 17, b'{"resourceType":"AuditEvent","legacy":true}')  # plaintext
    set_raw(engine, 23, content[23][: envelope.OVERHEAD - 1])  # too short to be sealed
    set_raw(engine, 29, content[29][:3] + b"\x09" + content[29][4:])  # unknown version
    rows = raw_rows(engine)
    with engine.connect() as conn:
        batched = AuditOpener(conn).rows(rows)
        # Through the scan the verifier reads, the same again.
        scanned = list(audit_reads.stored_entries(conn, batch=3))
        notes = list(audit_checkpoints.all_notes(conn))
    expected = one_by_one(engine, rows)
    assert batched == expected == scanned
    stored, opened = {q: c for q, c, _ in rows}, {q: d for q, d, _ in batched}
    for seq in (5, 11, 12, 17, 23, 29):  # refused, or legacy plaintext: as stored
        assert opened[seq] == stored[seq], seq
    verdict = verify(batched, notes, [signer.verifier_key])
    assert not verdict.ok and verdict.first_bad_seq == 5
