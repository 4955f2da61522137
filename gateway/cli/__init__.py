"""The ``dmp-gateway`` command line (typer)."""

from __future__ import annotations

import typer
from pydantic import ValidationError

from gateway.config import Settings, settings_from_environment, unknown_variables

app = typer.Typer(
    help="dmp-gateway: a DMP-style shared health-record gateway.",
    no_args_is_help=True,
    add_completion=False,
)


def load_settings() -> Settings:
    """Settings from the environment, or exit 2 naming each bad variable. A ``GATEWAY_*``
    variable that configures nothing is named on stderr (a typo would leave a default in
    force: SQLite instead of PostgreSQL, another port), and ignored."""
    import os

    for name in unknown_variables(os.environ):
        typer.echo(f"warning: {name} is not a dmp-gateway setting; ignored", err=True)
    try:
        return settings_from_environment()
    except ValidationError as exc:
        for err in exc.errors():
            where = ".".join(str(p) for p in err["loc"]) or "settings"
            typer.echo(f"configuration error: {where}: {err['msg']}", err=True)
        raise typer.Exit(2) from None


@app.command()
def serve(
    host: str = typer.Option("127.0.0.1", help="Interface to listen on."),
    port: int = typer.Option(8080, min=0, max=65535, help="TCP port."),
    workers: int = typer.Option(1, min=1, help="Worker processes."),
) -> None:
    """Run the gateway (uvicorn). With no configuration: SQLite under ./var."""
    import uvicorn

    from gateway.api.logs import configure_logging
    from gateway.app import create_app
    from gateway.keyfile import ConfigurationError

    settings = load_settings()
    configure_logging(settings.telemetry)
    _fresh_metrics_dir()
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
        server_header=False,  # the app sends "Server: dmp-gateway", without a version
        log_config=None,  # keep the JSON logging configured above (and in each worker)
        log_level=settings.telemetry.log_level.lower(),
        # uvicorn's access lines would carry query strings (identifiers such as an INS);
        # the app logs one line per request without them (logger gateway.access).
        access_log=False,
        # SIGTERM: stop accepting, let in-flight requests finish, then the lifespan
        # signs a last audit checkpoint.
        timeout_graceful_shutdown=int(settings.http.shutdown_grace_seconds),
    )


def _fresh_metrics_dir() -> None:
    """With ``PROMETHEUS_MULTIPROC_DIR`` (several workers share metrics through files
    there), start from an empty folder: files of a previous run would add up."""
    import os
    from pathlib import Path

    folder = os.environ.get("PROMETHEUS_MULTIPROC_DIR")
    if folder:
        path = Path(folder)
        path.mkdir(parents=True, exist_ok=True)
        for old in path.glob("*.db"):
            old.unlink()


def _migrate(settings: Settings) -> str | None:
    from gateway.storage import migrate as migrations
    from gateway.storage.engine import make_engine

    engine = make_engine(settings.sqlalchemy_url)
    try:
        migrations.upgrade(engine)
        return migrations.current_revision(engine)
    finally:
        engine.dispose()


@app.command()
def migrate() -> None:
    """Apply pending database migrations, then print the schema revision."""
    revision = _migrate(load_settings())
    typer.echo(f"schema at revision {revision}")


# -- sync (issue 8) -------------------------------------------------------------------------
@app.command()
def worker(
    once: bool = typer.Option(False, "--once", help="Do what is pending, then exit."),
) -> None:
    """Run the sync worker: subscriptions, deliveries, exports, patient notices."""
    import signal
    import threading

    from gateway.api.logs import configure_logging
    from gateway.app import build_services, settle_heap
    from gateway.keyfile import ConfigurationError
    from gateway.sync.runtime import start_sync
    from gateway.sync.worker import Worker

    settings = load_settings()
    configure_logging(settings.telemetry)
    if settings.migrate_on_start:
        _migrate(settings)
    services = build_services(settings)
    runtime = start_sync(settings, services)
    settle_heap()
    try:
        runner = Worker(runtime)
    except ConfigurationError as exc:
        typer.echo(f"refusing to start: {exc}", err=True)
        raise typer.Exit(2) from None
    try:
        if once:
            runner.drain()
            runner.close()
            return
        stop = threading.Event()
        for sig in (signal.SIGTERM, signal.SIGINT):
            signal.signal(sig, lambda *_: stop.set())
        typer.echo(f"dmp-gateway worker {runner.holder} running", err=True)
        runner.run(stop)
    finally:
        runtime.close()
        services.store.engine.dispose()


@app.command()
def version() -> None:
    """Print the gateway version."""
    from gateway import __version__

    typer.echo(__version__)


def _register_groups() -> None:
    from gateway.cli import clients, demo, ingest, mllp, reindex
    from gateway.cli.audit import audit_app
    from gateway.cli.keys import keys_app

    app.add_typer(audit_app, name="audit")
    app.add_typer(keys_app, name="keys")
    app.add_typer(clients.app, name="clients")
    app.command("ingest")(ingest.ingest)
    app.command("mllp")(mllp.mllp)
    app.command("demo")(demo.demo)
    app.command("reindex")(reindex.reindex)
    app.command("token")(demo.token)


_register_groups()


def main() -> None:
    """The ``dmp-gateway`` entry point: a configuration error is one line and exit 2,
    whichever command meets it, never a traceback."""
    from gateway.keyfile import ConfigurationError

    try:
        app(prog_name="dmp-gateway")
    except ConfigurationError as exc:
        typer.echo(f"configuration error: {exc}", err=True)
        raise SystemExit(2) from None


if __name__ == "__main__":  # pragma: no cover
    main()
