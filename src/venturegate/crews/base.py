"""The crew plugin contract: a `Crew` declares its agents and runs with a `CrewContext`, returning a `CrewResult`."""

from __future__ import annotations

import threading
from abc import ABC, abstractmethod
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from venturegate.engine.actors import Actor

if TYPE_CHECKING:
    from venturegate.engine import Engine
    from venturegate.engine.error_recovery import CredentialsHook, Fallback
    from venturegate.engine.rollbacks import RollbackHandler

ProgressSink = Callable[[str, int, int, str], None]
"""Receives (step, done, total, message) — a Rich progress bar in the CLI, for instance."""


@dataclass(frozen=True)
class AgentSpec:
    """One agent of a crew: its name, what it does, and the substages it serves."""

    name: str
    role: str
    substages: tuple[str, ...] = ()


class Cancelled(Exception):
    """Raised at a step boundary when the job was asked to stop."""


class CancelToken:
    """Cancellation checked between steps: set locally, or asked for through the job's row."""

    def __init__(self, poll: Callable[[], bool] | None = None) -> None:
        self._event = threading.Event()
        self._poll = poll

    def cancel(self) -> None:
        """Ask the crew to stop at its next step."""
        self._event.set()

    def note(self, requested: bool) -> None:
        """Remember a cancellation seen elsewhere (a progress write returns the job's flag)."""
        if requested:
            self._event.set()

    @property
    def cancelled(self) -> bool:
        """Whether a stop was asked for (polls the job when a poll function was given)."""
        if not self._event.is_set() and self._poll is not None and self._poll():
            self._event.set()
        return self._event.is_set()

    def poll_with(self, poll: Callable[[], bool]) -> None:
        """Ask `poll` too (the job's cancel flag) whenever `cancelled` is read."""
        self._poll = poll

    @property
    def cancelled_locally(self) -> bool:
        """Whether a stop was asked for in this process (a signal, say), without polling the job."""
        return self._event.is_set()

    def check(self) -> None:
        """Raise `Cancelled` when a stop was asked for."""
        if self.cancelled:
            raise Cancelled("the job was cancelled")


@dataclass
class CrewContext:
    """What a crew run gets: the engine, the venture, its acting agent, options, progress and cancellation."""

    engine: Engine
    venture: str | int
    stage: int
    actor: Actor = field(default_factory=lambda: Actor("crew", "agent", "agent"))
    options: dict[str, Any] = field(default_factory=dict)
    job_id: int | None = None
    sink: ProgressSink | None = None
    cancel: CancelToken = field(default_factory=CancelToken)
    output_root: Path | None = None
    """Where the run's files go (the server's choice, never an option): see `crews.paths.crew_root`."""

    def progress(self, step: str, done: int, total: int, message: str = "") -> None:
        """Report progress: to the sink, and as a `crew.progress` event (and heartbeat) of the job, if any."""
        if self.sink is not None:
            self.sink(step, done, total, message)
        if self.job_id is not None:
            self.cancel.note(
                self.engine.crew_progress(self.job_id, step, done, total, message, actor=self.actor),
            )

    def checkpoint(self) -> None:
        """A step boundary: raise `Cancelled` if the job was asked to stop."""
        self.cancel.check()

    def option(self, key: str, default: Any) -> Any:
        """An option converted to the type of its default (options arrive as strings from the CLI)."""
        raw = self.options.get(key, default)
        if raw is default or default is None:
            return raw
        try:
            if isinstance(default, bool):
                return raw if isinstance(raw, bool) else str(raw).strip().lower() in ("1", "true", "yes", "on")
            return type(default)(raw)
        except (TypeError, ValueError):
            from venturegate.engine.exceptions import BadInput

            raise BadInput(
                f"option {key}={raw!r} is not a {type(default).__name__}",
                where="--option",
                hint=f"e.g. {key}={default}",
            ) from None


@dataclass(frozen=True)
class CrewResult:
    """How a crew run ended and what it wrote."""

    status: str
    """completed (every substage done), recursed (a trigger or error sent the venture back), or failed."""
    summary: dict[str, Any] = field(default_factory=dict)
    artifacts: tuple[str, ...] = ()
    """`NAME@VERSION` of every artifact stored."""
    fired: tuple[str, ...] = ()
    """Triggers that acted during the run (`INTEGRATION-001: back to 19.1`)."""
    files: tuple[str, ...] = ()
    """Files the run generated (reports, modules the venture can keep)."""

    def as_dict(self) -> dict[str, Any]:
        """JSON form."""
        return {
            "status": self.status,
            "summary": self.summary,
            "artifacts": list(self.artifacts),
            "fired": list(self.fired),
            "files": list(self.files),
        }


@dataclass(frozen=True)
class CrewHooks:
    """What a crew adds to every engine a process opens: rollback handlers by scope, error-policy hooks by scope.

    Declared on the crew class (`Crew.hooks`) and installed by `crews.registry.install_hooks` when an
    engine opened with `Engine.open` first needs a hook, so that the CLI, the API, the worker and the
    timers all run the same handlers, whichever process started the crew.
    """

    rollback: Mapping[str, RollbackHandler] = field(default_factory=dict)
    """Rollback scope (`traffic`) → what undoes it outside the configuration."""
    credentials: Mapping[str, CredentialsHook] = field(default_factory=dict)
    """Error scope (a stage `19`, a rule id or `*`) → what refreshes credentials."""
    fallback: Mapping[str, Fallback] = field(default_factory=dict)
    """Error scope → the fallback the error policy may call."""


class Crew(ABC):
    """A stage's automation. Subclasses set `name`, `stage` and `agents` and implement `run`."""

    name: str
    stage: int
    agents: tuple[AgentSpec, ...]
    operator_options: frozenset[str] = frozenset()
    """Options that name code the worker runs or a database it changes: a person may set them, an agent token may
    not (`crews.runner.queue_job` refuses them)."""

    def hooks(self) -> CrewHooks:
        """The engine hooks this crew declares (none by default); they must not depend on a running `run()`."""
        return CrewHooks()

    @abstractmethod
    def run(self, ctx: CrewContext) -> CrewResult:
        """Do the stage's work for `ctx.venture`, writing only through `ctx.engine`'s public API."""

    def describe(self) -> dict[str, Any]:
        """The crew and its agents, JSON-ready."""
        return {
            "name": self.name,
            "stage": self.stage,
            "agents": [{"name": a.name, "role": a.role, "substages": list(a.substages)} for a in self.agents],
        }
