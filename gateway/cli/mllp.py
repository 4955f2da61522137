"""``dmp-gateway mllp --port 2575 --client ID``: the MLLP listener for HL7 v2 senders.

MLLP carries no token: the listener writes as one registered client
(:mod:`gateway.intake.registered`): an EHPAD client as its system (its structure and
its residents' Group), a vendor client as the professional given by
``--professional``/``--profession``. An unknown or unusable client refuses to start
(exit 2) before the port is opened.

Since whoever reaches the port writes as that client, only peers whose address is in
``--allow`` (networks, repeatable; loopback by default) are served, and at most
``--max-connections`` at once.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Sequence

import typer

from gateway.cli.ingest import caller_context
from gateway.mllp.handler import Observe
from gateway.mllp.server import Network


def mllp(
    port: int = typer.Option(2575, help="TCP port (2575 is the registered MLLP port)."),
    host: str = typer.Option("127.0.0.1", help="Interface to listen on."),
    client: str = typer.Option(..., "--client", help="The registered client it sends as."),
    structure: str | None = typer.Option(None, help="idNat_Struct, if the client has several."),
    professional: str | None = typer.Option(None, help="idNat_PS (vendor clients)."),
    profession: str | None = typer.Option(None, help="TRE_G15 code of --professional."),
    workers: int = typer.Option(8, min=1, help="Messages processed in parallel."),
    allow: list[str] = typer.Option(
        [],
        "--allow",
        help="A network whose peers may send, e.g. 10.1.2.0/24 (repeatable; default loopback).",
    ),
    max_connections: int = typer.Option(64, min=1, help="Connections served at once."),
    metrics_port: int | None = typer.Option(
        None,
        help="Serve Prometheus metrics (messages by outcome) on this port, on 127.0.0.1.",
    ),
) -> None:
    """Run the MLLP listener (HL7 v2 over TCP), one ACK per message."""
    import ipaddress

    from gateway.api.logs import configure_logging
    from gateway.app import build_services, settle_heap
    from gateway.cli import load_settings
    from gateway.intake import Intake, sender_for
    from gateway.mllp import IntakeHandler, MllpServer
    from gateway.mllp.server import LOOPBACK
    from gateway.storage import migrate

    try:
        networks = tuple(ipaddress.ip_network(a, strict=False) for a in allow) or LOOPBACK
    except ValueError as exc:
        typer.echo(f"refusing to start: --allow: {exc}", err=True)
        raise typer.Exit(2) from None
    settings = load_settings()
    ctx = caller_context(
        settings.env,
        settings.clients_path,
        client,
        structure=structure,
        professional=professional,
        profession=profession,
    )
    try:
        sender = sender_for(ctx)
    except Exception as exc:  # Forbidden: no FINESS-based structure
        typer.echo(f"refusing to start: {exc}", err=True)
        raise typer.Exit(2) from None
    configure_logging(settings.telemetry)  # a long-running listener: JSON logs, as serve
    services = build_services(settings)
    if settings.migrate_on_start:
        migrate.upgrade(services.store.engine)
    validator = getattr(services.validator, "validator", None)
    if validator is not None:
        validator.warm()
    intake = Intake.load(services)
    settle_heap()
    server = MllpServer(
        IntakeHandler(intake, sender, observe=metrics_observer(metrics_port)),
        host=host,
        port=port,
        workers=workers,
        allow=networks,
        max_connections=max_connections,
    )

    async def run() -> None:
        try:
            await server.start()
        except OSError as exc:  # the port is taken, the address is not this host's...
            typer.echo(f"refusing to start: cannot listen on {host}:{port}: {exc}", err=True)
            raise typer.Exit(2) from None
        typer.echo(
            f"dmp-gateway mllp: {host}:{server.bound_port} as {client} ({ctx.kind}, "
            f"{sender.structure}); peers from {', '.join(str(n) for n in networks)}; "
            f"at most {max_connections} connections",
            err=True,
        )
        warning = reach_warning(host, networks)
        if warning:
            typer.echo(f"warning: {warning}", err=True)
        try:
            await server.serve_forever()
        finally:
            await server.close()

    try:
        with contextlib.suppress(KeyboardInterrupt):
            asyncio.run(run())
    finally:
        services.store.engine.dispose()


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
