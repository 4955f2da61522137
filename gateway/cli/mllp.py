"""``dmp-gateway mllp --port 2575 --client ID``: the MLLP listener for HL7 v2 senders.

MLLP carries no token: the listener writes as one registered client
(:mod:`gateway.intake.registered`): an EHPAD client as its system (its structure and
its residents' Group), a vendor client as the professional given by
``--professional``/``--profession``. An unknown or unusable client refuses to start
(exit 2) before the port is opened.

Since whoever reaches the port writes as that client, only peers whose address is in
``--allow`` (networks, repeatable; loopback by default) are served, and at most
``--max-connections`` at once.

One process runs the pipeline on one core. ``--processes N`` starts N listener
processes on the same port (SO_REUSEPORT, Linux): the kernel gives each new connection
to one of them, so N senders can use N cores (on SQLite their writes still take turns).
SIGTERM or Ctrl-C stops the listener gracefully: messages in progress finish and get
their ACKs.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import signal
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

import typer

if TYPE_CHECKING:  # the intake is imported by the command, not by every CLI start
    from gateway.access.context import AccessContext as Caller
    from gateway.config import Settings
    from gateway.intake import Sender
    from gateway.mllp.handler import Observe
    from gateway.mllp.server import Network
    from gateway.record.services import RecordServices


@dataclass(frozen=True)
class ListenerOptions:
    """What one listener process needs (plain values: it crosses to child processes)."""

    host: str
    port: int
    client: str
    structure: str | None
    professional: str | None
    profession: str | None
    workers: int
    allow: tuple[str, ...]
    max_connections: int
    metrics_port: int | None
    reuse_port: bool = False
    migrate: bool = True
    announce: bool = True


def mllp(
    port: int = typer.Option(
        2575, min=0, max=65535, help="TCP port (2575 is the registered MLLP port)."
    ),
    host: str = typer.Option("127.0.0.1", help="Interface to listen on."),
    client: str = typer.Option(..., "--client", help="The registered client it sends as."),
    structure: str | None = typer.Option(None, help="idNat_Struct, if the client has several."),
    professional: str | None = typer.Option(None, help="idNat_PS (vendor clients)."),
    profession: str | None = typer.Option(None, help="TRE_G15 code of --professional."),
    workers: int = typer.Option(8, min=1, help="Messages processed in parallel (threads)."),
    processes: int = typer.Option(
        1, min=1, help="Listener processes sharing the port (SO_REUSEPORT), one core each."
    ),
    allow: list[str] = typer.Option(
        [],
        "--allow",
        help="A network whose peers may send, e.g. 10.1.2.0/24 (repeatable; default loopback).",
    ),
    max_connections: int = typer.Option(
        64, min=1, help="Connections served at once (per process)."
    ),
    metrics_port: int | None = typer.Option(
        None,
        min=0,
        max=65535,
        help="Serve Prometheus metrics (messages by outcome) on this port, on 127.0.0.1 "
        "(with --processes N: this port and the N-1 next ones, one per process).",
    ),
) -> None:
    """Run the MLLP listener (HL7 v2 over TCP), one ACK per message."""
    options = ListenerOptions(
        host=host,
        port=port,
        client=client,
        structure=structure,
        professional=professional,
        profession=profession,
        workers=workers,
        allow=tuple(allow),
        max_connections=max_connections,
        metrics_port=metrics_port,
    )
    if processes == 1:
        listen(options)
        return
    if port == 0:
        typer.echo("refusing to start: --processes needs a fixed --port", err=True)
        raise typer.Exit(2)
    if metrics_port is not None and (metrics_port == 0 or metrics_port + processes - 1 > 65535):
        typer.echo(
            f"refusing to start: --metrics-port {metrics_port} with --processes {processes} "
            f"needs ports {metrics_port}..{metrics_port + processes - 1}, within 1..65535",
            err=True,
        )
        raise typer.Exit(2)
    from gateway.cli.mllp_processes import supervise

    _prepare(options)  # refuse a bad configuration once, before any process starts
    _migrate_once()
    raise typer.Exit(supervise(options, processes))


def _networks(allow: Sequence[str]) -> tuple[Network, ...]:
    import ipaddress

    from gateway.mllp.server import LOOPBACK

    try:
        return tuple(ipaddress.ip_network(a, strict=False) for a in allow) or LOOPBACK
    except ValueError as exc:
        typer.echo(f"refusing to start: --allow: {exc}", err=True)
        raise typer.Exit(2) from None


def _prepare(options: ListenerOptions) -> tuple[tuple[Network, ...], Settings, Caller, Sender]:
    """The networks, settings, caller and sender of a listener; exit 2 with the reason
    when it could not run as configured."""
    from gateway.cli import load_settings
    from gateway.cli.ingest import caller_context
    from gateway.intake import sender_for

    networks = _networks(options.allow)
    settings = load_settings()
    ctx = caller_context(
        settings.env,
        settings.clients_path,
        options.client,
        structure=options.structure,
        professional=options.professional,
        profession=options.profession,
    )
    try:
        return networks, settings, ctx, sender_for(ctx)
    except Exception as exc:  # Forbidden: no FINESS-based structure
        typer.echo(f"refusing to start: {exc}", err=True)
        raise typer.Exit(2) from None


def _migrate_once() -> None:
    from gateway.cli import load_settings
    from gateway.storage import migrate
    from gateway.storage.engine import make_engine

    settings = load_settings()
    if settings.migrate_on_start:
        engine = make_engine(settings.sqlalchemy_url)
        try:
            migrate.upgrade(engine)
        finally:
            engine.dispose()


def listen(options: ListenerOptions) -> None:
    """Run one listener process until SIGTERM or Ctrl-C (exit 2 if it cannot start)."""
    from gateway.api.logs import configure_logging
    from gateway.app import build_services

    networks, settings, ctx, sender = _prepare(options)
    # Before any connection is opened: a metrics port in use exits here (2).
    observe = metrics_observer(options.metrics_port)
    configure_logging(settings.telemetry)  # a long-running listener: JSON logs, as serve
    services = build_services(settings)
    try:
        _serve(options, networks, ctx, sender, services, observe)
    finally:
        services.store.engine.dispose()


def _serve(
    options: ListenerOptions,
    networks: tuple[Network, ...],
    ctx: Caller,
    sender: Sender,
    services: RecordServices,
    observe: Observe | None,
) -> None:
    from gateway.app import settle_heap
    from gateway.intake import Intake
    from gateway.mllp import IntakeHandler, MllpServer
    from gateway.storage import migrate

    settings = services.settings
    if settings.migrate_on_start and options.migrate:
        migrate.upgrade(services.store.engine)
    validator = getattr(services.validator, "validator", None)
    if validator is not None:
        validator.warm()
    intake = Intake.load(services)
    settle_heap()
    server = MllpServer(
        IntakeHandler(intake, sender, observe=observe),
        host=options.host,
        port=options.port,
        workers=options.workers,
        allow=networks,
        max_connections=options.max_connections,
        reuse_port=options.reuse_port,
    )

    async def run() -> None:
        task = asyncio.current_task()
        assert task is not None
        asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, task.cancel)
        try:
            await server.start()
        except OSError as exc:  # the port is taken, the address is not this host's...
            where = f"{options.host}:{options.port}"
            typer.echo(f"refusing to start: cannot listen on {where}: {exc}", err=True)
            raise typer.Exit(2) from None
        if options.announce:
            typer.echo(
                f"dmp-gateway mllp: {options.host}:{server.bound_port} as {options.client} "
                f"({ctx.kind}, {sender.structure}); peers from "
                f"{', '.join(str(n) for n in networks)}; at most {options.max_connections} "
                "connections",
                err=True,
            )
            warning = reach_warning(options.host, networks)
            if warning:
                typer.echo(f"warning: {warning}", err=True)
        try:
            await server.serve_forever()
        finally:
            await server.close()

    try:
        with contextlib.suppress(KeyboardInterrupt, asyncio.CancelledError):
            asyncio.run(run())
    finally:
        gc.unfreeze()  # settle_heap's freeze: what the run made is collectable again


def metrics_observer(port: int | None) -> Observe | None:
    """Count messages by outcome in ``gateway_ingest_messages{channel="mllp"}`` and
    serve them on ``port`` (loopback only: scrape through a local agent or a proxy)."""
    if port is None:
        return None
    from prometheus_client import start_http_server

    from gateway.api.metrics import Metrics

    metrics = Metrics()
    try:
        start_http_server(port, addr="127.0.0.1", registry=metrics.registry)
    except OSError as exc:
        typer.echo(f"refusing to start: --metrics-port {port}: {exc}", err=True)
        raise typer.Exit(2) from None
    messages = metrics.ingested

    def observe(outcome: str, _seconds: float) -> None:
        messages.labels("mllp", outcome).inc()

    return observe


def reach_warning(host: str, networks: Sequence[Network]) -> str | None:
    """What an operator should know when the bind address and ``--allow`` disagree."""
    from gateway.mllp.server import peer_allowed

    loopback_ok = peer_allowed("127.0.0.1", networks) or peer_allowed("::1", networks)
    if host in ("localhost", "127.0.0.1", "::1") or host.startswith("127."):
        if not loopback_ok:
            return f"listening on {host}, where only local peers connect, but --allow admits none"
    elif all(net.is_loopback for net in networks):
        return f"listening on {host} but serving local peers only: add --allow NETWORK"
    return None
