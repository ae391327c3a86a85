"""Rollback of configuration to a version or snapshot, its decision tree and its handlers.

A rollback is a new configuration version equal to the target (history is never edited), written
in one transaction with the rollback log row and its events. Crews register handlers per scope
(the first dotted part of a config key, or a scope a stage declares such as `traffic`); they run
inside that transaction, so they must act on the outside world only and never call the engine.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Connection

from venturegate.core.rollback_plan import RollbackPlan, UnknownCause, causes, plan_rollback
from venturegate.definitions.model import Stage, Trigger, Workflow
from venturegate.engine.actors import Actor
from venturegate.engine.configuration import Configuration, DiffEntry, scope_of
from venturegate.engine.escalations import Escalations
from venturegate.engine.exceptions import BadInput, Conflict, NotFound
from venturegate.engine.plumbing import Plumbing
from venturegate.engine.records import _Record
from venturegate.engine.triggers import Triggers
from venturegate.store.rollbacks import RollbackRow, insert_rollback, rollback_rows
from venturegate.store.trigger_states import VentureRow


@dataclass(frozen=True)
class RollbackContext:
    """What a rollback handler is told: the venture, the scope it serves, and the changes in that scope."""

    venture: str
    venture_id: int
    stage: int
    scope: str
    target: str
    target_version: int
    cause: str
    reason: str
    trigger: str | None
    changes: tuple[DiffEntry, ...]


RollbackHandler = Callable[[RollbackContext], object]
"""A crew's rollback step for a scope (e.g. move traffic back to blue); raising means it failed."""


@dataclass(frozen=True)
class HandlerResult(_Record):
    """One handler's run: ok, what it returned (or the error), how long it took."""

    scope: str
    handler: str
    ok: bool
    detail: str
    ms: float


@dataclass(frozen=True)
class RollbackRecord(_Record):
    """A rollback (or a dry run of one): target, diff, handlers, duration and outcome."""

    id: int | None
    venture_id: int
    venture: str
    stage: int
    target: str
    target_version: int
    from_version: int
    to_version: int | None
    scope: list[str]
    cause: str
    reason: str
    trigger: str | None
    actor: str
    started_at: datetime
    duration_ms: float
    outcome: str
    diff: list[DiffEntry]
    handlers: list[HandlerResult]
    escalation: str | None
    recursion: str | None = None


@dataclass(frozen=True)
class RollbackPlanReport(_Record):
    """The decision tree applied to a cause for a venture, with what a restore would change."""

    venture: str
    stage: int
    cause: str
    action: str
    restores: bool
    snapshot: str | None
    snapshot_version: int | None
    scope: list[str]
    go_to: int | str | None
    description: str
    why: str
    steps: list[str]
    diff: list[DiffEntry]
    causes: list[str]


def _record(r: RollbackRow, name: str) -> RollbackRecord:
    return RollbackRecord(
        r.id,
        r.venture_id,
        name,
        r.stage,
        r.target,
        r.target_version,
        r.from_version,
        r.to_version,
        list(r.scope),
        r.cause,
        r.reason,
        r.trigger_id,
        r.actor,
        r.started_at,
        r.duration_ms,
        r.outcome,
        [DiffEntry(**d) for d in r.diff],
        [HandlerResult(**h) for h in r.handlers],
        r.escalation,
    )


class Rollbacks:
    """Rollbacks: restore, run the registered handlers, record the rollback log (the engine's `restorer`).

    Depends on the plumbing, the configuration (versions, snapshots, diffs), the triggers (a rollback's
    recursion) and the escalations (a failed handler). `Triggers` reaches its `action` through the engine
    (`Engine._rollback_action`), as the two depend on each other.
    """

    def __init__(
        self, plumbing: Plumbing, configuration: Configuration, triggers: Triggers, escalations: Escalations
    ) -> None:
        self.plumbing = plumbing
        self.configuration = configuration
        self.triggers = triggers
        self.escalations = escalations
        self._rollback_handlers: dict[str, list[tuple[int | None, RollbackHandler]]] = {}

    def register_rollback_handler(self, scope: str, handler: RollbackHandler, *, stage: int | None = None) -> None:
        """Run `handler` whenever a rollback touches `scope` (of `stage` only, when given; in registration order)."""
        scope = scope.strip()
        if not scope:
            raise BadInput("a rollback handler needs a scope", where="scope", hint="e.g. traffic, campaigns")
        self._rollback_handlers.setdefault(scope, []).append((stage, handler))

    def handlers(self, scope: str, stage: int) -> list[RollbackHandler]:
        """The handlers registered for `scope` that run at `stage`, in registration order."""
        return [h for only, h in self._rollback_handlers.get(scope, []) if only is None or only == stage]

    # -- public operations ---------------------------------------------------------------------
    def rollback(
        self,
        ref: str | int,
        to: str | int | None = None,
        *,
        actor: Actor,
        reason: str = "",
        cause: str = "",
        scope: list[str] | None = None,
        keys: list[str] | None = None,
        dry_run: bool = False,
        now: datetime | None = None,
    ) -> RollbackRecord:
        """Restore the configuration of `to` (a version or snapshot) as a new version, run handlers, log it.

        Without `to`, `cause` picks the branch of the current stage's decision tree and its plan is carried
        out: restore its scopes from `pre-stage-N`, then recurse when the branch says so.

        `keys` limits the restore to those configuration keys (a crew's own; `[]`: none): other settings
        changed since the target are kept, while the handlers of the scopes still run.
        """
        now = self.plumbing.when(now)
        with self.plumbing.tx() as conn:
            row = self.plumbing._row(conn, ref, lock=True)
            if not dry_run and row.status in ("killed", "completed"):
                raise Conflict(f"venture '{row.name}' is {row.status}; nothing can be rolled back")
            wf = self.plumbing.pinned(conn, row.workflow_digest).workflow
            stage = self.plumbing._stage(wf, row.stage)
            go_to: int | str | None = None
            if to is None:
                if not cause.strip():
                    raise BadInput("say what to roll back to", where="--to", hint="a version, a snapshot or --cause")
                plan = self._plan(stage, cause)
                if not plan.restores:
                    raise Conflict(
                        f"the plan for cause '{plan.cause}' is {plan.action}: nothing is rolled back ({plan.why})"
                    )
                to, scope = plan.snapshot, scope or list(plan.scope) or None
                go_to = plan.go_to if plan.action == "rollback_and_recurse" else None
            self._check_scope(wf, stage, scope)
            record = self._restore(
                conn,
                row,
                str(to),
                scope,
                cause=cause.strip(),
                reason=reason,
                actor=actor,
                now=now,
                trigger=None,
                role=wf.defaults.escalation_role,
                dry_run=dry_run,
                keys=keys,
            )
            if go_to is not None and record.outcome == "completed":
                why = f"rollback #{record.id} ({record.cause}): back to {go_to}"
                _, detail = self.triggers.recurse(
                    conn, self.plumbing._row(conn, row.id), wf, go_to, why, actor, now, None
                )
                record = RollbackRecord(**{**record.__dict__, "recursion": detail})
            return record

    def rollback_plan(self, ref: str | int, cause: str) -> RollbackPlanReport:
        """Explain which branch of the current stage's decision tree applies to a cause, and what it would do."""
        with self.plumbing.tx() as conn:
            row = self.plumbing._row(conn, ref)
            wf = self.plumbing.pinned(conn, row.workflow_digest).workflow
            stage = self.plumbing._stage(wf, row.stage)
            plan = self._plan(stage, cause)
            version: int | None = None
            diff: list[DiffEntry] = []
            if plan.snapshot is not None:
                try:
                    version = self.configuration.resolve(conn, row, plan.snapshot, "--cause")
                except NotFound:
                    version = None
                else:
                    diff = self.configuration.diff(conn, row, row.config_version, version, list(plan.scope) or None)
            return RollbackPlanReport(
                row.name,
                stage.id,
                plan.cause,
                plan.action,
                plan.restores,
                plan.snapshot,
                version,
                list(plan.scope),
                plan.go_to,
                plan.description,
                plan.why,
                list(plan.steps),
                diff,
                list(causes(stage)),
            )

    def rollbacks(self, ref: str | int | None = None) -> list[RollbackRecord]:
        """The rollback log, newest first (one venture's, or every venture's)."""
        with self.plumbing.tx() as conn:
            names: dict[int, str] = {}
            vid = None
            if ref is not None:
                row = self.plumbing._row(conn, ref)
                names[vid := row.id] = row.name
            out = []
            for r in rollback_rows(conn, vid):
                if r.venture_id not in names:
                    names[r.venture_id] = self.plumbing._row(conn, r.venture_id).name
                out.append(_record(r, names[r.venture_id]))
            return out

    # -- the trigger hook ----------------------------------------------------------------------
    def action(
        self, conn: Connection, row: VentureRow, wf: Workflow, trig: Trigger, actor: Actor, now: datetime
    ) -> tuple[str, str]:
        """A rollback trigger restores `rollback_to` (default `pre-stage-N`) for its scopes, in this transaction."""
        target = trig.action.rollback_to or f"pre-stage-{row.stage}"
        reason = f"{trig.id}: {trig.description or trig.when}"
        self.plumbing._event(
            conn,
            row,
            "rollback.decided",
            actor,
            now,
            reason=reason,
            data={"trigger": trig.id, "to": trig.action.rollback_to, "scope": trig.action.scope},
        )
        try:
            record = self._restore(
                conn,
                row,
                target,
                list(trig.action.scope) or None,
                cause=f"trigger {trig.id}",
                reason=reason,
                actor=actor,
                now=now,
                trigger=trig.id,
                role=trig.role,
                dry_run=False,
            )
        except BadInput as exc:  # e.g. no snapshot was taken on entry: a person has to decide
            code = self.escalations.open(
                conn,
                self.plumbing._row(conn, row.id),
                trig.role,
                f"{trig.id}: rollback impossible: {exc}",
                now,
                trig.id,
            )
            return "escalated", code
        if record.escalation is not None:
            return "escalated", record.escalation
        return "acted", (
            f"rolled back to {target}: {len(record.diff)} change(s), "
            f"{len(record.handlers)} handler(s), {record.duration_ms:.1f} ms"
        )

    # -- the restore itself --------------------------------------------------------------------
    def _restore(
        self,
        conn: Connection,
        row: VentureRow,
        target: str,
        scope: list[str] | None,
        *,
        cause: str,
        reason: str,
        actor: Actor,
        now: datetime,
        trigger: str | None,
        role: str,
        dry_run: bool,
        keys: list[str] | None = None,
    ) -> RollbackRecord:
        start = time.perf_counter()
        vid, current = row.id, row.config_version
        target_version = self.configuration.resolve(conn, row, target, "--to")
        diff = self.configuration.diff(conn, row, current, target_version, scope)
        scopes = list(scope) if scope else sorted({e.scope for e in diff})
        if keys is not None:  # only the caller's own keys are restored; the scopes (and handlers) stay
            diff = [e for e in diff if e.key in keys]

        def record(**extra: Any) -> RollbackRecord:
            base: dict[str, Any] = {
                "id": None,
                "venture_id": vid,
                "venture": row.name,
                "stage": row.stage,
                "target": target,
                "target_version": target_version,
                "from_version": current,
                "to_version": None,
                "scope": scopes,
                "cause": cause,
                "reason": reason,
                "trigger": trigger,
                "actor": actor.name,
                "started_at": now,
                "duration_ms": (time.perf_counter() - start) * 1000,
                "outcome": "dry-run",
                "diff": diff,
                "handlers": [],
                "escalation": None,
            }
            return RollbackRecord(**{**base, **extra})

        if dry_run:
            return record()
        to_version = None
        if diff:
            restored = self.configuration.state_at(conn, vid, target_version)
            changes = {e.key: restored[e.key][0] if e.key in restored else None for e in diff}
            to_version = current + 1
            before = self.configuration.state_at(conn, vid, current)
            why = reason or f"rollback to {target}"
            self.configuration.write_version(conn, row, to_version, changes, before, "rollback", actor, why, now)
            row = self.plumbing._row(conn, vid)
        context = {"target": target, "target_version": target_version, "cause": cause, "reason": reason}
        declared = self.plumbing._stage(
            self.plumbing.pinned(conn, row.workflow_digest).workflow, row.stage
        ).rollback.scopes
        results = self._run_handlers(row, scopes, diff, trigger, context, declared)
        failed = [h for h in results if not h.ok]
        escalation = None
        if failed:
            what = "; ".join(f"{h.scope}/{h.handler}: {h.detail}" for h in failed)
            escalation = self.escalations.open(conn, row, role, f"rollback handler failed: {what}", now, trigger)
        done = record(
            to_version=to_version,
            outcome="escalated" if failed else "completed",
            handlers=results,
            escalation=escalation,
        )
        rid = insert_rollback(
            conn,
            venture_id=vid,
            stage=done.stage,
            target=target,
            target_version=target_version,
            from_version=current,
            to_version=to_version,
            scope=scopes,
            cause=cause,
            reason=reason,
            trigger_id=trigger,
            actor=actor.name,
            started_at=now,
            duration_ms=done.duration_ms,
            outcome=done.outcome,
            diff=[e.as_dict() for e in diff],
            handlers=[h.as_dict() for h in results],
            escalation=escalation,
        )
        self.plumbing._event(
            conn,
            vid,
            "rollback.failed" if failed else "rollback.completed",
            actor,
            now,
            stage=done.stage,
            reason=reason or cause,
            data={
                "rollback": rid,
                "target": target,
                "target_version": target_version,
                "from_version": current,
                "to_version": to_version,
                "scope": scopes,
                "cause": cause,
                "changes": [e.key for e in diff],
                "handlers": [h.as_dict() for h in results],
                "duration_ms": round(done.duration_ms, 3),
                "escalation": escalation,
            },
        )
        return RollbackRecord(**{**done.__dict__, "id": rid})

    def _run_handlers(
        self,
        row: VentureRow,
        scopes: list[str],
        diff: list[DiffEntry],
        trigger: str | None,
        context: dict[str, Any],
        declared: list[str],
    ) -> list[HandlerResult]:
        """Run every handler of every affected scope; a failure is recorded, never raised.

        A scope the stage declares (its `rollback.scopes`: things outside the configuration, such as
        traffic) that no handler serves in this process is a failure too: nothing undid it.
        """
        self.plumbing.plugin_hooks()
        results: list[HandlerResult] = []
        for scope in scopes:
            handlers = self.handlers(scope, row.stage)
            if scope in declared and not handlers:
                results.append(
                    HandlerResult(
                        scope,
                        "(none)",
                        False,
                        f"no rollback handler serves scope '{scope}' in this process "
                        "(is the crew of this stage installed? `venturegate crews` lists them)",
                        0.0,
                    )
                )
                continue
            changes = tuple(e for e in diff if e.scope == scope)
            ctx = RollbackContext(
                row.name,
                row.id,
                row.stage,
                scope,
                context["target"],
                context["target_version"],
                context["cause"],
                context["reason"],
                trigger,
                changes,
            )
            for handler in handlers:
                name = getattr(handler, "__qualname__", repr(handler))
                start = time.perf_counter()
                try:
                    out = handler(ctx)
                except Exception as exc:  # a crew's handler failing must escalate, not abort the rollback
                    ms = (time.perf_counter() - start) * 1000
                    results.append(HandlerResult(scope, name, False, f"{type(exc).__name__}: {exc}", ms))
                else:
                    ms = (time.perf_counter() - start) * 1000
                    results.append(HandlerResult(scope, name, True, "" if out is None else str(out), ms))
        return results

    # -- helpers -------------------------------------------------------------------------------
    @staticmethod
    def _plan(stage: Stage, cause: str) -> RollbackPlan:
        try:
            return plan_rollback(stage, cause)
        except UnknownCause as exc:
            raise NotFound(
                f"unknown cause '{cause}' for stage {stage.id}",
                where="--cause",
                hint="causes: " + (", ".join(exc.available) or "none (the stage has no decision tree)"),
            ) from None

    def _check_scope(self, wf: Workflow, stage: Stage, scope: list[str] | None) -> None:
        if not scope:
            return
        self.plumbing.plugin_hooks()
        known = set(stage.rollback.scopes) | set(self._rollback_handlers)
        known |= {scope_of(k) for k in wf.config} | {scope_of(k) for s in wf.stages for k in s.config}
        unknown = [s for s in scope if s not in known]
        if unknown:
            raise NotFound(
                f"unknown rollback scope {', '.join(unknown)}",
                where="--scope",
                hint=f"stage {stage.id} declares: {', '.join(stage.rollback.scopes) or 'none'}; "
                "a config key's first dotted part is also a scope",
            )
