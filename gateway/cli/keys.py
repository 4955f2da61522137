"""``dmp-gateway keys``: encryption-at-rest keys (issue 9). Admin commands: they run with
the database and key file at hand, not over the API.

- ``init``: create the key file (production);
- ``status``: which KEK wraps how many data keys;
- ``rotate``: a new KEK, then every data key re-wrapped under it (online, batched);
- ``rewrap``: re-wrap under the current KEK (after changing an environment KEK);
- ``seal-existing``: encrypt rows written before encryption was on (online, batched);
- ``shred --patient ID``: destroy a patient's data key (crypto-shredding), audited.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import TYPE_CHECKING

import typer

if TYPE_CHECKING:
    from gateway.record.services import RecordServices
    from gateway.storage.keys import Keyring

keys_app = typer.Typer(help="Encryption-at-rest keys: status, rotation, shredding.")


def _services() -> RecordServices:
    from gateway.app import build_services
    from gateway.cli import _migrate, load_settings
    from gateway.keyfile import ConfigurationError

    settings = load_settings()
    if settings.migrate_on_start:
        _migrate(settings)
    try:
        return build_services(settings)
    except ConfigurationError as exc:
        typer.echo(f"configuration error: {exc}", err=True)
        raise typer.Exit(2) from None


def _keyring(services: RecordServices) -> Keyring:
    from gateway.storage.keys import keyring_of

    with services.store.engine.connect() as conn:
        ring = keyring_of(conn)
    assert ring is not None
    return ring


@keys_app.command("init")
def init(
    kek_file: Path = typer.Option(..., "--kek-file", dir_okay=False, help="Where to write it."),
) -> None:
    """Create a key file with one random KEK (mode 0600); refuses to overwrite."""
    from gateway.crypto.kek import KekFile

    if kek_file.exists():
        typer.echo(f"{kek_file} exists already", err=True)
        raise typer.Exit(2)
    KekFile.create(kek_file)
    typer.echo(f"wrote {kek_file}; set GATEWAY_CRYPTO__KEK_FILE={kek_file}")


@keys_app.command("status")
def status() -> None:
    """How many data keys each KEK wraps (and how many were shredded)."""
    from rich.console import Console
    from rich.table import Table

    from gateway.storage.keys import Keyring

    services = _services()
    ring = _keyring(services)
    try:
        with services.store.reader() as tx:
            rows = Keyring.status(tx.conn)
    finally:
        services.store.engine.dispose()
    table = Table(title=f"Data keys (current KEK: {ring.wrapper.current()})")
    for col in ("KEK", "scope", "keys"):
        table.add_column(col, justify="right" if col == "keys" else "left")
    for kek, scope, n in rows:
        table.add_row(kek, scope, str(n))
    Console().print(table)


def _rewrap(services: RecordServices, batch: int) -> int:
    ring = _keyring(services)
    done, started = 0, time.monotonic()
    # Other processes may still wrap new keys under the old KEK until they notice the
    # new key file: a second pass after a short grace period catches those.
    for grace in (0.0, 2.0):
        time.sleep(grace)
        this_pass = 0
        for this_pass in ring.rewrap(services.store.engine, batch=batch):
            typer.echo(f"re-wrapped {done + this_pass} data keys", err=True)
        done += this_pass
    typer.echo(f"re-wrapped {done} data keys in {time.monotonic() - started:.1f} s")
    return done


@keys_app.command("rotate")
def rotate(
    batch: int = typer.Option(5000, min=1, help="Data keys per transaction."),
    retire: bool = typer.Option(
        False, "--retire", help="Afterwards drop old KEKs that no data key uses any more."
    ),
) -> None:
    """Create a new KEK in the key file and re-wrap every data key under it, online."""
    from gateway.crypto.kek import KekFile, kek_path
    from gateway.storage.keys import Keyring

    services = _services()
    path = kek_path(services.settings)
    if path is None or services.settings.crypto.kek is not None or services.settings.crypto.kms:
        typer.echo(
            "rotate needs a key file; with GATEWAY_CRYPTO__KEK or a KMS, rotate the key there "
            "(keep the old one in the key file) and run 'dmp-gateway keys rewrap'",
            err=True,
        )
        raise typer.Exit(2)
    try:
        kf = KekFile.load(path)
        new = kf.add()
        kf.save()
        typer.echo(f"new KEK {new} is current", err=True)
        _rewrap(services, batch)
        if retire:
            with services.store.reader() as tx:
                used = {k for k, _, _ in Keyring.status(tx.conn)}
            kf = KekFile.load(path)
            for kid in [k for k in kf.keys if k != kf.current and k not in used]:
                del kf.keys[kid]
                typer.echo(f"retired KEK {kid}", err=True)
            kf.save()
    finally:
        services.store.engine.dispose()


@keys_app.command("rewrap")
def rewrap(batch: int = typer.Option(5000, min=1, help="Data keys per transaction.")) -> None:
    """Re-wrap every data key not under the current KEK (ciphertexts untouched)."""
    services = _services()
    try:
        _rewrap(services, batch)
    finally:
        services.store.engine.dispose()


@keys_app.command("seal-existing")
def seal_existing_command(
    batch: int = typer.Option(1000, min=1, help="Rows per transaction."),
) -> None:
    """Encrypt stored content written before encryption was on (online, batched)."""
    from gateway.storage.seal_existing import seal_existing

    services = _services()
    if not services.settings.crypto.encrypt:
        typer.echo("encryption is off (GATEWAY_CRYPTO__ENCRYPT=false)", err=True)
        raise typer.Exit(2)
    last: dict[str, int] = {}
    try:
        for what, n in seal_existing(services.store.engine, batch=batch):
            last[what] = n
    finally:
        services.store.engine.dispose()
    for what, n in last.items():
        typer.echo(f"{what}: sealed {n}")


@keys_app.command("shred")
def shred(
    patient: str = typer.Option(..., "--patient", help="The Patient id whose data to erase."),
    yes: bool = typer.Option(False, "--yes", help="Do not ask for confirmation."),
) -> None:
    """Destroy a patient's data key: their stored content becomes unreadable for good."""
    from gateway.record.erasure import NothingToShred, shred_patient

    if not yes:
        typer.confirm(
            f"Erase every stored resource of Patient/{patient} for good (crypto-shredding)?",
            abort=True,
        )
    services = _services()
    try:
        count = shred_patient(services, patient)
    except NothingToShred as nothing:
        typer.echo(f"Patient/{patient}: {nothing}; nothing destroyed", err=True)
        raise typer.Exit(1) from None
    finally:
        services.store.engine.dispose()
    typer.echo(f"Patient/{patient}: data key destroyed; {count} resources unindexed")
