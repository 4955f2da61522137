"""``dmp-gateway audit …``: verify the log offline, force a checkpoint, show or rotate keys.

``verify`` exits 0 when every entry and checkpoint checks out, 1 on any mismatch
(naming the first bad sequence number or the bad checkpoint), 2 on a usage error.
Imports are local to each command, so ``dmp-gateway --help`` stays fast.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import typer

audit_app = typer.Typer(help="The tamper-evident audit log.", no_args_is_help=True)


def _settings(data_dir: Path | None = None) -> Any:
    from pydantic import ValidationError

    from gateway.config import Settings

    try:
        return Settings(data_dir=data_dir) if data_dir is not None else Settings()
    except ValidationError as exc:
        for err in exc.errors():
            where = ".".join(str(p) for p in err["loc"]) or "settings"
            typer.echo(f"configuration error: {where}: {err['msg']}", err=True)
        raise typer.Exit(2) from None


def _keys(files: list[Path]) -> list[Any]:
    from gateway.audit.checkpoint import CheckpointError, VerifierKey

    keys = []
    for path in files:
        for number, line in enumerate(path.read_text("utf-8").splitlines(), start=1):
            if line.strip() and not line.startswith("#"):
                try:
                    keys.append(VerifierKey.from_text(line))
                except CheckpointError as e:
                    typer.echo(f"{path}:{number}: not a public key: {e}", err=True)
                    raise typer.Exit(2) from None
    if not keys:
        typer.echo("no public key given", err=True)
        raise typer.Exit(2)
    return keys


def _from_database(data_dir: Path | None, keys: list[Any]) -> tuple[Any, list[int], int]:
    from gateway.audit.verifier import verify
    from gateway.storage.audit_checkpoints import all_notes
    from gateway.storage.audit_head import read_head
    from gateway.storage.audit_reads import stored_entries
    from gateway.storage.engine import make_engine
    from gateway.storage.keys import open_keys

    settings = _settings(data_dir)
    if settings.is_sqlite and not (settings.data_dir / "gateway.sqlite3").exists():
        typer.echo(f"no gateway database in {settings.data_dir}", err=True)
        raise typer.Exit(2)
    engine = make_engine(settings.sqlalchemy_url)
    open_keys(engine, settings)  # entries are sealed at rest; their leaves hash the plaintext
    try:
        with engine.connect() as conn:
            notes = list(all_notes(conn))
            head_size = read_head(conn, lock=False).size
            verdict = verify(stored_entries(conn), notes, keys)
    finally:
        engine.dispose()
    return verdict, [_note_size(n) for n in notes], head_size


def _first_column_mismatch(data_dir: Path | None) -> tuple[int, str] | None:
    from gateway.storage.audit_columns import mismatches
    from gateway.storage.engine import make_engine
    from gateway.storage.keys import open_keys

    settings = _settings(data_dir)
    engine = make_engine(settings.sqlalchemy_url)
    open_keys(engine, settings)
    try:
        with engine.connect() as conn, conn.begin():  # one snapshot (PostgreSQL cursors)
            return next(mismatches(conn), None)
    finally:
        engine.dispose()


def _note_size(note: str) -> int:
    lines = note.split("\n")
    return int(lines[1]) if len(lines) > 1 and lines[1].isdigit() else -1


@audit_app.command("verify")
def verify_command(
    public_key: list[Path] = typer.Option(
        ..., "--public-key", exists=True, dir_okay=False, help="File of trusted public keys."
    ),
    data_dir: Path | None = typer.Option(
        None, "--data-dir", file_okay=False, help="Verify the gateway database here."
    ),
    export: Path | None = typer.Option(
        None, "--export", exists=True, dir_okay=False, help="An NDJSON export of the log."
    ),
    checkpoint: Path | None = typer.Option(
        None, "--checkpoint", exists=True, dir_okay=False, help="The checkpoints of --export."
    ),
    skip_columns: bool = typer.Option(
        False,
        "--skip-columns",
        help="With --data-dir: do not check the search columns against the entries.",
    ),
) -> None:
    """Recompute the log's root from every entry and check every signed checkpoint;
    with --data-dir, also that the columns auditors and patients search by are those
    the entries' bytes stand for (an edited column would hide an entry)."""
    from gateway.audit.verifier import verify_export

    keys = _keys(public_key)
    if (export is None) != (checkpoint is None) or (export is not None and data_dir is not None):
        typer.echo("give --export with --checkpoint, or --data-dir (or neither)", err=True)
        raise typer.Exit(2)
    if export is not None and checkpoint is not None:
        with export.open("rb") as lines:
            verdict = verify_export(lines, checkpoint.read_text("utf-8"), keys)
        sizes = [_note_size(n) for n in _split(checkpoint.read_text("utf-8"))]
        head_size = None
    else:
        verdict, sizes, head_size = _from_database(data_dir, keys)
    ok, first_bad, message = verdict.ok, verdict.first_bad_seq, verdict.message
    if head_size is not None and ok and head_size > verdict.entries_checked:
        ok, first_bad = False, verdict.entries_checked
        message = f"the head counts {head_size} entries, the table holds {first_bad}"
    if ok and export is None and not skip_columns:
        wrong = _first_column_mismatch(data_dir)
        if wrong is not None:
            ok, first_bad = False, wrong[0]
            message = f"entry {wrong[0]}: {wrong[1]} (the tree verifies; its search columns do not)"
        else:
            message += "; their search columns match"
    typer.echo(("OK: " if ok else "FAILED: ") + message)
    if first_bad is not None:
        typer.echo(f"first bad seq: {first_bad}")
    if verdict.bad_checkpoint is not None:
        position = verdict.bad_checkpoint
        size = sizes[position] if position < len(sizes) else -1
        typer.echo(f"bad checkpoint: #{position}" + (f" (size {size})" if size >= 0 else ""))
    raise typer.Exit(0 if ok else 1)


def _split(text: str) -> list[str]:
    from gateway.audit.checkpoint import split_notes

    return split_notes(text)


@audit_app.command("checkpoint")
def checkpoint_command() -> None:
    """Sign a checkpoint of the log now (unless the latest one covers every entry)."""
    from gateway.keyfile import ConfigurationError
    from gateway.storage.audit_log import AuditLog
    from gateway.storage.engine import make_engine

    settings = _settings()
    engine = make_engine(settings.sqlalchemy_url)
    try:
        cp = AuditLog.from_settings(settings, engine).checkpoint()
    except ConfigurationError as exc:
        typer.echo(f"configuration error: {exc}", err=True)
        raise typer.Exit(2) from None
    finally:
        engine.dispose()
    typer.echo(cp.note, nl=False)


@audit_app.command("keys")
def keys_command(
    rotate: bool = typer.Option(False, "--rotate", help="Write a new signing key."),
    key_file: Path | None = typer.Option(
        None, "--key-file", dir_okay=False, help="Where the signing key lives (for --rotate)."
    ),
) -> None:
    """Print the log's public keys, one per line (give them to auditors), or rotate."""
    from gateway.keyfile import ConfigurationError
    from gateway.storage.audit_keys import known_keys, load_signer, register
    from gateway.storage.audit_keys import rotate as rotate_key
    from gateway.storage.audit_log import wall_clock
    from gateway.storage.engine import make_engine

    settings = _settings()
    engine = make_engine(settings.sqlalchemy_url)
    try:
        if rotate:
            old, new = rotate_key(settings, key_file)
            with engine.begin() as conn:
                for signer in [k for k in (old, new) if k is not None]:
                    register(conn, signer.verifier_key, wall_clock())
            typer.echo("wrote a new audit signing key; restart the gateway to use it", err=True)
        current = load_signer(settings) if key_file is None else None
        with engine.connect() as conn:
            keys = [key for key, _ in known_keys(conn)]
    except ConfigurationError as exc:
        typer.echo(f"configuration error: {exc}", err=True)
        raise typer.Exit(2) from None
    finally:
        engine.dispose()
    if current is not None and current.verifier_key not in keys:
        keys.append(current.verifier_key)
    for key in keys:
        mark = " (current)" if current is not None and key == current.verifier_key else ""
        typer.echo(key.to_text())
        typer.echo(f"  ↑ key ID {key.key_id.hex()}{mark}", err=True)
