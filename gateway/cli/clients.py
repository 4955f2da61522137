"""``dmp-gateway clients add|list|remove``: the registry of calling systems."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import typer
import yaml
from rich.console import Console
from rich.table import Table

from gateway.auth import RegistryError, load_registry, parse_client, registry_document
from gateway.auth.registry import Rate, RateLimit, rate_limit_document

app = typer.Typer(help="Manage the systems allowed to call the gateway.", no_args_is_help=True)


def _path() -> Path:
    from gateway.cli import load_settings

    return load_settings().clients_path


def write_registry(path: Path, document: dict[str, Any]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    tmp.write_text(yaml.safe_dump(document, sort_keys=False, allow_unicode=True), "utf-8")
    tmp.replace(path)  # atomic: the server never reads a half-written file


def add_client(path: Path, entry: dict[str, Any]) -> None:
    registry = load_registry(path)
    client = parse_client(entry, where=f"client {entry.get('id')}")
    write_registry(path, registry_document(registry.with_client(client)))


def structure_problem(value: str) -> str | None:
    """Why ``value`` is not an idNat_Struct, as the gateway's identifier checks see it
    (:mod:`gateway.validation.domain`: '1' + a FINESS whose Luhn key holds; the other
    kinds, such as '3' + SIRET, are digits)."""
    from gateway.fhir.identifiers import is_valid_finess

    if not value or not value[0].isdigit() or not value.isalnum():
        return "an idNat_Struct is a type digit then the structure's number, e.g. '1' + FINESS"
    if value.startswith("1") and not is_valid_finess(value[1:]):
        return "'1' + FINESS expected: the FINESS is 9 characters with a valid Luhn key"
    return None


def _read_jwks(path: Path) -> list[Any]:
    """The public keys of a JWK or JWKS file; exit 2 with one line when it cannot be."""
    try:
        raw = json.loads(path.read_text("utf-8"))
    except OSError as exc:
        typer.echo(f"refused: --jwks {path}: {exc.strerror or exc}", err=True)
        raise typer.Exit(2) from None
    except (UnicodeDecodeError, ValueError) as exc:
        typer.echo(f"refused: --jwks {path}: not a JSON file ({exc})", err=True)
        raise typer.Exit(2) from None
    keys = raw["keys"] if isinstance(raw, dict) and "keys" in raw else [raw]
    if not isinstance(keys, list) or not keys or not all(isinstance(k, dict) for k in keys):
        typer.echo(
            f'refused: --jwks {path}: expected a JWK or a JWKS ({{"keys": [...]}})', err=True
        )
        raise typer.Exit(2)
    return keys


@app.command("add")
def add(
    client_id: str = typer.Option(..., "--id", help="Client id (the tokens' iss)."),
    name: str = typer.Option(..., help="Human name of the calling system."),
    role: str = typer.Option(..., help="vendor, ehpad, auditor or admin."),
    structure: list[str] = typer.Option([], help="idNat_Struct it may speak for (repeat)."),
    jwks: Path = typer.Option(..., help="JSON file with its public JWK or JWKS."),
    group: str | None = typer.Option(None, help="Group id of an EHPAD's residents."),
    per_second: float = typer.Option(50.0, help="Client-wide rate (requests per second)."),
    burst: int = typer.Option(100, help="Client-wide burst."),
    professional_per_second: float = typer.Option(10.0, help="Rate of each caller (sub)."),
    professional_burst: int = typer.Option(20, help="Burst of each caller (sub)."),
    ingest_per_second: float = typer.Option(5.0, help="Ingestion rate (its own bucket)."),
    ingest_burst: int = typer.Option(10, help="Ingestion burst."),
) -> None:
    """Register (or replace) a client and its public keys."""
    for value in structure:
        problem = structure_problem(value)
        if problem:
            typer.echo(f"refused: --structure {value!r}: {problem}", err=True)
            raise typer.Exit(2)
    keys = _read_jwks(jwks)
    entry = {
        "id": client_id,
        "name": name,
        "role": role,
        "structures": list(structure),
        "group": group,
        "rate_limit": rate_limit_document(
            RateLimit(
                per_second,
                burst,
                professional=Rate(professional_per_second, professional_burst),
                ingest=Rate(ingest_per_second, ingest_burst),
            )
        ),
        "jwks": {"keys": keys},
    }
    try:
        add_client(_path(), entry)
    except RegistryError as exc:
        typer.echo(f"refused: {exc}", err=True)
        raise typer.Exit(2) from None
    typer.echo(f"client {client_id} registered")


@app.command("list")
def list_clients() -> None:
    """Show the registered clients (a table on a terminal, tab-separated lines otherwise)."""
    registry = load_registry(_path())
    header = ("id", "name", "role", "structures", "group", "keys", "rate")
    rows = [
        (
            c.id,
            c.name,
            c.role,
            ", ".join(sorted(c.structures)),
            c.group or "",
            ", ".join(k.kid for k in c.keys),
            f"{c.rate_limit.per_second:g}/s, each {c.rate_limit.professional.per_second:g}/s, "
            f"ingest {c.rate_limit.ingest.per_second:g}/s",
        )
        for c in registry.clients.values()
    ]
    console = Console()
    if not console.is_terminal:  # a pipe or a file: whole values, one client per line
        for row in (header, *rows):
            typer.echo("\t".join(value.replace("\t", " ") for value in row))
        return
    table = Table(*header)
    for row in rows:
        table.add_row(*row)
    console.print(table)


@app.command("remove")
def remove(client_id: str = typer.Argument(..., help="The client id to remove.")) -> None:
    """Remove a client: its tokens are refused from the next request on."""
    path = _path()
    registry = load_registry(path)
    if client_id not in registry.clients:
        typer.echo(f"no client {client_id}", err=True)
        raise typer.Exit(1)
    write_registry(path, registry_document(registry.without(client_id)))
    typer.echo(f"client {client_id} removed")
