"""``dmp-gateway reindex [--type T]``: rebuild search index rows from stored content."""

from __future__ import annotations

import typer


def reindex(
    types: list[str] = typer.Option(
        [], "--type", "-t", help="Resource type to reindex (repeatable); default: all."
    ),
    batch: int = typer.Option(500, min=1, help="Resources per transaction."),
) -> None:
    """Rebuild the search index rows of stored resources, online and in batches.

    Run it after changing GATEWAY_CRYPTO__INDEX_KEY(_FILE), __HASH_IDENTIFIERS or
    __CLEAR_NAMES, so that existing rows follow the new settings.
    """
    from gateway.app import build_services
    from gateway.cli import load_settings
    from gateway.keyfile import ConfigurationError
    from gateway.record.reindex import reindex as run

    settings = load_settings()
    try:
        services = build_services(settings, audit=False)
    except ConfigurationError as exc:
        typer.echo(f"refusing to start: {exc}", err=True)
        raise typer.Exit(2) from None
    registry = services.search.registry
    unknown = [t for t in types if not registry.is_resource_type(t)]
    if unknown:
        typer.echo(f"unknown resource type: {', '.join(unknown)}", err=True)
        raise typer.Exit(2)
    try:
        report = run(
            services,
            types,
            batch=batch,
            progress=lambda rtype, done: typer.echo(f"{rtype}: {done}", err=True),
        )
    finally:
        services.store.engine.dispose()
    for rtype, count in report.counts.items():
        typer.echo(f"{rtype}\t{count}")
    typer.echo(f"reindexed {report.total} resources")
    if report.unreadable:
        typer.echo(f"{len(report.unreadable)} unreadable, left as they were:", err=True)
        for ref in report.unreadable[:20]:
            typer.echo(f"  {ref}", err=True)
        raise typer.Exit(1)
