"""`venturegate cli-server`: the warm CLI server that answers repeated commands fast (see `cli.server`)."""

from __future__ import annotations

import os
import time
from typing import Annotated

import typer

from venturegate.cli import client

server_app = typer.Typer(
    help="Manage the warm CLI server (off with VENTUREGATE_CLI_SERVER=0; exits after VENTUREGATE_CLI_SERVER_IDLE s).",
    no_args_is_help=True,
)


def _ask(command: str) -> str | None:
    try:
        return client.control(command)
    except client.Unusable as exc:
        raise typer.BadParameter(str(exc)) from None
    except OSError:
        return None


@server_app.command("status")
def status() -> None:
    """Say whether a server runs for this installation (exit 1 when none does)."""
    answer = _ask("status")
    if answer is None:
        typer.echo(f"no CLI server ({client.paths()['socket']})")
        raise typer.Exit(1)
    typer.echo(answer)


@server_app.command("stop")
def stop() -> None:
    """Stop the server (commands it is running finish first)."""
    answer = _ask("stop")
    typer.echo(answer if answer is not None else "no CLI server was running")


@server_app.command("start")
def start(
    wait: Annotated[float, typer.Option("--wait", help="Seconds to wait for it to answer.", min=0, max=600)] = 30,
) -> None:
    """Start a server in the background (the first command without one does it too)."""
    if os.environ.get("VENTUREGATE_CLI_SERVER", "1") == "0":
        typer.echo("VENTUREGATE_CLI_SERVER=0: not starting a CLI server", err=True)
        raise typer.Exit(1)
    if _ask("status") is None:
        client.spawn_server(client.paths())
    deadline = time.monotonic() + wait
    while (answer := _ask("status")) is None:
        if time.monotonic() > deadline:
            typer.echo(f"the CLI server did not answer within {wait:g} s (log: {client.paths()['log']})", err=True)
            raise typer.Exit(1)
        time.sleep(0.05)
    typer.echo(answer)


def register(app: typer.Typer) -> None:
    """Add the `cli-server` group."""
    app.add_typer(server_app, name="cli-server")
