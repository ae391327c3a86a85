"""What every command shares: the engine (opened lazily), the acting user, output and error handling."""

from __future__ import annotations

import functools
import json
import os
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ParamSpec, TypeVar

import typer
from rich.console import Console

from venturegate.cli.escape import safe
from venturegate.core.permissions import ROLES, Permission, is_role, refusal
from venturegate.definitions.source import DefinitionError
from venturegate.engine import Actor, BadInput, Conflict, Engine, Forbidden, GateNotPassed, VenturegateError

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
    as_json: bool = False
    """The running command was given `--json`: errors are JSON too, and nothing else goes to stderr."""
    _engine: Engine | None = field(default=None, repr=False)

    def url(self, *, create: bool = False) -> str:
        """The database URL for `--db` (a URL or a file path), checked: reads never create a database.

        A SQLite file must exist unless `create` (then its folder must exist, except the default
        workspace folder `.venturegate`, which is made).
        """
        from venturegate.store.database import DEFAULT_DIR, default_url

        given = self.db
        if given is not None and "://" not in given:
            given = "sqlite:///" + str(Path(given).expanduser().resolve())
        url = given or default_url()
        where = (
            "--db" if self.db else ("VENTUREGATE_DATABASE_URL" if os.environ.get("VENTUREGATE_DATABASE_URL") else "")
        )
        if not url.startswith("sqlite"):
            return url
        path_text = url.split("///", 1)[1] if "///" in url else ""
        if not path_text or path_text == ":memory:":
            return url
        path = Path(path_text)
        default = not self.db and not os.environ.get("VENTUREGATE_DATABASE_URL")
        if path.is_dir():
            raise BadInput(
                f"{path} is a folder, not a database file", where=where, hint=f"e.g. {path / 'venturegate.db'}"
            )
        made = "`venturegate venture create NAME --segment SEGMENT` or `venturegate db upgrade`"
        if default and not path.exists() and not create:
            raise BadInput(
                f"no venturegate database in this folder ({path})", where="database", hint=f"{made} makes one"
            )
        if not path.parent.is_dir() and not (create and default and path.parent.name == DEFAULT_DIR):
            raise BadInput(
                f"folder {path.parent} does not exist (no database was created)",
                where=where,
                hint="check the path, or create the folder first",
            )
        if not path.exists() and not create:
            raise BadInput(f"no database at {path}", where=where or "database", hint=f"{made} creates one")
        return url

    def engine(self, *, create: bool = False) -> Engine:
        """The engine for `--db` / `VENTUREGATE_DATABASE_URL` (migrated on first use; see `url`)."""
        if self._engine is None:
            from venturegate.definitions.cache import cached_workflow
            from venturegate.store.database import connect, ensure_schema

            db = connect(self.url(create=create))
            ensure_schema(db)
            self._engine = Engine(db, cached_workflow(self.workflow)).with_crew_hooks()
        return self._engine

    def reset(self, db: str | None, workflow: str | None, actor: str | None) -> None:
        """Start a command afresh (the CLI runner calls commands repeatedly in one process)."""
        if self._engine is not None:
            self._engine.db.dispose()
        self.db, self.workflow, self.actor, self._engine = db, workflow, actor, None

    def who(self, permission: Permission) -> Actor:
        """The acting user from `--as` or VENTUREGATE_ACTOR, when its role holds `permission` (the API's matrix).

        An unknown role is refused with the list of roles; the command says on stderr who it acts as.
        """
        actor = Actor.from_env(self.actor)
        if not is_role(actor.role):
            raise BadInput(
                f"unknown role '{actor.role}'",
                where="--as" if self.actor else "VENTUREGATE_ACTOR",
                hint="roles: " + ", ".join(ROLES),
            )
        refused = refusal(actor.role, permission)
        if refused is not None:
            raise Forbidden(f"{actor.name}: {refused}")
        given = "--as" if self.actor else ("VENTUREGATE_ACTOR" if os.environ.get("VENTUREGATE_ACTOR") else "default")
        if not self.as_json and err.is_terminal:  # for people at a terminal; scripts read the event log
            err.print(f"as {actor.name} ({actor.role}, {given})", style="dim", markup=False)
        return actor


STATE = State()


def emit_json(data: Any) -> None:
    """Print JSON to stdout (the stable `--json` output)."""
    sys.stdout.write(json.dumps(data, indent=2, default=str, ensure_ascii=False) + "\n")


def fail(message: str, where: str = "", hint: str = "", code: int = 1) -> typer.Exit:
    """Report one error on stderr — one line, or `{"error", "where", "hint"}` with `--json` — and the exit."""
    if STATE.as_json:
        sys.stderr.write(json.dumps({"error": message, "where": where, "hint": hint}, ensure_ascii=False) + "\n")
    else:
        text = f"{where}: {message}" if where else message
        err.print("[red]error:[/red] " + safe(text) + (f" (hint: {safe(hint)})" if hint else ""))
    return typer.Exit(code)


def _first_line(exc: BaseException) -> str:
    text = str(getattr(exc, "orig", None) or exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


def handled(fn: Callable[P, R]) -> Callable[P, R]:
    """Turn errors into one line on stderr (JSON with `--json`) and the documented exit code (never a traceback).

    Exit codes: 0 done, 1 refused or failed, 2 usage (Click), 3 a gate did not pass. A command whose database
    connection was lost before anything of it committed runs once more (`store.transactions.retry_lost`).
    """

    @functools.wraps(fn)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        from venturegate.store.transactions import retry_lost

        STATE.as_json = bool(kwargs.get("as_json"))
        try:
            return retry_lost(lambda: fn(*args, **kwargs))
        except GateNotPassed as exc:
            from venturegate.cli.render import gate_result

            if STATE.as_json:
                emit_json(
                    {
                        "passed": False,
                        "stage": exc.result.stage,
                        "gate": exc.result.gate,
                        "checks": [c.as_dict() for c in exc.result.checks],
                        "error": str(exc),
                    }
                )
                raise fail(str(exc), "gate", "see the failing checks", exc.exit_code) from None
            gate_result(exc.result, None)
            hint = "the table above explains each check; `venturegate gate check VENTURE` again after fixing them"
            raise fail(str(exc), hint=hint, code=exc.exit_code) from None
        except BadInput as exc:
            raise fail(exc.message, exc.where, exc.hint, exc.exit_code) from None
        except Forbidden as exc:
            raise fail(str(exc), "--as", "act as a role that is allowed: --as NAME:ROLE", exc.exit_code) from None
        except VenturegateError as exc:
            raise fail(str(exc), code=exc.exit_code) from None
        except DefinitionError as exc:
            if STATE.as_json:
                first = exc.problems[0] if exc.problems else None
                where = f"{first.file}:{first.line}:{first.column}" if first else "workflow"
                raise fail(first.message if first else str(exc), where, first.hint if first else "") from None
            for problem in exc.problems:
                err.print(safe(problem))
            raise fail(f"the workflow has {len(exc.problems)} problem(s)") from None
        except OSError as exc:
            where = str(exc.filename) if getattr(exc, "filename", None) else ""
            raise fail(exc.strerror or str(exc), where, "check the path and its permissions") from None
        except Exception as exc:
            from sqlalchemy.exc import SQLAlchemyError

            if isinstance(exc, SQLAlchemyError) and "database is locked" in str(getattr(exc, "orig", exc)):
                # SQLite: other writers held the lock for the whole busy timeout (store.database); nothing changed.
                raise fail(
                    _first_line(exc), "database", "try again; other writers held it", Conflict.exit_code
                ) from None
            if isinstance(exc, SQLAlchemyError):
                raise fail(
                    f"the database could not be used: {_first_line(exc)}",
                    "--db" if STATE.db else "database",
                    "check --db (a SQLite file path or a database URL) and that the server is up",
                ) from None
            raise

    return wrapper


def attach_terminal() -> None:
    """Make the consoles anew for the current stdout/stderr and environment (the CLI server's child calls it).

    A console decides its colours, and its width when `COLUMNS` is set, when it is made: the server made these
    before any client's terminal and environment were known.
    """
    Console.__init__(out, highlight=False, soft_wrap=True)
    Console.__init__(err, stderr=True, highlight=False, soft_wrap=True)
