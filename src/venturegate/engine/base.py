"""The engine's plumbing: connection, workflow pinning, locking, events, stage entry."""

from __future__ import annotations

from collections.abc import Callable
from contextlib import AbstractContextManager
from dataclasses import dataclass
from datetime import UTC, datetime
from types import EllipsisType
from typing import TYPE_CHECKING, Any, Self

from sqlalchemy import Connection
from sqlalchemy import Engine as SAEngine

from venturegate.core.gates import GateName, GateResult, evaluate_gate
from venturegate.core.jsontext import splice
from venturegate.core.settings import Setting, effective_config
from venturegate.definitions.loader import LoadedWorkflow, load_workflow, workflow_from_document
from venturegate.definitions.model import ParamValue, Stage, Trigger, Workflow
from venturegate.engine.actors import SYSTEM, Actor
from venturegate.engine.exceptions import BadInput, Conflict, NotFound
from venturegate.engine.facts import StoreData, gate_facts
from venturegate.engine.records import Event, Venture
from venturegate.store import timers, visits, workflow_versions
from venturegate.store.database import connect, ensure_schema
from venturegate.store.events import EventRow, insert_event, latest_events
from venturegate.store.prepared import RawJSON
from venturegate.store.transactions import Transactions
from venturegate.store.trigger_states import StateWrites, VentureRow
from venturegate.store.ventures import find_venture, update_venture
from venturegate.store.visits import VisitRow
from venturegate.store.windows import WindowReads

if TYPE_CHECKING:
    from venturegate.engine.escalations import Escalations
    from venturegate.engine.progression import ProgressionModes
    from venturegate.engine.triggers import Triggers

Clock = Callable[[], datetime]


@dataclass(frozen=True)
class Batch:
    """What judging a batch's ventures shares: window reads for all of them, trigger-state writes held back."""

    windows: WindowReads
    writes: StateWrites


def event_record(r: EventRow) -> Event:
    """An `events` row as a record."""
    return Event(*r)


def as_id(text: str) -> int | None:
    """The integer id `text` names (ASCII digits that fit a BIGINT), or None when it is a name."""
    text = text.strip()
    return int(text) if text.isascii() and text.isdigit() and len(text) <= 18 else None


def utc_now() -> datetime:
    """The wall clock, in UTC (the engine's default clock; tests pass `now` instead)."""
    return datetime.now(UTC)


class EngineBase:
    """Connection, workflow pinning, locking and event helpers shared by every operation.

    It is the `Plumbing` the engine's components receive (`engine/plumbing.py`); the components it calls are
    attributes that `Engine.__init__` sets.
    """

    # The components (built by `Engine.__init__`) that the plumbing calls.
    modes: ProgressionModes
    triggers: Triggers
    escalator: Escalations

    def __init__(self, db: SAEngine, workflow: LoadedWorkflow, clock: Clock = utc_now) -> None:
        self.db = db
        self.workflow = workflow
        self.clock = clock
        self._pinned: dict[str, LoadedWorkflow] = {workflow.digest: workflow}
        self._stored: set[str] = set()  # digests known to be in workflow_versions
        self._transactions = Transactions(db, self._transaction_ended)
        self._plugin_hooks: Callable[[Any], object] | None = None
        """Installs the installed crews' hooks on this engine, once, when a hook is first needed (see `open`)."""

    def plugin_hooks(self) -> None:
        """Install the installed crews' declared hooks now, if `open` arranged it and it has not happened yet."""
        install, self._plugin_hooks = self._plugin_hooks, None
        if install is not None:
            install(self)

    @classmethod
    def open(cls, url: str | None = None, workflow_path: str | None = None, clock: Clock = utc_now) -> Self:
        """Connect (migrating a new database) and load the workflow new ventures start on."""
        db = connect(url)
        ensure_schema(db)
        return cls(db, load_workflow(workflow_path), clock).with_crew_hooks()

    def with_crew_hooks(self) -> Self:
        """Arrange for the installed crews' declared hooks to be installed when this engine first needs one.

        Every process that opens an engine (CLI, API, worker, timers) gets the crews' rollback handlers
        and error hooks this way; they load when first needed, so a simple command imports no crew.
        """
        from venturegate.crews.registry import install_hooks

        self._plugin_hooks = install_hooks
        return self

    # -- plumbing ----------------------------------------------------------------------------
    def tx(self) -> AbstractContextManager[Connection]:
        """One transaction; everything in it commits together or not at all (`store.transactions`).

        A collision with another transaction is raised as `Collision`, a lost connection as `StoreUnavailable`,
        whichever process (CLI, API, worker) runs it.
        """
        return self._transactions.begin()

    def _transaction_ended(self, conn: Connection) -> None:
        """Hook: the transaction `tx` opened on `conn` is about to commit or roll back (on every backend and path:
        the one place where what a layer remembers about the open transaction is forgotten)."""

    def when(self, now: datetime | None) -> datetime:
        """`now` if given (must be timezone-aware), else the clock."""
        if now is None:
            return self.clock()
        if now.tzinfo is None:
            raise BadInput("time must carry a timezone", where=str(now), hint="append Z or +00:00")
        return now.astimezone(UTC)

    def pinned(self, conn: Connection, digest: str) -> LoadedWorkflow:
        """The workflow version a venture is pinned to."""
        found = self._pinned.get(digest)
        if found is None:
            found = self._pinned[digest] = workflow_from_document(workflow_versions.document(conn, digest))
        return found

    def _pin_current(self, conn: Connection, now: datetime) -> None:
        wf = self.workflow
        if wf.digest in self._stored:
            return
        if workflow_versions.is_stored(conn, wf.digest):
            self._stored.add(wf.digest)  # stored and committed: it stays (versions are never deleted)
        else:
            workflow_versions.store(conn, wf.digest, wf.workflow.workflow.id, wf.version, wf.document, now)

    def _find(self, conn: Connection, name: str) -> VentureRow | None:
        """The venture with this name, or None."""
        return find_venture(conn, name)

    def _row(self, conn: Connection, ref: str | int, lock: bool = False) -> VentureRow:
        """The venture `ref` names (its id, or its name), locked until the transaction ends if `lock` (PostgreSQL)."""
        text = str(ref).strip()
        ident = as_id(text)
        row = find_venture(conn, text if ident is None else ident, lock=lock)
        if row is None:
            raise NotFound(f"no venture '{ref}'", where="venture", hint="`venturegate venture list` shows them")
        return row

    @staticmethod
    def _venture(row: VentureRow) -> Venture:
        return Venture(
            id=row.id,
            name=row.name,
            segment=row.segment,
            stage=row.stage,
            status=row.status,
            workflow_digest=row.workflow_digest,
            created_at=row.created_at,
            updated_at=row.updated_at,
            status_detail=row.status_detail,
        )

    def _set(self, conn: Connection, row: VentureRow, now: datetime, **values: Any) -> None:
        # Optimistic check on top of the row lock: a lost race shows up as a conflict, never a double write.
        if not update_venture(conn, row, now, values):
            raise Conflict(f"venture '{row.name}' changed while this request ran; retry it")

    def _event(
        self,
        conn: Connection,
        venture: VentureRow | int | None,
        kind: str,
        actor: Actor,
        now: datetime,
        *,
        stage: int | EllipsisType | None = ...,
        substage: str | None = None,
        reason: str = "",
        data: dict[str, Any] | None = None,
        encoded: RawJSON | None = None,
    ) -> int:
        """Append an event about `venture` (its row, its id, or None for none); the notification layer may queue
        notifications for it in the same transaction.

        `stage`: by default the row's stage when `venture` is a row, else none. `encoded`: `data` already as its
        JSON text (stored as is; `data` still goes to the notification layer).
        """
        venture_id: int | None
        if isinstance(venture, VentureRow):
            venture_id, row_stage = venture.id, venture.stage
        else:
            venture_id, row_stage = venture, None
        at_stage = row_stage if isinstance(stage, EllipsisType) else stage
        who = (actor.name, actor.role, actor.kind)
        stored = data if encoded is None else encoded
        event_id = insert_event(conn, venture_id, kind, who, now, at_stage, substage, reason, stored)
        self._notify(conn, Event(event_id, venture_id, kind, *who, now, at_stage, substage, reason, data))
        return event_id

    def _visit(self, conn: Connection, venture_id: int) -> VisitRow:
        row = visits.current_visit(conn, venture_id)
        assert row is not None, "every venture has a current visit"
        return row

    def _stage(self, wf: Workflow, stage_id: int) -> Stage:
        stage = wf.stage(stage_id)
        if stage is None:
            raise NotFound(
                f"stage {stage_id} is not in workflow {wf.workflow.id} {wf.workflow.version}",
                hint="`venturegate workflow show` lists its stages",
            )
        return stage

    def _data(
        self,
        conn: Connection,
        row: VentureRow,
        visit: VisitRow | None,
        now: datetime,
        windows: WindowReads | None = None,
    ) -> StoreData:
        """What conditions read for a venture; without `visit`, the visit is read only if a condition needs it.

        `windows`: the batch's shared window reads, when the venture is judged as part of a batch.
        """
        wf = self.pinned(conn, row.workflow_digest).workflow
        overrides = self._config_overrides(conn, row)
        vid = row.id
        entered = visit.entered_at if visit is not None else None
        data = StoreData(conn, vid, wf, row.stage, row.segment, entered, now, overrides, shared=windows)
        if visit is None:
            data.entered_loader = lambda: self._visit(conn, vid).entered_at
        return data

    def _effective(self, conn: Connection, wf: Workflow, row: VentureRow) -> dict[str, Setting]:
        """The venture's effective configuration at its current stage (default → segment → venture override)."""
        return effective_config(wf, row.stage, row.segment, self._config_overrides(conn, row))

    def _gate(self, conn: Connection, row: VentureRow, gate: GateName, now: datetime) -> GateResult:
        wf = self.pinned(conn, row.workflow_digest).workflow
        stage = wf.stage(row.stage)
        if stage is not None and not (stage.gates.entry if gate == "entry" else stage.gates.exit):
            return GateResult(stage.id, gate, ())  # what `evaluate_gate` gives for no checks, without reading facts
        visit = self._visit(conn, row.id)
        facts = gate_facts(conn, self._data(conn, row, visit, now), visit.id, gate)
        return evaluate_gate(self._stage(wf, row.stage), gate, facts, now)

    @staticmethod
    def _gate_json(result: GateResult) -> dict[str, Any]:
        return {
            "gate": result.gate,
            "passed": result.passed,
            "checks": [c.as_dict() for c in result.checks],
        }

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
        """Open a new visit of a stage, judge its entry gate, and block the venture if it fails; returns the row.

        `created`: the venture row was inserted in this transaction, already at `stage_id`, active and at the
        revision this method would set, so there is no earlier visit to count and nothing to update.
        """
        wf = self.pinned(conn, row.workflow_digest).workflow
        stage = self._stage(wf, stage_id)
        attempt = 1 if created else 1 + visits.attempts(conn, row.id, stage_id)
        visits.open_visit(conn, row.id, stage_id, attempt, now, reason, [sub.id for sub in stage.substages])
        if not created:
            self._set(conn, row, now, stage=stage_id, status="active", status_detail=None)
            row = self._row(conn, row.id)
        self._event(
            conn,
            row.id,
            "stage.entered",
            actor,
            now,
            stage=stage_id,
            reason=reason,
            data={"attempt": attempt},
        )
        self._on_stage_entered(conn, row, stage_id, actor, now)
        if self._recheck_entry(conn, row, actor, now, entering=True):
            row = self._row(conn, row.id)
        return row

    def _schedule(self, conn: Connection, venture_id: int, kind: str, ref: str, due: datetime) -> None:
        """A durable wake-up: the truth is this row; a queue only shortens the wait (see `tick`)."""
        timers.schedule(conn, venture_id, kind, ref, due)

    def _history(self, conn: Connection, venture_id: int, limit: int = 25) -> RawJSON:
        """The venture's last `limit` events, oldest first, as the JSON text of their `Event.as_dict()` list.

        Each event's `data` is spliced in as stored instead of being decoded and encoded again (the same text:
        it was written by the same serializer).
        """
        parts = [
            splice(
                {
                    "id": r.id,
                    "venture_id": r.venture_id,
                    "kind": r.kind,
                    "actor": r.actor,
                    "actor_role": r.actor_role,
                    "actor_kind": r.actor_kind,
                    "at": r.at.isoformat(),
                    "stage": r.stage,
                    "substage": r.substage,
                    "reason": r.reason,
                },
                {"data": "null" if r.data is None else r.data},
            )
            for r in reversed(latest_events(conn, venture_id, limit))
        ]
        return RawJSON(f"[{', '.join(parts)}]")

    def _advance_row(self, conn: Connection, row: VentureRow, actor: Actor, now: datetime, result: GateResult) -> None:
        """Leave the current stage (its exit gate passed) and enter the next, or complete the workflow."""
        wf = self.pinned(conn, row.workflow_digest).workflow
        visit = self._visit(conn, row.id)
        visits.close(conn, visit.id, now, "passed")
        self._event(
            conn,
            row.id,
            "stage.exited",
            actor,
            now,
            stage=row.stage,
            reason="exit gate passed",
            data=self._gate_json(result),
        )
        self.modes.record_success(conn, wf, row.stage)
        nxt = wf.next_stage(row.stage)
        if nxt is None:
            self._set(conn, row, now, status="completed", status_detail=None)
            self._event(conn, row.id, "venture.completed", actor, now, stage=row.stage)
            return
        self._event(
            conn,
            row.id,
            "venture.advanced",
            actor,
            now,
            stage=nxt.id,
            reason=f"{row.stage} → {nxt.id}",
            data={"from": row.stage, "to": nxt.id},
        )
        self._enter(conn, row, nxt.id, actor, now, f"advanced from stage {row.stage}")

    # Hooks that later layers fill in; the base does nothing (or the simplest thing).
    def _notify(self, conn: Connection, event: Event) -> None:
        """An event was appended: the notification layer writes its outbox rows here, in the same transaction."""

    def _config_overrides(self, conn: Connection, row: VentureRow) -> dict[str, ParamValue]:
        """The venture's own configuration overrides (the configuration layer reads its latest versions).

        Called on every trigger and gate evaluation: keep it free of queries when nothing changed.
        """
        return {}

    def _on_stage_entered(self, conn: Connection, row: VentureRow, stage_id: int, actor: Actor, now: datetime) -> None:
        """A stage visit was opened (the configuration layer takes the `pre-stage-N` snapshot here)."""

    def _rollback_action(
        self, conn: Connection, row: VentureRow, wf: Workflow, trig: Trigger, actor: Actor, now: datetime
    ) -> tuple[str, str]:
        """Carry out a rollback trigger's action; returns (outcome, detail). The base only records the decision."""
        self._event(
            conn,
            row.id,
            "rollback.decided",
            actor,
            now,
            stage=row.stage,
            reason=f"{trig.id}: {trig.description or trig.when}",
            data={"trigger": trig.id, "to": trig.action.rollback_to, "scope": trig.action.scope},
        )
        return "acted", f"rollback to {trig.action.rollback_to or 'previous configuration'} recorded"

    def _recheck_entry(
        self, conn: Connection, row: VentureRow, actor: Actor, now: datetime, entering: bool = False
    ) -> bool:
        """Block a venture whose entry gate fails; unblock a blocked one whose entry gate now passes.

        Returns whether the venture row changed.
        """
        if row.status not in ("active", "blocked"):
            return False
        result = self._gate(conn, row, "entry", now)
        if not result.passed and (entering or row.status == "active"):
            self._set(conn, row, now, status="blocked", status_detail=self._gate_json(result))
            self._event(
                conn,
                row.id,
                "venture.blocked",
                SYSTEM,
                now,
                stage=row.stage,
                reason="entry gate not passed",
                data=self._gate_json(result),
            )
            return True
        if result.passed and row.status == "blocked":
            self._set(conn, row, now, status="active", status_detail=None)
            self._event(
                conn,
                row.id,
                "venture.unblocked",
                actor,
                now,
                stage=row.stage,
                reason="entry gate passed",
            )
            return True
        return False
