"""What the engine's components receive: the shared plumbing, as an explicit interface.

The engine's components (`Triggers`, `ProgressionModes`, `Timers`, `Escalations`, `Stats`, `ErrorRecovery`,
`Lifecycle`, `Samples`, `Artifacts`, `Approvals`, `Configuration`, `Rollbacks`, `Outbox`, `Tokens`, `Jobs`,
`Retention`) are plain classes. Each takes the `Plumbing` in its constructor (connection and transactions, the
clock, workflow pinning, venture rows, events, stage entry) and the components it uses as further constructor
arguments; they call each other's public methods only. The `Engine` is the plumbing (`EngineBase` implements this
protocol), builds the components in its constructor and delegates its public methods to them.

The plumbing's methods keep their underscore names: they are the engine package's internal interface, not part of
the public `Engine` API that the CLI, the REST API and crews use.
"""

from __future__ import annotations

from contextlib import AbstractContextManager
from datetime import datetime
from typing import Any, Protocol

from sqlalchemy import Connection

from venturegate.core.gates import GateName, GateResult
from venturegate.core.settings import Setting
from venturegate.definitions.loader import LoadedWorkflow
from venturegate.definitions.model import ParamValue, Stage, Trigger, Workflow
from venturegate.engine.actors import Actor
from venturegate.engine.facts import StoreData
from venturegate.engine.records import Venture
from venturegate.store.prepared import RawJSON
from venturegate.store.trigger_states import VentureRow
from venturegate.store.visits import VisitRow
from venturegate.store.windows import WindowReads


class Plumbing(Protocol):
    """The engine's shared plumbing, as the components use it (implemented by `EngineBase`)."""

    workflow: LoadedWorkflow
    """The workflow new ventures start on (the current one)."""

    def tx(self) -> AbstractContextManager[Connection]:
        """One transaction; a collision with another is raised as `Collision`."""
        ...

    def when(self, now: datetime | None) -> datetime:
        """`now` if given (timezone-aware), else the clock."""
        ...

    def pinned(self, conn: Connection, digest: str) -> LoadedWorkflow:
        """The workflow version a venture is pinned to."""
        ...

    def plugin_hooks(self) -> None:
        """Install the installed crews' declared hooks now, if not done yet."""
        ...

    def _pin_current(self, conn: Connection, now: datetime) -> None:
        """Store the current workflow version (by digest) if it is not stored yet."""
        ...

    def _find(self, conn: Connection, name: str) -> VentureRow | None:
        """The venture with this name, or None."""
        ...

    @staticmethod
    def _venture(row: VentureRow) -> Venture:
        """A venture row as the public `Venture` record."""
        ...

    def _row(self, conn: Connection, ref: str | int, lock: bool = False) -> VentureRow:
        """A venture row by id or name (`lock`: PostgreSQL locks it); `NotFound` if there is none."""
        ...

    def _stage(self, wf: Workflow, stage_id: int) -> Stage:
        """A stage of a workflow; `NotFound` if there is none."""
        ...

    def _set(self, conn: Connection, row: VentureRow, now: datetime, **values: Any) -> None:
        """Update a venture's columns, checking its revision (`Conflict` when it changed)."""
        ...

    def _event(
        self,
        conn: Connection,
        venture: VentureRow | int | None,
        kind: str,
        actor: Actor,
        now: datetime,
        *,
        stage: int | None = None,
        substage: str | None = None,
        reason: str = "",
        data: dict[str, Any] | None = None,
        encoded: RawJSON | None = None,
    ) -> int:
        """Append an event about `venture` (its row, its id, or None) and its notifications in this transaction;
        returns its id. Without `stage`, a row's stage (none for an id)."""
        ...

    def _visit(self, conn: Connection, venture_id: int) -> VisitRow:
        """The venture's current stage visit."""
        ...

    def _data(
        self,
        conn: Connection,
        row: VentureRow,
        visit: VisitRow | None,
        now: datetime,
        windows: WindowReads | None = None,
    ) -> StoreData:
        """What conditions read for a venture."""
        ...

    def _config_overrides(self, conn: Connection, row: VentureRow) -> dict[str, ParamValue]:
        """The venture's own configuration overrides (its latest configuration versions)."""
        ...

    def _effective(self, conn: Connection, wf: Workflow, row: VentureRow) -> dict[str, Setting]:
        """The venture's effective configuration at its current stage."""
        ...

    def _gate(self, conn: Connection, row: VentureRow, gate: GateName, now: datetime) -> GateResult:
        """Judge a gate of the venture's current stage."""
        ...

    @staticmethod
    def _gate_json(result: GateResult) -> dict[str, Any]:
        """A gate result as event data."""
        ...

    def _schedule(self, conn: Connection, venture_id: int, kind: str, ref: str, due: datetime) -> None:
        """Set (or move) a durable timer."""
        ...

    def _history(self, conn: Connection, venture_id: int, limit: int = 25) -> RawJSON:
        """The venture's last events, oldest first, as JSON text."""
        ...

    def _enter(
        self,
        conn: Connection,
        row: VentureRow,
        stage_id: int,
        actor: Actor,
        now: datetime,
        reason: str,
        *,
        created: bool = False,
    ) -> VentureRow:
        """Open a new visit of a stage and judge its entry gate."""
        ...

    def _advance_row(self, conn: Connection, row: VentureRow, actor: Actor, now: datetime, result: GateResult) -> None:
        """Leave the current stage (its exit gate passed) and enter the next, or complete the workflow."""
        ...

    def _recheck_entry(
        self, conn: Connection, row: VentureRow, actor: Actor, now: datetime, entering: bool = False
    ) -> bool:
        """Block or unblock a venture by its entry gate; returns whether its row changed."""
        ...


class RollbackAction(Protocol):
    """Carries out a rollback trigger's action in the caller's transaction; returns (outcome, detail)."""

    def __call__(
        self, conn: Connection, row: VentureRow, wf: Workflow, trig: Trigger, actor: Actor, now: datetime
    ) -> tuple[str, str]: ...
