"""``dmp-gateway ingest PATH…``: files and folders through the intake pipeline, in process.

The same pipeline as ``/ingest`` (identity, access rules, profiles, Provenance,
idempotency, quarantine), with the database of the configuration. Who sends:

- ``--source CLIENT``: a registered client, as the MLLP listener does
  (:mod:`gateway.intake.registered`): an EHPAD client sends as its system; a vendor
  client needs ``--professional IDNAT_PS --profession CODE`` (and ``--structure`` when
  it has several);
- without ``--source``, only with ``GATEWAY_ENV=dev``: the development caller, for the
  FINESS given by ``--finess``.

Folders are read recursively (hidden files skipped), files in name order. A rich
progress bar follows the bytes; a summary table gives accepted, duplicates and
quarantined records by kind, then one line per quarantined record (quarantine id and
reason) and per resend of something quarantined the first time. The exit code is 1 when
anything was quarantined, resent after a quarantine, or a file could not be read, else
0; 2 for a usage or configuration error (a missing path, an unknown ``--format``).
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

import typer
from rich.console import Console
from rich.progress import BarColumn, Progress, TextColumn, TimeRemainingColumn
from rich.table import Table

if TYPE_CHECKING:  # the intake is imported by the commands, not by every CLI start
    from gateway.access.context import AccessContext
    from gateway.intake import Intake, Sender
    from gateway.intake.outcome import FileOutcome, MessageOutcome, Tally

HEADERS = ("kind", "accepted", "duplicate", "quarantined")
FORMATS = ("auto", "hl7v2", "fhir", "csv")


def check_format(fmt: str) -> None:
    """Exit 2 naming the valid values when ``--format`` is not one (before any file is read)."""
    from gateway.ingest import load_mappings

    kinds = sorted(load_mappings())
    if fmt in FORMATS or (fmt.startswith("csv:") and fmt[4:] in kinds):
        return
    valid = ", ".join([*FORMATS, *(f"csv:{k}" for k in kinds)])
    typer.echo(f"refused: --format {fmt!r} is not one of: {valid}", err=True)
    raise typer.Exit(2)


def check_paths(paths: list[Path]) -> None:
    """Exit 2 naming the first path that does not exist, or a folder with no file to
    ingest in it (before any file is read)."""
    from gateway.intake.formats import DATA_SUFFIXES

    for path in paths:
        if not path.exists():
            typer.echo(f"refused: {path}: no such file or folder", err=True)
            raise typer.Exit(2)
        if path.is_dir() and next(_files([path]), None) is None:
            suffixes = ", ".join(sorted(DATA_SUFFIXES))
            typer.echo(
                f"refused: {path}: the folder holds no file to ingest ({suffixes})", err=True
            )
            raise typer.Exit(2)


@dataclass(frozen=True)
class Note:
    """A line after the summary table: what was quarantined, and why (ids, codes and the
    reason text the ACK or OperationOutcome gives; no clinical content)."""

    where: str
    quarantine_id: str | None
    reason: str
    duplicate: bool = False  # a resend of something quarantined the first time

    def line(self) -> str:
        qid = self.quarantine_id or "no id"
        if self.duplicate:
            return (
                f"{self.where}: duplicate, first outcome quarantined "
                f"(quarantine {qid}){': ' + self.reason if self.reason else ''}"
            )
        return f"{self.where}: quarantined (quarantine {qid}): {self.reason or 'no reason given'}"


def _issue_reason(issues: Sequence[Any]) -> str:
    """``GW-NNNN diagnostics`` of the first error (IngestIssue or OperationOutcome issue)."""
    for issue in issues:
        fhir = issue if isinstance(issue, dict) else issue.to_fhir()
        if fhir.get("severity") not in ("fatal", "error"):
            continue
        codes = [c.get("code") for c in (fhir.get("details") or {}).get("coding", [])]
        code = next((c for c in codes if isinstance(c, str)), None)
        text = str(fhir.get("diagnostics") or fhir.get("code") or "")
        return f"{code} {text}" if code else text
    return ""


def _ack_reason(ack: str) -> str:
    """The reason an HL7 ACK gives: its first ERR segment's code and message, else MSA-3."""
    segments = [seg.split("|") for seg in ack.replace("\n", "\r").split("\r") if seg]
    for fields in segments:
        if fields[0] == "ERR":
            code = fields[5].split("^")[0] if len(fields) > 5 else ""
            text = fields[8] if len(fields) > 8 else ""
            return " ".join(x for x in (code, text) if x)
    for fields in segments:
        if fields[0] == "MSA" and len(fields) > 3:
            return fields[3]
    return ""


def _files(paths: list[Path]) -> Iterator[Path]:
    from gateway.intake.formats import DATA_SUFFIXES

    for path in paths:
        if path.is_dir():
            for child in sorted(path.rglob("*")):
                rel = child.relative_to(path)
                hidden = any(p.startswith(".") for p in rel.parts)
                if child.is_file() and not hidden and child.suffix.lower() in DATA_SUFFIXES:
                    yield child
        else:
            yield path


def caller_context(
    settings_env: str,
    clients_path: Path,
    source: str | None,
    *,
    structure: str | None,
    professional: str | None,
    profession: str | None,
) -> AccessContext:
    """The context the payloads are written with (exit 2 with a reason if impossible)."""
    from gateway.access.context import AccessContext
    from gateway.auth import load_registry
    from gateway.intake import (
        ClientMisconfigured,
        ProfessionalIdentity,
        UnknownClient,
        registered_context,
    )

    if source is None:
        if settings_env != "dev":
            typer.echo("refused: --source CLIENT is required outside GATEWAY_ENV=dev", err=True)
            raise typer.Exit(2)
        return AccessContext.dev_open()
    identity = None
    if professional is not None:
        identity = ProfessionalIdentity(professional, profession or "", structure)
    try:
        return registered_context(
            load_registry(clients_path),
            source,
            structure=structure,
            professional=identity,
            software="dmp-gateway/cli",
        )
    except (UnknownClient, ClientMisconfigured) as exc:
        typer.echo(f"refused: {exc}", err=True)
        raise typer.Exit(2) from None


def _ingest_file(
    intake: Intake, sender: Sender, path: Path, fmt: str, tally: Tally, notes: list[Note]
) -> int:
    """Ingest one file; returns the number of records quarantined, or resent after a
    quarantine (those were not stored either). ``notes`` gets a line for each."""
    from gateway.intake.formats import UnknownFormat, detect, split_hl7
    from gateway.intake.outcome import STATUSES

    try:
        data = path.read_bytes()
    except OSError as exc:
        typer.echo(f"skipped {path}: {exc.strerror or exc}", err=True)
        tally.add("unreadable file", ["skipped"])
        return 1
    try:
        kind_format, csv_kind = detect(path.name, data[:64], fmt, intake.csv_kinds)
    except UnknownFormat as exc:
        typer.echo(f"skipped {path}: {exc}", err=True)
        tally.add("unreadable file", ["skipped"])
        return 1
    if kind_format == "hl7v2":
        failed = 0
        for number, message in enumerate(split_hl7(data), 1):
            outcome = intake.hl7v2(message, sender)
            tally.add(outcome.kind or "hl7v2", [outcome.status])
            failed += _message_note(outcome, f"{path.name} message {number}", notes)
        return failed
    if kind_format == "fhir":
        result = intake.fhir(data, sender, name=path.name)
    else:
        assert csv_kind is not None
        result = intake.csv(data, csv_kind, sender, name=path.name)
    counts = result.counts
    tally.add(result.kind, [s for s in STATUSES for _ in range(counts[s])])
    return _file_notes(result, path.name, notes)


def _message_note(outcome: MessageOutcome, where: str, notes: list[Note]) -> int:
    if outcome.status == "quarantined":
        reason = _issue_reason(outcome.issues) or _ack_reason(outcome.ack)
        notes.append(Note(where, outcome.quarantine_id, reason))
        return 1
    if outcome.status == "duplicate" and outcome.first_status == "quarantined":
        notes.append(Note(where, outcome.quarantine_id, _ack_reason(outcome.ack), True))
        return 1
    return 0


def _file_notes(result: FileOutcome, name: str, notes: list[Note]) -> int:
    failed = 0
    if result.file_quarantine and not result.rows:
        notes.append(Note(name, result.file_quarantine, _issue_reason(result.issues)))
        failed += 1
    for row in result.rows:
        where = f"{name} line {row.line}"
        if row.status == "quarantined":
            notes.append(Note(where, row.quarantine_id, _issue_reason(row.issues)))
            failed += 1
        elif row.status == "duplicate" and row.first_status == "quarantined":
            first_issues = (row.first_response or {}).get("issues") or []
            notes.append(Note(where, row.quarantine_id, _issue_reason(first_issues), True))
            failed += 1
    return failed


def _summary(tally: Tally) -> Table:
    from gateway.intake.outcome import STATUSES

    table = Table(title="dmp-gateway ingest")
    for header in HEADERS:
        table.add_column(header, justify="left" if header == "kind" else "right")
    for kind in sorted(tally.by_kind):
        counts = tally.by_kind[kind]
        if kind == "unreadable file":  # skipped, not stored anywhere: no status applies
            continue
        table.add_row(kind, *(str(counts.get(s, 0)) for s in STATUSES))
    table.add_row("total", *(str(tally.total(s)) for s in STATUSES), style="bold")
    return table


def ingest(
    paths: list[Path] = typer.Argument(..., help="Files or folders."),
    format: str = typer.Option(
        "auto", "--format", help="auto, hl7v2, csv:KIND (residents, vitals, …) or fhir."
    ),
    source: str | None = typer.Option(None, "--source", help="Registered client id."),
    structure: str | None = typer.Option(None, help="idNat_Struct, if the client has several."),
    professional: str | None = typer.Option(
        None, help="idNat_PS a vendor client sends as (vendor clients only)."
    ),
    profession: str | None = typer.Option(None, help="TRE_G15 code of --professional."),
    finess: str | None = typer.Option(None, help="FINESS of the dev caller (dev, no --source)."),
) -> None:
    """Ingest HL7 v2, CSV and FHIR files through the intake pipeline."""
    import gc

    from gateway.app import access_rules, build_services, settle_heap
    from gateway.cli import load_settings
    from gateway.intake import Intake, sender_for
    from gateway.intake.outcome import Tally
    from gateway.storage import migrate

    check_format(format)
    check_paths(paths)
    settings = load_settings()
    if source is None and finess is None and settings.env == "dev":
        typer.echo(
            "refused: name who sends: --source CLIENT (a registered client) or, in dev, "
            "--finess FINESS (the development caller's structure)",
            err=True,
        )
        raise typer.Exit(2)
    ctx = caller_context(
        settings.env,
        settings.clients_path,
        source,
        structure=structure,
        professional=professional,
        profession=profession,
    )
    try:
        sender = sender_for(ctx, dev_finess=finess)
    except Exception as exc:  # Forbidden: the caller has no FINESS-based structure
        typer.echo(f"refused: {exc}", err=True)
        raise typer.Exit(2) from None
    services = build_services(settings)
    if ctx.kind == "dev":  # the development caller is honoured in dev only (checked above)
        services = replace(services, policy=access_rules(settings, trusted_loader=True))
    try:
        if settings.migrate_on_start:
            migrate.upgrade(services.store.engine)
        intake = Intake.load(services)
        # As the server does, for the length of the run only (the command also runs
        # inside other processes: tests, scripts; they get their collector back).
        settle_heap()
        files = list(_files(paths))
        tally = Tally()
        notes: list[Note] = []
        failed = 0
        console = Console(stderr=True)
        with Progress(
            TextColumn("{task.description}"),
            BarColumn(),
            TextColumn("{task.completed}/{task.total} files"),
            TimeRemainingColumn(),
            console=console,
            transient=True,
        ) as progress:
            task = progress.add_task("ingesting", total=len(files))
            for path in files:
                progress.update(task, description=path.name[:40])
                failed += _ingest_file(intake, sender, path, format, tally, notes)
                progress.advance(task)
        Console().print(_summary(tally))
        skipped = tally.total("skipped")
        if skipped:
            typer.echo(
                f"skipped: {skipped} file(s) unreadable or of unknown format, nothing stored"
            )
        for note in notes:
            typer.echo(note.line())
    finally:
        gc.unfreeze()
        services.store.engine.dispose()
    if failed:
        raise typer.Exit(1)
