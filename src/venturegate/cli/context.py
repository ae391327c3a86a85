"""What every command shares: the engine (opened lazily), the acting user, output and error handling."""

from __future__ import annotations

import functools
import json
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, ParamSpec, TypeVar

import typer
from rich.console import Console
from sqlalchemy.exc import OperationalError

from venturegate.cli.escape import safe
from venturegate.definitions.source import DefinitionError
from venturegate.engine import Actor, Conflict, Engine, GateNotPassed, VenturegateError

P = ParamSpec("P")
R = TypeVar("R")

out = Console(highlight=False, soft_wrap=True)
err = Console(stderr=True, highlight=False, soft_wrap=True)


@dataclass
class State:
    """Global options, and the engine built from them on first use."""

    db: str | None = None
    workflow: str | None = None
    actor: str | None = None
    _engine: Engine | None = field(default=None, repr=False)

    def engine(self) -> Engine:
        """The engine for `--db` / `VENTUREGATE_DATABASE_URL` (migrated on first use)."""
        if self._engine is None:
            self._engine = Engine.open(self.db, self.workflow)
        return self._engine

    def reset(self, db: str | None, workflow: str | None, actor: str | None) -> None:
        """Start a command afresh (the CLI runner calls commands repeatedly in one process)."""
        if self._engine is not None:
            self._engine.db.dispose()
        self.db, self.workflow, self.actor, self._engine = db, workflow, actor, None

    def who(self) -> Actor:
        """The acting user from `--as` or VENTUREGATE_ACTOR."""
        return Actor.from_env(self.actor)


STATE = State()


def emit_json(data: Any) -> None:
    """Print JSON to stdout (the stable `--json` output)."""
    sys.stdout.write(json.dumps(data, indent=2, default=str, ensure_ascii=False) + "\n")


def handled(fn: Callable[P, R]) -> Callable[P, R]:
    """Turn engine errors into a message on stderr and the documented exit code (never a traceback)."""

    @functools.wraps(fn)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        try:
            return fn(*args, **kwargs)
        except GateNotPassed as exc:
            from venturegate.cli.render import gate_result

            if kwargs.get("as_json"):
                emit_json(
                    {
                        "passed": False,
                        "stage": exc.result.stage,
                        "gate": exc.result.gate,
                        "checks": [c.as_dict() for c in exc.result.checks],
                        "error": str(exc),
                    }
                )
            else:
                gate_result(exc.result, None)
                err.print(f"[red]error:[/red] {safe(exc)}")
            raise typer.Exit(exc.exit_code) from None
        except VenturegateError as exc:
            err.print(f"[red]error:[/red] {safe(exc)}", markup=True)
            raise typer.Exit(exc.exit_code) from None
        except OperationalError as exc:
            if "database is locked" not in str(exc.orig):
                raise
            # SQLite: other writers held the lock for the whole busy timeout (store.database); nothing changed.
            err.print(f"[red]error:[/red] {safe(exc.orig)}")
            raise typer.Exit(Conflict.exit_code) from None
        except DefinitionError as exc:
            for problem in exc.problems:
                err.print(safe(problem))
            err.print(f"[red]error:[/red] the workflow has {len(exc.problems)} problem(s)")
            raise typer.Exit(1) from None

    return wrapper
