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
quarantined records by kind. The exit code is 1 when anything was quarantined (or a
file could not be read), else 0; 2 for a configuration error.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING

import typer
from rich.console import Console
from rich.progress import BarColumn, Progress, TextColumn, TimeRemainingColumn
from rich.table import Table

if TYPE_CHECKING:  # the intake is imported by the commands, not by every CLI start
    from gateway.access.context import AccessContext
    from gateway.intake import Intake, Sender
    from gateway.intake.outcome import Tally

HEADERS = ("kind", "accepted", "duplicate", "quarantined")


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


def _ingest_file(intake: Intake, sender: Sender, path: Path, fmt: str, tally: Tally) -> int:
    """Ingest one file; returns the number of records quarantined."""
    from gateway.intake.formats import UnknownFormat, detect, split_hl7
    from gateway.intake.outcome import STATUSES

    data = path.read_bytes()
    try:
        kind_format, csv_kind = detect(path.name, data[:64], fmt, intake.csv_kinds)
    except UnknownFormat as exc:
        typer.echo(f"skipped {path}: {exc}", err=True)
        tally.add("unreadable file", ["quarantined"])
        return 1
    if kind_format == "hl7v2":
        quarantined = 0
        for message in split_hl7(data):
            outcome = intake.hl7v2(message, sender)
            tally.add(outcome.kind or "hl7v2", [outcome.status])
            quarantined += outcome.status == "quarantined"
        return quarantined
    if kind_format == "fhir":
        result = intake.fhir(data, sender, name=path.name)
    else:
        assert csv_kind is not None
        result = intake.csv(data, csv_kind, sender, name=path.name)
    counts = result.counts
    tally.add(result.kind, [s for s in STATUSES for _ in range(counts[s])])
    return counts["quarantined"]


def _summary(tally: Tally) -> Table:
    from gateway.intake.outcome import STATUSES

    table = Table(title="dmp-gateway ingest")
    for header in HEADERS:
        table.add_column(header, justify="left" if header == "kind" else "right")
    for kind in sorted(tally.by_kind):
        counts = tally.by_kind[kind]
        table.add_row(kind, *(str(counts.get(s, 0)) for s in STATUSES))
    table.add_row("total", *(str(tally.total(s)) for s in STATUSES), style="bold")
    return table


def ingest(
    paths: list[Path] = typer.Argument(..., exists=True, help="Files or folders."),
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

    settings = load_settings()
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
        quarantined = 0
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
                quarantined += _ingest_file(intake, sender, path, format, tally)
                progress.advance(task)
        Console().print(_summary(tally))
    finally:
        gc.unfreeze()
        services.store.engine.dispose()
    if quarantined:
        raise typer.Exit(1)
