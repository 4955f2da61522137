"""The ``dmp-gateway`` command line (typer)."""

from __future__ import annotations

import typer

app = typer.Typer(
    help="dmp-gateway: a DMP-style shared health-record gateway.", no_args_is_help=True
)


@app.callback()
def _root() -> None:
    """dmp-gateway: a DMP-style shared health-record gateway."""


@app.command()
def version() -> None:
    """Print the gateway version."""
    from gateway import __version__

    typer.echo(__version__)


def main() -> None:
    app()
