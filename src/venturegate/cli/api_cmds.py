"""The server commands: `serve` (the API with an in-process worker) and `token` (create, list, revoke)."""

from __future__ import annotations

import gc
from typing import Annotated

import typer
from rich.table import Table

from venturegate.cli.context import STATE, emit_json, handled, out
from venturegate.cli.escape import safe
from venturegate.core.permissions import ROLES

token_app = typer.Typer(help="API tokens: create (shown once), list, revoke.", no_args_is_help=True)
JSON = Annotated[bool, typer.Option("--json", help="Print JSON.")]


@handled
def serve(
    host: Annotated[str, typer.Option("--host", help="Address to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option("--port", help="Port to listen on.", min=1, max=65535)] = 8000,
    no_worker: Annotated[
        bool, typer.Option("--no-worker", help="Serve only; timers are run by separate `venturegate worker`s.")
    ] = False,
) -> None:
    """Serve the REST API (docs at /docs) and run the queue worker in-process (VENTUREGATE_QUEUE_URL)."""
    import uvicorn

    from venturegate.api import create_app

    app = create_app(STATE.engine(), worker=not no_worker)
    # What startup built (the app, definitions, compiled statements) lives as long as the process: keep it out of
    # the collector's full passes, which large batches trigger (docs/decisions.md, "serve freezes its startup heap").
    gc.collect()
    gc.freeze()
    shown = f"[{host}]" if ":" in host else host
    out.print(f"venturegate API on http://{safe(shown)}:{port}/ (docs: /docs, OpenAPI: /openapi.json)")
    out.print("worker: " + ("separate processes (--no-worker)" if no_worker else "in-process"))
    uvicorn.run(app, host=host, port=port, log_level="info", access_log=False)


@token_app.command("create")
@handled
def create(
    name: Annotated[str, typer.Option("--name", help="Unique token name (recorded as the acting user).")],
    role: Annotated[str, typer.Option("--role", help="One of " + ", ".join(ROLES) + ".")],
    as_json: JSON = False,
) -> None:
    """Create an API token and print it once: only its SHA-256 hash is stored."""
    actor = STATE.who("operate")
    token, secret = STATE.engine(create=True).create_token(name, role.strip().lower(), actor=actor)
    if as_json:
        emit_json({**token.as_dict(), "token": secret})
        return
    out.print(f"token '{safe(token.name)}' ({token.role}) created; it is shown only now:")
    typer.echo(secret)


@token_app.command("list")
@handled
def list_(
    active: Annotated[bool, typer.Option("--active", help="Leave out revoked tokens.")] = False,
    as_json: JSON = False,
) -> None:
    """List tokens (never their secrets): name, role, who created it, when, revoked."""
    rows = STATE.engine().tokens(include_revoked=not active)
    if as_json:
        emit_json([t.as_dict() for t in rows])
        return
    table = Table(title="API tokens")
    for col in ("id", "name", "role", "created by", "created", "revoked"):
        table.add_column(col)
    for t in rows:
        revoked = f"{t.revoked_at:%Y-%m-%d %H:%M} by {t.revoked_by}" if t.revoked_at else ""
        table.add_row(str(t.id), safe(t.name), t.role, safe(t.created_by), f"{t.created_at:%Y-%m-%d %H:%M}", revoked)
    out.print(table)


@token_app.command("revoke")
@handled
def revoke(
    token: Annotated[str, typer.Argument(metavar="NAME|ID", help="Token name or id.")],
    as_json: JSON = False,
) -> None:
    """Revoke a token: refused at once by this server, within seconds by others."""
    t = STATE.engine().revoke_token(token, actor=STATE.who("operate"))
    if as_json:
        emit_json(t.as_dict())
    else:
        out.print(f"token '{safe(t.name)}' revoked")


def register(app: typer.Typer) -> None:
    """Add this module's commands to the `venturegate` command tree."""
    app.command("serve")(serve)
    app.add_typer(token_app, name="token")
