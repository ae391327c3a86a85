"""Triggers: judged when their data arrives, acted on by mode, limited by retries and loop prevention."""

from __future__ import annotations

import functools
from collections.abc import Mapping
from dataclasses import replace
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Connection, bindparam, func, insert, select, update
from sqlalchemy.dialects import postgresql, sqlite

from venturegate.core.conditions import Explanation, Sample, evaluate, references
from venturegate.core.durations import parse_duration
from venturegate.core.gates import parsed
from venturegate.core.jsontext import dumps, splice
from venturegate.core.triggers import FirePlan, Mode, TriggerState, counts_act, effective_mode, fire_plan, step
from venturegate.definitions.model import Stage, Trigger, Workflow
from venturegate.engine.actors import SYSTEM, Actor
from venturegate.engine.base import Batch, as_id
from venturegate.engine.exceptions import BadInput, Conflict, NotFound
from venturegate.engine.progression import ProgressionOps
from venturegate.engine.records import Fired, RaisedTrigger
from venturegate.store.approvals import ApprovalRow
from venturegate.store.prepared import Prepared, RawJSON
from venturegate.store.schema import (
    approvals,
    escalation_numbers,
    escalations,
    events,
    stage_visits,
    substage_status,
    trigger_state,
    ventures,
)
from venturegate.store.trigger_states import (
    COUNT_ACT,
    TriggerStates,
    VentureRow,
    read_states,
    save_state,
    venture_with_states,
)
from venturegate.store.windows import WindowReads

_NEXT_ESCALATION = {
    # One atomic upsert per code: concurrent escalations at a stage get distinct numbers, without a retry.
    d.__name__.rsplit(".", 1)[-1]: Prepared(
        d.insert(escalation_numbers)
        .values(stage=bindparam("stage"), last=1)
        .on_conflict_do_update(index_elements=["stage"], set_={"last": escalation_numbers.c.last + 1})
        .returning(escalation_numbers.c.last)
    )
    for d in (sqlite, postgresql)
}
_ESCALATION_COLUMNS = ("code", "venture_id", "stage", "trigger_id", "role", "status", "reason", "history", "created_at")
_INSERT_ESCALATION = Prepared(insert(escalations).values({c: bindparam(c) for c in _ESCALATION_COLUMNS}))
_CURRENT_SUBSTAGES = Prepared(
    select(substage_status).where(
        substage_status.c.visit_id
        == select(stage_visits.c.id)
        .where(stage_visits.c.venture_id == bindparam("vid"))
        .order_by(stage_visits.c.id.desc())
        .limit(1)
        .scalar_subquery()
    )
)
_REOPEN = Prepared(
    update(substage_status)
    .where(substage_status.c.visit_id == bindparam("visit"), substage_status.c.substage == bindparam("sub"))
    .values(status="open", items=[], completed_by=None, completed_at=None)
)


class TriggerOps(ProgressionOps):
    """Trigger evaluation and actions (the hooks the sample, approval and timer paths call)."""

    # -- evaluation ---------------------------------------------------------------------------
    def _duration(self, conn: Connection, wf: Workflow, row: VentureRow, value: str) -> float:
        if value.startswith("config."):
            value = str(self._effective(conn, wf, row)[value.removeprefix("config.")].value)
        return parse_duration(value)

    def _evaluate_triggers(
        self,
        conn: Connection,
        row: VentureRow,
        now: datetime,
        metrics: set[str] | None = None,
        only: str | None = None,
        latest: Mapping[str, Sample] | None = None,
        states: TriggerStates | None = None,
        batch: Batch | None = None,
    ) -> list[Fired]:
        """Judge the current stage's triggers that read `metrics` (all when None), in definition order.

        `latest` holds samples this transaction stored that are known to be the newest at `now` (see `StoreData`);
        `states`, the venture's trigger states as this transaction stored them (read with `row`), else None;
        `batch`, what the ventures of a batch share (window reads, held-back state writes).
        """
        wf = self.pinned(conn, row.workflow_digest).workflow
        stage = self._stage(wf, row.stage)
        fired: list[Fired] = []
        moved = False
        for trig in stage.triggers:
            if only is not None and trig.id != only:
                continue
            if metrics is not None and not (reads(trig.when) & metrics):
                continue
            if moved:
                # The last action may have moved the venture: read it, its visit and trigger states again.
                row, states, moved = self._row(conn, row.id), None, False
            if row.status != "active" or row.stage != stage.id:
                break
            if states is None:
                states = self._states(conn, row.id)
            known = states.get(trig.id, (TriggerState(), False))
            result = self._judge(conn, row, wf, trig, now, known, latest, batch)
            if result is not None:
                fired.append(result)
                moved = result.outcome not in ("pending", "suppressed-cooldown", "notified")
            elif states is not None:
                states[trig.id] = (states.get(trig.id, (TriggerState(), False))[0], True)
        return fired

    def _states(self, conn: Connection, vid: int) -> TriggerStates:
        return read_states(conn, vid)

    def _row_with_states(
        self, conn: Connection, ref: str | int, lock: bool = False
    ) -> tuple[VentureRow, TriggerStates | None]:
        """A venture's row and trigger states in one query (`lock`: PostgreSQL locks the row); a name is resolved
        to its id first."""
        ident = as_id(str(ref))
        if ident is None:
            ident = int(self._row(conn, ref).id)
        found = venture_with_states(conn, ident, lock)
        if found is None:
            raise NotFound(f"no venture '{ref}'", where="venture", hint="`venturegate venture list` shows them")
        return found

    def _state(self, conn: Connection, vid: int, trig_id: str) -> tuple[TriggerState, bool]:
        return self._states(conn, vid).get(trig_id, (TriggerState(), False))

    def _judge(
        self,
        conn: Connection,
        row: VentureRow,
        wf: Workflow,
        trig: Trigger,
        now: datetime,
        known: tuple[TriggerState, bool],
        latest: Mapping[str, Sample] | None = None,
        batch: Batch | None = None,
    ) -> Fired | None:
        vid = row.id
        expl = parsed_eval(self, conn, row, None, trig, now, latest, None if batch is None else batch.windows)
        explanation = expl.to_dict()
        # Encoded once for the trigger state and, when the trigger fires, its event (the serializer's own text).
        encoded = dumps(explanation)
        prev, exists = known
        result = step(
            prev,
            expl.verdict,
            now,
            self._duration(conn, wf, row, trig.for_),
            self._duration(conn, wf, row, trig.cooldown),
        )
        acted = result.state.acted_count
        mode, plan = trig.mode, None
        if result.fire:
            mode = self._mode(conn, wf, row, trig)
            plan = fire_plan(trig.kind, mode, trig.max, acted)
        # A fire that will act counts the act in this same write (instead of a second UPDATE in `_act`).
        counted = plan is not None and counts_act(trig.kind, plan)
        saved = replace(result.state, acted_count=acted + 1) if counted else result.state
        values = {
            "vid": vid,
            "tid": trig.id,
            "state": saved.state,
            "since": saved.since,
            "last_fired_at": saved.last_fired_at,
            "fired_count": saved.fired_count,
            "acted_count": saved.acted_count,
            "last_evaluated_at": now,
            "last_value": RawJSON(encoded),
        }
        moved = prev.state != result.state.state or prev.since != result.state.since
        quiet = not (result.fire or result.suppressed or moved)
        if batch is not None and quiet:
            batch.writes.add(values, exists)  # nothing else this transaction does reads it before the flush
        else:
            if batch is not None:
                batch.writes.flush(conn)  # in order: what follows may change trigger states
            save_state(conn, values, exists)
        if result.wake_at is not None and (moved or result.suppressed):
            self._schedule(conn, vid, "trigger", trig.id, result.wake_at)
        if result.suppressed:
            self._event(conn, vid, "trigger.suppressed", SYSTEM, now, stage=row.stage, reason=f"{trig.id}: cooldown")
            return Fired(trig.id, trig.kind, _action(trig), trig.mode, "suppressed-cooldown", vid)
        if plan is not None:
            self._event(
                conn,
                vid,
                "trigger.fired",
                SYSTEM,
                now,
                stage=row.stage,
                reason=f"{trig.id}: {describe(trig)}, when {' '.join(trig.when.split())}"[:500],
                data={"trigger": trig.id, "kind": trig.kind, "explanation": explanation},
                encoded=RawJSON(splice({"trigger": trig.id, "kind": trig.kind}, {"explanation": encoded})),
            )
            outcome, detail = self._fire(conn, row, wf, trig, now, acted, plan)
            return Fired(trig.id, trig.kind, _action(trig), mode, outcome, vid, detail)
        if result.state.state == "pending" and prev.state != "pending":
            self._event(
                conn,
                vid,
                "trigger.pending",
                SYSTEM,
                now,
                stage=row.stage,
                reason=trig.id,
                data={"until": result.wake_at.isoformat() if result.wake_at else None},
            )
            return Fired(trig.id, trig.kind, _action(trig), trig.mode, "pending", vid)
        return None

    # -- firing -------------------------------------------------------------------------------
    def _mode(self, conn: Connection, wf: Workflow, row: VentureRow, trig: Trigger) -> Mode:
        """The trigger's mode; an advance's is limited by the stage's progression mode."""
        if trig.kind != "advance":
            return trig.mode
        return effective_mode(trig.mode, self._progression_mode(conn, wf, row.id, row.stage))

    def _fire(
        self, conn: Connection, row: VentureRow, wf: Workflow, trig: Trigger, now: datetime, acted: int, plan: FirePlan
    ) -> tuple[str, str]:
        """Carry out a firing's plan (`fire_plan`); returns (outcome, detail). `acted`: how many times the trigger
        already acted for the venture. An act the plan counts was stored with the trigger's state (`counts_act`)."""
        vid, stage_id = row.id, row.stage
        if plan == "escalate":
            code = self._escalate(
                conn,
                row,
                trig.role,
                f"{trig.id} fired after {acted} recursions (limit {trig.max})",
                now,
                trig.id,
            )
            return "escalated", code
        if plan == "notify":
            self._event(
                conn,
                vid,
                "trigger.notified",
                SYSTEM,
                now,
                stage=stage_id,
                reason=trig.id,
                data={"notify": trig.action.notify or [trig.role], "severity": trig.action.severity},
            )
            return "notified", f"notified {', '.join(trig.action.notify or [trig.role])}"
        if plan == "propose":
            aid = self._propose(conn, row, wf, trig, now)
            return "proposed", f"approval #{aid} for {trig.role}"
        return self._act(conn, row, wf, trig, now, SYSTEM, counted=counts_act(trig.kind, plan))

    def _propose(self, conn: Connection, row: VentureRow, wf: Workflow, trig: Trigger, now: datetime) -> int:
        visit = self._visit(conn, row.id)
        policy = wf.approval_policy(row.stage, trig.role)
        expires = now + timedelta(seconds=self._duration(conn, wf, row, policy.timeout))
        payload = {"trigger": trig.id, "stage": row.stage, "action": trig.action.model_dump(exclude_defaults=True)}
        aid = int(
            conn.execute(
                insert(approvals)
                .values(
                    venture_id=row.id,
                    visit_id=visit.id,
                    stage=row.stage,
                    role=trig.role,
                    status="pending",
                    reason=f"{trig.id} proposes: {describe(trig)}",
                    payload=payload,
                    requested_by=SYSTEM.name,
                    requested_at=now,
                    expires_at=expires,
                )
                .returning(approvals.c.id)
            ).scalar_one()
        )
        self._schedule(conn, row.id, "approval", str(aid), expires)
        self._event(
            conn,
            row.id,
            "approval.requested",
            SYSTEM,
            now,
            stage=row.stage,
            reason=describe(trig),
            data={"approval": aid, "role": trig.role, "trigger": trig.id, "expires_at": expires.isoformat()},
        )
        return aid

    def _act(
        self,
        conn: Connection,
        row: VentureRow,
        wf: Workflow,
        trig: Trigger,
        now: datetime,
        actor: Actor,
        *,
        counted: bool = False,
    ) -> tuple[str, str]:
        """Carry out a trigger's action; returns (outcome, detail). `counted`: the act is already counted."""
        vid, stage_id = row.id, row.stage
        reason = f"{trig.id}: {trig.description or trig.when}"
        if trig.kind == "alert":
            self._event(
                conn,
                vid,
                "alert",
                actor,
                now,
                stage=stage_id,
                reason=reason,
                data={"trigger": trig.id, "severity": trig.action.severity, "notify": trig.action.notify},
            )
            return "notified", f"{trig.action.severity} alert"
        if trig.kind == "advance":
            result = self._gate(conn, row, "exit", now)
            if not result.passed:
                self._event(
                    conn,
                    vid,
                    "trigger.waiting",
                    actor,
                    now,
                    stage=stage_id,
                    reason=f"{trig.id}: exit gate not passed",
                    data=self._gate_json(result),
                )
                return "pending", "exit gate not passed yet"
            self._advance_row(conn, row, actor, now, result)
            return "acted", f"advanced to {self._row(conn, vid).stage}"
        if not counted:
            self._count_act(conn, vid, trig.id)
        if trig.kind == "rollback":
            return self._rollback_action(conn, row, wf, trig, actor, now)
        target = trig.action.go_to
        assert target is not None
        return self._recurse(conn, row, wf, target, reason, actor, now, trig.id)

    def _count_act(self, conn: Connection, vid: int, trig_id: str) -> None:
        if COUNT_ACT.run(conn, {"vid": vid, "tid": trig_id}) == 0:
            save_state(
                conn,
                {"vid": vid, "tid": trig_id, "state": "inactive", "since": None, "last_fired_at": None}
                | {"fired_count": 0, "acted_count": 1, "last_evaluated_at": None, "last_value": None},
                exists=False,
            )

    def _recurse(
        self,
        conn: Connection,
        row: VentureRow,
        wf: Workflow,
        target: int | str,
        reason: str,
        actor: Actor,
        now: datetime,
        trig_id: str | None,
    ) -> tuple[str, str]:
        vid, stage_id = row.id, row.stage
        self._record_failure(conn, wf, vid, stage_id)
        if isinstance(target, str):
            stage = self._stage(wf, stage_id)
            self._reopen(conn, vid, stage, target)
            self._set(conn, row, now)
            self._event(
                conn,
                vid,
                "recursion",
                actor,
                now,
                stage=stage_id,
                substage=target,
                reason=reason,
                data={"trigger": trig_id, "to": target},
            )
            return "acted", f"back to {target}"
        loop = wf.defaults.loop_prevention
        since = now - timedelta(seconds=parse_duration(loop.window))
        # Bounces are the recursions into the target stage (not its re-entries: a venture that started
        # after it never had a first visit, and its first bounce must count too).
        bounces = conn.execute(
            select(func.count())
            .select_from(events)
            .where(
                events.c.venture_id == vid,
                events.c.kind == "recursion",
                events.c.stage == target,
                events.c.substage.is_(None),
                events.c.at > since,
            )
        ).scalar_one()
        if bounces >= loop.max_bounces:
            code = self._escalate(
                conn,
                row,
                loop.role,
                f"loop: stage {target} re-entered {bounces} times within {loop.window} (limit {loop.max_bounces})",
                now,
                trig_id,
            )
            return "escalated", code
        visit = self._visit(conn, vid)
        conn.execute(
            update(stage_visits).where(stage_visits.c.id == visit.id).values(exited_at=now, outcome="recursed")
        )
        self._event(
            conn,
            vid,
            "recursion",
            actor,
            now,
            stage=target,
            reason=reason,
            data={"trigger": trig_id, "from": stage_id, "to": target},
        )
        # The venture leaves this stage: its triggers' episodes end with the visit (counts and cooldowns stay),
        # so bad data after it comes back fires them again and loop prevention can see the next bounce.
        left = [t.id for t in self._stage(wf, stage_id).triggers]
        conn.execute(
            update(trigger_state)
            .where(trigger_state.c.venture_id == vid, trigger_state.c.trigger_id.in_(left))
            .values(state="inactive", since=None)
        )
        self._enter(conn, row, target, actor, now, reason)
        return "acted", f"back to stage {target}"

    def _reopen(self, conn: Connection, vid: int, stage: Stage, substage: str) -> None:
        """Reopen `substage` and the ones after it in the current visit (rows already open and empty stay unwritten)."""
        ids = [s.id for s in stage.substages]
        targets = set(ids[ids.index(substage) :])
        _REOPEN.many(
            conn,
            [
                {"visit": r.visit_id, "sub": r.substage}
                for r in _CURRENT_SUBSTAGES.all(conn, {"vid": vid})
                if r.substage in targets
                and (r.status != "open" or r.items or r.completed_by is not None or r.completed_at is not None)
            ],
        )

    def _escalate(
        self, conn: Connection, row: VentureRow, role: str, reason: str, now: datetime, trig_id: str | None
    ) -> str:
        stage_id = row.stage
        n = _NEXT_ESCALATION[conn.dialect.name].scalar(conn, {"stage": stage_id})
        code = f"SD-{stage_id}-ESCALATION-{n}"
        history = self._history(conn, row.id)
        _INSERT_ESCALATION.run(
            conn,
            {
                "code": code,
                "venture_id": row.id,
                "stage": stage_id,
                "trigger_id": trig_id,
                "role": role,
                "status": "open",
                "reason": reason,
                "history": history,
                "created_at": now,
            },
        )
        self._set(conn, row, now, status="paused", status_detail={"escalation": code, "reason": reason})
        self._event(
            conn,
            row.id,
            "escalation.opened",
            SYSTEM,
            now,
            stage=stage_id,
            reason=reason,
            data={"code": code, "role": role, "trigger": trig_id},
        )
        return code

    def raised_triggers(self) -> list[RaisedTrigger]:
        """Every pending or firing trigger state with its venture's stage, in one query (the portfolio reads it).

        A state whose trigger is not a trigger of the venture's current stage is left for the caller to drop
        (it knows the pinned workflows).
        """
        query = (
            select(
                trigger_state.c.venture_id,
                ventures.c.stage,
                ventures.c.workflow_digest,
                trigger_state.c.trigger_id,
                trigger_state.c.state,
                trigger_state.c.since,
                trigger_state.c.last_fired_at,
            )
            .join(ventures, ventures.c.id == trigger_state.c.venture_id)
            .where(trigger_state.c.state.in_(("pending", "firing")), ventures.c.status.in_(("active", "blocked")))
            .order_by(trigger_state.c.venture_id, trigger_state.c.trigger_id)
        )
        with self.tx() as conn:
            return [
                RaisedTrigger(int(r[0]), int(r[1]), str(r[2]), str(r[3]), str(r[4]), r[5], r[6])
                for r in conn.execute(query)
            ]

    def trigger_status(self, ref: str | int, *, now: datetime | None = None) -> list[dict[str, Any]]:
        """Each trigger of the venture's current stage: state, since, last value and explanation, times fired."""
        now = self.when(now)
        with self.tx() as conn:
            row = self._row(conn, ref)
            wf = self.pinned(conn, row.workflow_digest).workflow
            out = []
            for trig in self._stage(wf, row.stage).triggers:
                r = conn.execute(
                    select(trigger_state).where(
                        trigger_state.c.venture_id == row.id, trigger_state.c.trigger_id == trig.id
                    )
                ).first()
                out.append(
                    {
                        "trigger": trig.id,
                        "kind": trig.kind,
                        "when": trig.when,
                        "for": trig.for_,
                        "mode": trig.mode,
                        "max": trig.max,
                        "state": r.state if r else "inactive",
                        "since": r.since.isoformat() if r and r.since else None,
                        "last_evaluated_at": r.last_evaluated_at.isoformat() if r and r.last_evaluated_at else None,
                        "last_value": r.last_value if r else None,
                        "fired": r.fired_count if r else 0,
                        "acted": r.acted_count if r else 0,
                    }
                )
            return out

    # -- hooks called by other operations ---------------------------------------------------
    def _facts_changed(self, conn: Connection, row: VentureRow, now: datetime) -> None:
        """An advance trigger that already fired but found the exit gate closed tries again now."""
        if row.status != "active":
            return
        wf = self.pinned(conn, row.workflow_digest).workflow
        stage = self._stage(wf, row.stage)
        for trig in stage.triggers:
            if trig.kind != "advance":
                continue
            state, _ = self._state(conn, row.id, trig.id)
            if state.state == "firing" and self._mode(conn, wf, row, trig) == "auto":
                self._act(conn, row, wf, trig, now, SYSTEM)
                row = self._row(conn, row.id)
                if row.status != "active" or row.stage != stage.id:
                    return

    def _after_decision(
        self, conn: Connection, approval: ApprovalRow, approved: bool, actor: Actor, now: datetime
    ) -> None:
        payload = approval.payload or {}
        trig_id = payload.get("trigger")
        if not trig_id:
            return
        row = self._row(conn, int(approval.venture_id))
        wf = self.pinned(conn, row.workflow_digest).workflow
        stage = wf.stage(int(payload.get("stage", row.stage)))
        trig = next((t for t in stage.triggers if t.id == trig_id), None) if stage else None
        if not approved or trig is None:
            self._event(conn, row.id, "trigger.rejected", actor, now, stage=row.stage, reason=str(trig_id))
            return
        if row.stage != stage.id or row.status != "active":  # type: ignore[union-attr]
            self._event(
                conn,
                row.id,
                "trigger.stale",
                actor,
                now,
                stage=row.stage,
                reason=f"{trig_id}: venture moved on before the approval",
            )
            return
        state, _ = self._state(conn, row.id, trig.id)
        if trig.kind in ("recursion", "rollback") and trig.max is not None and state.acted_count >= trig.max:
            self._escalate(conn, row, trig.role, f"{trig.id} approved past its limit {trig.max}", now, trig.id)
            return
        self._act(conn, row, wf, trig, now, actor)


def parsed_eval(
    ops: TriggerOps,
    conn: Connection,
    row: VentureRow,
    visit: Any | None,
    trig: Trigger,
    now: datetime,
    latest: Mapping[str, Sample] | None = None,
    windows: WindowReads | None = None,
) -> Explanation:
    """Evaluate a trigger's condition for a venture at `now` (`latest`: newest samples already known;
    `windows`: a batch's shared window reads)."""
    data = ops._data(conn, row, visit, now, windows)
    if latest:
        data.known_latest = latest
    return evaluate(parsed(trig.when), data, now)


def _action(trig: Trigger) -> dict[str, Any]:
    """A trigger's action as the `Fired` record shows it."""
    return trig.action.model_dump(exclude_defaults=True)


@functools.lru_cache(maxsize=4096)
def reads(condition: str) -> frozenset[str]:
    """The metrics whose samples a condition reads (cached per condition text)."""
    return references(parsed(condition)).metrics


def describe(trig: Trigger) -> str:
    """A short phrase for a trigger's action."""
    act = trig.action
    if trig.kind == "recursion":
        return f"go back to {act.go_to}"
    if trig.kind == "rollback":
        return f"roll back {', '.join(act.scope) or 'configuration'} to {act.rollback_to or 'the previous version'}"
    if trig.kind == "advance":
        return "advance to the next stage"
    return f"{act.severity} alert"


__all__ = ["BadInput", "Conflict", "Fired", "NotFound", "TriggerOps"]
