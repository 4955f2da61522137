"""The ``dmp-gateway`` command line (typer)."""

from __future__ import annotations

import typer
from pydantic import ValidationError

from gateway.cli_audit import audit_app

app = typer.Typer(
    help="dmp-gateway: a DMP-style shared health-record gateway.",
    no_args_is_help=True,
    add_completion=False,
)
app.add_typer(audit_app, name="audit")


def _settings() -> object:
    from gateway.config import Settings

    try:
        return Settings()
    except ValidationError as exc:
        for err in exc.errors():
            where = ".".join(str(p) for p in err["loc"]) or "settings"
            typer.echo(f"configuration error: {where}: {err['msg']}", err=True)
        raise typer.Exit(2) from None


@app.command()
def serve(
    host: str = typer.Option("127.0.0.1", help="Interface to listen on."),
    port: int = typer.Option(8080, help="TCP port."),
    workers: int = typer.Option(1, min=1, help="Worker processes."),
) -> None:
    """Run the gateway (uvicorn). With no configuration: SQLite under ./var."""
    import uvicorn

    from gateway.app import create_app
    from gateway.config import Settings
    from gateway.keyfile import ConfigurationError

    settings = _settings()
    assert isinstance(settings, Settings)
    try:
        create_app(settings)
    except ConfigurationError as exc:
        typer.echo(f"refusing to start: {exc}", err=True)
        raise typer.Exit(2) from None
    if settings.migrate_on_start:
        _migrate(settings)
    where = "PostgreSQL" if not settings.is_sqlite else f"SQLite in {settings.data_dir}/"
    typer.echo(f"dmp-gateway: http://{host}:{port}/fhir (storage: {where})", err=True)
    uvicorn.run(
        "gateway.app:app_from_env",
        factory=True,
        host=host,
        port=port,
        workers=workers,
        proxy_headers=True,
        server_header=False,
        log_level="info",
        # Access lines would carry query strings (identifiers such as an INS): off.
        access_log=False,
    )


def _migrate(settings: object) -> str | None:
    from gateway.config import Settings
    from gateway.storage import migrate as migrations
    from gateway.storage.engine import make_engine

    assert isinstance(settings, Settings)
    engine = make_engine(settings.sqlalchemy_url)
    try:
        migrations.upgrade(engine)
        return migrations.current_revision(engine)
    finally:
        engine.dispose()


@app.command()
def migrate() -> None:
    """Apply pending database migrations, then print the schema revision."""
    revision = _migrate(_settings())
    typer.echo(f"schema at revision {revision}")


@app.command()
def version() -> None:
    """Print the gateway version."""
    from gateway import __version__

    typer.echo(__version__)


def main() -> None:
    app(prog_name="dmp-gateway")


if __name__ == "__main__":  # pragma: no cover
    main()
