"""Tampering with a real stored log: ``dmp-gateway audit verify`` catches it and says where.

Each test builds a 300-entry log (checkpoints every 50) in the test database, edits
the database the way an insider with SQL access could, then runs the CLI in a
subprocess against it.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from sqlalchemy import Engine, delete, select, update

from gateway.audit.checkpoint import Checkpoint, Signer, sign_checkpoint
from gateway.audit.merkle import leaf_hash
from gateway.config import Settings
from gateway.record.services import RecordServices
from gateway.storage import schema as s
from gateway.storage.sealing import open_audit, seal_audit
from tests.audit_support import ORIGIN, append_in_batches, entries, new_log, run_cli, write_keys

N, EVERY = 300, 50
_e = s.audit_entry


@pytest.fixture
def signer() -> Signer:
    return Signer.generate(ORIGIN)


@pytest.fixture
def built(services: RecordServices, signer: Signer) -> Engine:
    log = new_log(services.store.engine, signer, checkpoint_every=EVERY)
    append_in_batches(log, entries(N), batch=10)
    assert log.checkpoint().size == N
    return services.store.engine


def verify_cli(settings: Settings, signer: Signer, tmp_path: Path) -> tuple[int, str]:
    keys = write_keys(tmp_path / "keys.txt", signer)
    result = run_cli(
        settings, "audit", "verify", "--data-dir", str(settings.data_dir), "--public-key", str(keys)
    )
    assert result.returncode in (0, 1), result.stderr
    return result.returncode, result.stdout


def content_of(engine: Engine, seq: int) -> tuple[bytes, bytes]:
    """An entry's plaintext and leaf. Entries are sealed at rest: the forger here holds
    the keys too (the strongest attacker), and the Merkle log must still catch them."""
    with engine.connect() as conn:
        row = conn.execute(select(_e.c.content, _e.c.leaf).where(_e.c.seq == seq)).one()
        return open_audit(conn, seq, row.content), bytes(row.leaf)


def set_entry(engine: Engine, seq: int, content: bytes, leaf: bytes | None = None) -> None:
    with engine.begin() as conn:
        values = {"content": seal_audit(conn, seq, content)}
        values |= {"leaf": leaf} if leaf is not None else {}
        conn.execute(update(_e).where(_e.c.seq == seq).values(**values))


def test_an_intact_log_verifies(
    built: Engine, settings: Settings, signer: Signer, tmp_path: Path
) -> None:
    code, out = verify_cli(settings, signer, tmp_path)
    assert code == 0, out
    assert out.startswith("OK: 300 entries match 6 checkpoints")  # 50, 100, …, 300
    assert "their search columns match" in out


def flip_one_byte(engine: Engine) -> None:
    content, _ = content_of(engine, 123)
    i = content.index(b"req-123")
    set_entry(engine, 123, content[:i] + b"seq" + content[i + 3 :])


def flip_one_byte_and_its_leaf(engine: Engine) -> None:
    content, _ = content_of(engine, 123)
    forged = content.replace(b"lgc-0", b"lgc-9")
    set_entry(engine, 123, forged, leaf_hash(forged))


def delete_one_in_the_middle(engine: Engine) -> None:
    with engine.begin() as conn:
        conn.execute(delete(_e).where(_e.c.seq == 150))


def delete_the_newest(engine: Engine) -> None:
    with engine.begin() as conn:
        conn.execute(delete(_e).where(_e.c.seq >= 280))


def swap_two(engine: Engine) -> None:
    a, b = content_of(engine, 200), content_of(engine, 201)
    set_entry(engine, 200, *b)
    set_entry(engine, 201, *a)


def replace_a_checkpoint(engine: Engine) -> None:
    forger = Signer.generate(ORIGIN)  # same name, not our key
    note = sign_checkpoint(Checkpoint(ORIGIN, 150, b"\x42" * 32), [forger])
    with engine.begin() as conn:
        conn.execute(
            update(s.audit_checkpoint).where(s.audit_checkpoint.c.size == 150).values(note=note)
        )


def hide_from_an_agent_search(engine: Engine) -> None:
    with engine.begin() as conn:
        conn.execute(update(_e).where(_e.c.seq == 77).values(agent="000000000000"))


def change_an_outcome(engine: Engine) -> None:
    with engine.begin() as conn:
        conn.execute(update(_e).where(_e.c.seq == 79).values(outcome=8))


def hide_from_a_patients_access_log(engine: Engine) -> None:
    p = s.audit_patient
    with engine.begin() as conn:
        conn.execute(delete(p).where(p.c.seq == 90))


def name_another_patient(engine: Engine) -> None:
    p = s.audit_patient
    with engine.begin() as conn:
        conn.execute(update(p).where(p.c.seq == 91).values(patient_id="p-other"))


@pytest.mark.parametrize(
    ("tamper", "expected"),
    [
        (hide_from_an_agent_search, "first bad seq: 77"),
        (change_an_outcome, "first bad seq: 79"),
        (hide_from_a_patients_access_log, "first bad seq: 90"),
        (name_another_patient, "first bad seq: 91"),
        (flip_one_byte, "first bad seq: 123"),
        (flip_one_byte_and_its_leaf, "first bad seq: 100"),  # between checkpoints 100 and 150
        (delete_one_in_the_middle, "first bad seq: 150"),
        (delete_the_newest, "first bad seq: 280"),
        (swap_two, "first bad seq: 200"),
        (replace_a_checkpoint, "bad checkpoint: #2 (size 150)"),
    ],
    ids=lambda v: v.__name__ if callable(v) else None,
)
def test_each_tampering_is_detected_and_located(
    built: Engine,
    settings: Settings,
    signer: Signer,
    tmp_path: Path,
    tamper: Callable[[Engine], None],
    expected: str,
) -> None:
    tamper(built)
    code, out = verify_cli(settings, signer, tmp_path)
    assert code == 1, out
    assert out.startswith("FAILED: ")
    assert expected in out.splitlines(), out


def test_dropping_unsigned_newest_entries_is_caught_by_the_head(
    services: RecordServices, settings: Settings, signer: Signer, tmp_path: Path
) -> None:
    engine = services.store.engine
    log = new_log(engine, signer, checkpoint_every=EVERY)
    log.append_standalone(entries(60))  # checkpoint at 50; 10 entries not yet signed
    with engine.begin() as conn:
        conn.execute(delete(_e).where(_e.c.seq >= 55))
    code, out = verify_cli(settings, signer, tmp_path)
    assert code == 1 and "first bad seq: 55" in out.splitlines(), out


def test_an_export_and_its_checkpoints_verify_offline(
    built: Engine, settings: Settings, signer: Signer, tmp_path: Path
) -> None:
    from gateway.storage import audit_checkpoints, audit_reads

    export = tmp_path / "log.ndjson"
    export.write_bytes(b"".join(audit_reads.export_lines(built, audit_reads.ExportFilter())))
    with built.connect() as conn:
        notes = "\n".join(audit_checkpoints.all_notes(conn))
    checkpoints = tmp_path / "checkpoints.txt"
    checkpoints.write_text(notes)
    keys = write_keys(tmp_path / "keys.txt", signer)
    args = ["--public-key", str(keys), "--checkpoint", str(checkpoints)]
    ok = run_cli(settings, "audit", "verify", "--export", str(export), *args)
    assert ok.returncode == 0 and ok.stdout.startswith("OK: 300 entries"), ok.stdout
    lines = export.read_bytes().splitlines(keepends=True)
    lines[42] = lines[42].replace(b'"action":"R"', b'"action":"D"')
    export.write_bytes(b"".join(lines))
    bad = run_cli(settings, "audit", "verify", "--export", str(export), *args)
    assert bad.returncode == 1 and "first bad seq: 42" in bad.stdout.splitlines(), bad.stdout
