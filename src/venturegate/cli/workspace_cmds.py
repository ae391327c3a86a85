"""Commands about the workspace itself: migrate its database, run the demo."""

from __future__ import annotations

from typing import Annotated

import typer

from venturegate.cli.context import STATE, handled, out

db_app = typer.Typer(help="Manage the database.", no_args_is_help=True)


@db_app.command("upgrade")
@handled
def db_upgrade() -> None:
    """Migrate the database to the newest schema."""
    from venturegate.store.database import connect, current_revision, upgrade

    engine = connect(STATE.url(create=True))
    before = current_revision(engine)
    upgrade(engine)
    out.print(f"database at revision {current_revision(engine)} (was {before or 'empty'})")


@handled
def demo(
    workdir: Annotated[str, typer.Option("--dir", help="Workspace folder (recreated).")] = ".venturegate-demo",
    crews: Annotated[
        bool,
        typer.Option(
            "--crews/--no-crews",
            help="Also run the stage-19 crew against the demo provider and the stage-30 deployments (HAProxy).",
        ),
    ] = True,
    serve: Annotated[
        bool,
        typer.Option("--serve/--no-serve", help="Then serve the workspace (dashboard, API) and print a login token."),
    ] = False,
    host: Annotated[str, typer.Option(help="Address to serve on (with --serve).")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to serve on (with --serve).", min=1, max=65535)] = 8000,
) -> None:
    """Run the demo: ventures at stages 14, 19, 28 and 30, gates, triggers, a rollback, errors, notifications,
    the stage-19 crew against a local demo provider and the stage-30 crew deploying behind a local HAProxy."""
    from pathlib import Path

    from venturegate.demo import run_demo

    summary = run_demo(Path(workdir), crews=crews)
    if serve:
        from venturegate.web.demo_serve import serve_demo

        serve_demo(summary.folder, host, port)


def register(app: typer.Typer) -> None:
    """Add the demo and the `db` group."""
    app.command("demo")(demo)
    app.add_typer(db_app, name="db")
