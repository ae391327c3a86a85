"""The `venturegate` command: global options and the command tree."""

from __future__ import annotations

import json
import sys
from typing import Annotated

import typer

from venturegate import __version__
from venturegate.cli import (
    api_cmds,
    approvals,
    configuration,
    crew_cmds,
    data,
    deploy_cmds,
    error_cmds,
    experiment_cmds,
    observability_cmds,
    onboarding_cmds,
    outbox_cmds,
    supervise,
    ventures,
    workflows,
)
from venturegate.cli.context import STATE, handled, out

app = typer.Typer(
    name="venturegate",
    help="A stage-gate engine: gates judged from data, triggers, recursion, rollback.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=True,
)
db_app = typer.Typer(help="Manage the database.", no_args_is_help=True)


@app.callback()
def main_options(
    db: Annotated[
        str | None,
        typer.Option(
            "--db",
            help="Database URL or SQLite file path (default: VENTUREGATE_DATABASE_URL or .venturegate/venturegate.db).",
        ),
    ] = None,
    workflow: Annotated[
        str | None, typer.Option("--workflow", help="Workflow file new ventures start on (default: bundled).")
    ] = None,
    actor: Annotated[
        str | None, typer.Option("--as", help="Acting user as NAME:ROLE (default: VENTUREGATE_ACTOR).")
    ] = None,
) -> None:
    """Global options."""
    STATE.reset(db, workflow, actor)


@app.command("version")
def version() -> None:
    """Print the version."""
    out.print(__version__)


@db_app.command("upgrade")
@handled
def db_upgrade() -> None:
    """Migrate the database to the newest schema."""
    from venturegate.store.database import connect, current_revision, upgrade

    engine = connect(STATE.url(create=True))
    before = current_revision(engine)
    upgrade(engine)
    out.print(f"database at revision {current_revision(engine)} (was {before or 'empty'})")


@app.command("demo")
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


app.add_typer(db_app, name="db")
# Each module adds its own commands and sub-apps (one style: `register(app)`).
ventures.register(app)
data.register(app)
approvals.register(app)
supervise.register(app)
workflows.register(app)
onboarding_cmds.register(app)
configuration.register(app)
error_cmds.register(app)
experiment_cmds.register(app)
outbox_cmds.register(app)
crew_cmds.register(app)
deploy_cmds.register(app)
api_cmds.register(app)
observability_cmds.register(app)


def main() -> None:
    """Console-script entry point: usage errors exit 2, and with `--json` they are JSON on stderr."""
    if "--json" not in sys.argv[1:]:
        app()
        return
    try:
        code = app(standalone_mode=False)
    except typer.Abort:
        sys.stderr.write(json.dumps({"error": "aborted", "where": "", "hint": ""}) + "\n")
        sys.exit(1)
    except typer.TyperException as exc:  # Click's usage errors (exit 2) and the other Click exceptions
        ctx = getattr(exc, "ctx", None)
        command = ctx.command_path if ctx is not None else "venturegate"
        message = exc.format_message() if hasattr(exc, "format_message") else str(exc)
        problem = {"error": message, "where": "usage", "hint": f"{command} --help"}
        sys.stderr.write(json.dumps(problem, ensure_ascii=False) + "\n")
        sys.exit(int(getattr(exc, "exit_code", 2)))
    sys.exit(code if isinstance(code, int) else 0)


if __name__ == "__main__":
    main()
