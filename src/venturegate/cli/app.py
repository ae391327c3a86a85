"""The `venturegate` command: global options and the command tree, built one group at a time.

Building every command (Typer reads the signature and type hints of ~75 functions) and importing every
command module costs more than a simple read's own work, so the root knows only which module registers
each top-level name and builds that one when the command line names it (`--help` and shell completion
on the root build them all).
"""

from __future__ import annotations

import importlib
import json
import sys
from typing import Annotated, Any

import typer
from typer.core import TyperGroup

from venturegate import __version__

LAZY: dict[str, str] = {
    # top-level commands, in the order the help lists them
    "demo": "workspace_cmds",
    "attest": "ventures",
    "advance": "ventures",
    "events": "ventures",
    "triggers": "supervise",
    "escalations": "supervise",
    "tick": "supervise",
    "worker": "supervise",
    "stats": "supervise",
    "critique": "workflows",
    "errors": "error_cmds",
    "runbook": "error_cmds",
    "run": "crew_cmds",
    "jobs": "crew_cmds",
    "crews": "crew_cmds",
    "serve": "api_cmds",
    "metrics": "observability_cmds",
    # groups
    "db": "workspace_cmds",
    "venture": "ventures",
    "substage": "ventures",
    "gate": "ventures",
    "metric": "data",
    "artifact": "data",
    "approval": "approvals",
    "escalation": "supervise",
    "progression": "supervise",
    "workflow": "workflows",
    "onboarding": "onboarding_cmds",
    "config": "configuration",
    "rollback": "configuration",
    "error": "error_cmds",
    "experiment": "experiment_cmds",
    "outbox": "outbox_cmds",
    "job": "crew_cmds",
    "deploy": "deploy_cmds",
    "token": "api_cmds",
    "grafana": "observability_cmds",
    "cli-server": "server_cmds",
}
"""Every top-level command and group but `version`, and the `venturegate.cli` module whose `register(app)` adds it
(a test checks this table against what the modules register)."""


def _nothing() -> None:
    """A callback, so that Typer builds a group even around a single command."""


def build(name: str) -> Any:
    """The Click command or group for the top-level `name` (see `LAZY`), built alone."""
    module = importlib.import_module(f"venturegate.cli.{LAZY[name]}")
    holder = typer.Typer(add_completion=False, rich_markup_mode=app.rich_markup_mode)
    module.register(holder)
    holder.registered_commands = [c for c in holder.registered_commands if c.name == name]
    holder.registered_groups = [g for g in holder.registered_groups if g.name == name]
    holder.callback()(_nothing)
    return typer.main.get_command(holder).commands[name]  # type: ignore[attr-defined]


class LazyGroup(TyperGroup):
    """The root group: a top-level command is built when it is first looked up."""

    def list_commands(self, ctx: Any) -> list[str]:
        """Every top-level name, built or not."""
        return [*self.commands, *(n for n in LAZY if n not in self.commands)]

    def get_command(self, ctx: Any, cmd_name: str) -> Any:
        """The command `cmd_name`, built (and kept) on first use."""
        if cmd_name not in self.commands and cmd_name in LAZY:
            self.commands[cmd_name] = build(cmd_name)
        return self.commands.get(cmd_name)

    def load_all(self) -> None:
        """Build every command (the reference docs and the CLI server want the whole tree)."""
        for name in LAZY:
            self.get_command(None, name)


app = typer.Typer(
    name="venturegate",
    help="A stage-gate engine: gates judged from data, triggers, recursion, rollback.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=True,
    cls=LazyGroup,
)


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
    from venturegate.cli.context import STATE

    STATE.reset(db, workflow, actor)


@app.command("version")
def version() -> None:
    """Print the version."""
    typer.echo(__version__)


def root() -> LazyGroup:
    """The root Click group (nothing below it built yet)."""
    group = typer.main.get_command(app)
    assert isinstance(group, LazyGroup)
    return group


def main(command: Any = None) -> None:
    """Run the command line in `sys.argv` (with `command`, a root group already built, else a fresh one).

    Usage errors exit 2, and with `--json` they are JSON on stderr.
    """
    command = command if command is not None else root()
    if "--json" not in sys.argv[1:]:
        command(prog_name="venturegate")
        return
    try:
        code = command(prog_name="venturegate", standalone_mode=False)
    except typer.Abort:
        sys.stderr.write(json.dumps({"error": "aborted", "where": "", "hint": ""}) + "\n")
        sys.exit(1)
    except typer.TyperException as exc:  # Click's usage errors (exit 2) and the other Click exceptions
        ctx = getattr(exc, "ctx", None)
        name = ctx.command_path if ctx is not None else "venturegate"
        message = exc.format_message() if hasattr(exc, "format_message") else str(exc)
        problem = {"error": message, "where": "usage", "hint": f"{name} --help"}
        sys.stderr.write(json.dumps(problem, ensure_ascii=False) + "\n")
        sys.exit(int(getattr(exc, "exit_code", 2)))
    sys.exit(code if isinstance(code, int) else 0)


if __name__ == "__main__":
    main()
