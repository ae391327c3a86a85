"""Triggers: judged when their data arrives, acted on by mode, limited by retries and loop prevention."""

from __future__ import annotations

import functools
from collections.abc import Mapping
from dataclasses import replace
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Connection

from venturegate.core.conditions import Explanation, Sample, evaluate, references
from venturegate.core.durations import parse_duration
from venturegate.core.gates import parsed
from venturegate.core.jsontext import dumps, splice
from venturegate.core.triggers import FirePlan, Mode, TriggerState, counts_act, effective_mode, fire_plan, step
from venturegate.definitions.model import Trigger, Workflow
from venturegate.engine.actors import SYSTEM, Actor
from venturegate.engine.base import Batch, as_id
from venturegate.engine.escalations import Escalations
from venturegate.engine.exceptions import BadInput, Conflict, NotFound
from venturegate.engine.plumbing import Plumbing, RollbackAction
from venturegate.engine.progression import ProgressionModes
from venturegate.engine.records import Fired, RaisedTrigger
from venturegate.store import approvals as approval_requests
from venturegate.store import trigger_states, visits
from venturegate.store.approvals import ApprovalRow
from venturegate.store.prepared import RawJSON
from venturegate.store.trigger_states import (
    COUNT_ACT,
    TriggerStates,
    VentureRow,
    read_states,
    save_state,
    venture_with_states,
)
from venturegate.store.windows import WindowReads


class Triggers:
    """Trigger evaluation and actions: what the sample, approval, fact and timer paths call.

    Depends on the plumbing, the progression modes (an advance's mode, a recursion's failed run), the escalations
    (retry and loop limits) and the rollback action (the configuration layer restores a rollback trigger's scopes).
    """

    def __init__(
        self,
        plumbing: Plumbing,
        modes: ProgressionModes,
        escalations: Escalations,
        rollback: RollbackAction,
    ) -> None:
        self.plumbing = plumbing
        self.modes = modes
        self.escalations = escalations
        self.rollback = rollback

    # -- evaluation ---------------------------------------------------------------------------
    def _duration(self, conn: Connection, wf: Workflow, row: VentureRow, value: str) -> float:
        if value.startswith("config."):
            value = str(self.plumbing._effective(conn, wf, row)[value.removeprefix("config.")].value)
        return parse_duration(value)

    def evaluate(
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
        p = self.plumbing
        wf = p.pinned(conn, row.workflow_digest).workflow
        stage = p._stage(wf, row.stage)
        fired: list[Fired] = []
        moved = False
        for trig in stage.triggers:
            if only is not None and trig.id != only:
                continue
            if metrics is not None and not (reads(trig.when) & metrics):
                continue
            if moved:
                # The last action may have moved the venture: read it, its visit and trigger states again.
                row, states, moved = p._row(conn, row.id), None, False
            if row.status != "active" or row.stage != stage.id:
                break
            if states is None:
                states = self.states(conn, row.id)
            known = states.get(trig.id, (TriggerState(), False))
            result = self._judge(conn, row, wf, trig, now, known, latest, batch)
            if result is not None:
                fired.append(result)
                moved = result.outcome not in ("pending", "suppressed-cooldown", "notified")
            elif states is not None:
                states[trig.id] = (states.get(trig.id, (TriggerState(), False))[0], True)
        return fired

    def states(self, conn: Connection, vid: int) -> TriggerStates:
        """A venture's trigger states as stored (the rows that exist)."""
        return read_states(conn, vid)

    def row_with_states(
        self, conn: Connection, ref: str | int, lock: bool = False
    ) -> tuple[VentureRow, TriggerStates | None]:
        """A venture's row and trigger states in one query (`lock`: PostgreSQL locks the row); a name is resolved
        to its id first."""
        ident = as_id(str(ref))
        if ident is None:
            ident = self.plumbing._row(conn, ref).id
        found = venture_with_states(conn, ident, lock)
        if found is None:
            raise NotFound(f"no venture '{ref}'", where="venture", hint="`venturegate venture list` shows them")
        return found

    def _state(self, conn: Connection, vid: int, trig_id: str) -> tuple[TriggerState, bool]:
        return self.states(conn, vid).get(trig_id, (TriggerState(), False))

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
        p = self.plumbing
        vid = row.id
        expl = parsed_eval(p, conn, row, None, trig, now, latest, None if batch is None else batch.windows)
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
            p._schedule(conn, vid, "trigger", trig.id, result.wake_at)
        if result.suppressed:
            p._event(conn, vid, "trigger.suppressed", SYSTEM, now, stage=row.stage, reason=f"{trig.id}: cooldown")
            return Fired(trig.id, trig.kind, _action(trig), trig.mode, "suppressed-cooldown", vid)
        if plan is not None:
            p._event(
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
            p._event(
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
        return effective_mode(trig.mode, self.modes.mode(conn, wf, row.id, row.stage))

    def _fire(
        self, conn: Connection, row: VentureRow, wf: Workflow, trig: Trigger, now: datetime, acted: int, plan: FirePlan
    ) -> tuple[str, str]:
        """Carry out a firing's plan (`fire_plan`); returns (outcome, detail). `acted`: how many times the trigger
        already acted for the venture. An act the plan counts was stored with the trigger's state (`counts_act`)."""
        vid, stage_id = row.id, row.stage
        if plan == "escalate":
            code = self.escalations.open(
                conn,
                row,
                trig.role,
                f"{trig.id} fired after {acted} recursions (limit {trig.max})",
                now,
                trig.id,
            )
            return "escalated", code
        if plan == "notify":
            self.plumbing._event(
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
        p = self.plumbing
        visit = p._visit(conn, row.id)
        policy = wf.approval_policy(row.stage, trig.role)
        expires = now + timedelta(seconds=self._duration(conn, wf, row, policy.timeout))
        payload = {"trigger": trig.id, "stage": row.stage, "action": trig.action.model_dump(exclude_defaults=True)}
        aid = approval_requests.insert_request(
            conn,
            venture_id=row.id,
            visit_id=visit.id,
            stage=row.stage,
            role=trig.role,
            reason=f"{trig.id} proposes: {describe(trig)}",
            payload=payload,
            requested_by=SYSTEM.name,
            requested_at=now,
            expires_at=expires,
        )
        p._schedule(conn, row.id, "approval", str(aid), expires)
        p._event(
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
        p = self.plumbing
        vid, stage_id = row.id, row.stage
        reason = f"{trig.id}: {trig.description or trig.when}"
        if trig.kind == "alert":
            p._event(
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
            result = p._gate(conn, row, "exit", now)
            if not result.passed:
                p._event(
                    conn,
                    vid,
                    "trigger.waiting",
                    actor,
                    now,
                    stage=stage_id,
                    reason=f"{trig.id}: exit gate not passed",
                    data=p._gate_json(result),
                )
                return "pending", "exit gate not passed yet"
            p._advance_row(conn, row, actor, now, result)
            return "acted", f"advanced to {p._row(conn, vid).stage}"
        if not counted:
            self._count_act(conn, vid, trig.id)
        if trig.kind == "rollback":
            return self.rollback(conn, row, wf, trig, actor, now)
        target = trig.action.go_to
        assert target is not None
        return self.recurse(conn, row, wf, target, reason, actor, now, trig.id)

    @staticmethod
    def _count_act(conn: Connection, vid: int, trig_id: str) -> None:
        if COUNT_ACT.run(conn, {"vid": vid, "tid": trig_id}) == 0:
            save_state(
                conn,
                {"vid": vid, "tid": trig_id, "state": "inactive", "since": None, "last_fired_at": None}
                | {"fired_count": 0, "acted_count": 1, "last_evaluated_at": None, "last_value": None},
                exists=False,
            )

    def recurse(
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
        """Send the venture back to a stage or a substage of its stage, in the caller's transaction (loop prevention
        escalates instead); returns (outcome, detail)."""
        p = self.plumbing
        vid, stage_id = row.id, row.stage
        self.modes.record_failure(conn, wf, vid, stage_id)
        if isinstance(target, str):
            ids = [s.id for s in p._stage(wf, stage_id).substages]
            visits.reopen(conn, vid, ids[ids.index(target) :])
            p._set(conn, row, now)
            p._event(
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
        bounces = visits.bounces(conn, vid, target, since)
        if bounces >= loop.max_bounces:
            code = self.escalations.open(
                conn,
                row,
                loop.role,
                f"loop: stage {target} re-entered {bounces} times within {loop.window} (limit {loop.max_bounces})",
                now,
                trig_id,
            )
            return "escalated", code
        visits.close(conn, p._visit(conn, vid).id, now, "recursed")
        p._event(
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
        trigger_states.end_episodes(conn, vid, [t.id for t in p._stage(wf, stage_id).triggers])
        p._enter(conn, row, target, actor, now, reason)
        return "acted", f"back to stage {target}"

    # -- reading ------------------------------------------------------------------------------
    def raised(self) -> list[RaisedTrigger]:
        """Every pending or firing trigger state with its venture's stage, in one query (the portfolio reads it).

        A state whose trigger is not a trigger of the venture's current stage is left for the caller to drop
        (it knows the pinned workflows).
        """
        with self.plumbing.tx() as conn:
            return [RaisedTrigger(*r) for r in trigger_states.raised(conn)]

    def status(self, ref: str | int, *, now: datetime | None = None) -> list[dict[str, Any]]:
        """Each trigger of the venture's current stage: state, since, last value and explanation, times fired."""
        p = self.plumbing
        now = p.when(now)
        with p.tx() as conn:
            row = p._row(conn, ref)
            wf = p.pinned(conn, row.workflow_digest).workflow
            stored = trigger_states.shown_states(conn, row.id)
            out = []
            for trig in p._stage(wf, row.stage).triggers:
                r = stored.get(trig.id)
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

    # -- called by other operations -----------------------------------------------------------
    def facts_changed(self, conn: Connection, row: VentureRow, now: datetime) -> None:
        """Gate facts changed (substage, artifact, attestation, approval): an advance trigger that already fired but
        found the exit gate closed tries again now."""
        if row.status != "active":
            return
        p = self.plumbing
        wf = p.pinned(conn, row.workflow_digest).workflow
        stage = p._stage(wf, row.stage)
        for trig in stage.triggers:
            if trig.kind != "advance":
                continue
            state, _ = self._state(conn, row.id, trig.id)
            if state.state == "firing" and self._mode(conn, wf, row, trig) == "auto":
                self._act(conn, row, wf, trig, now, SYSTEM)
                row = p._row(conn, row.id)
                if row.status != "active" or row.stage != stage.id:
                    return

    def after_decision(
        self, conn: Connection, approval: ApprovalRow, approved: bool, actor: Actor, now: datetime
    ) -> None:
        """React to an approval decision: an assisted trigger's proposal acts when approved."""
        payload = approval.payload or {}
        trig_id = payload.get("trigger")
        if not trig_id:
            return
        p = self.plumbing
        row = p._row(conn, approval.venture_id)
        wf = p.pinned(conn, row.workflow_digest).workflow
        stage = wf.stage(int(payload.get("stage", row.stage)))
        trig = next((t for t in stage.triggers if t.id == trig_id), None) if stage else None
        if not approved or trig is None:
            p._event(conn, row.id, "trigger.rejected", actor, now, stage=row.stage, reason=str(trig_id))
            return
        if row.stage != stage.id or row.status != "active":  # type: ignore[union-attr]
            p._event(
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
            self.escalations.open(conn, row, trig.role, f"{trig.id} approved past its limit {trig.max}", now, trig.id)
            return
        self._act(conn, row, wf, trig, now, actor)


def parsed_eval(
    plumbing: Plumbing,
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
    data = plumbing._data(conn, row, visit, now, windows)
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


__all__ = ["BadInput", "Conflict", "Fired", "NotFound", "Triggers"]
