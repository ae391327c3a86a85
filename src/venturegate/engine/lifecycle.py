"""Venture lifecycle operations: creation, stages, substages, attestations, gates, status."""

from __future__ import annotations

from collections.abc import Collection
from datetime import datetime

from venturegate.core.gates import GateName, GateResult, evaluate_checks
from venturegate.core.settings import level_key, metric_levels
from venturegate.definitions.model import SEGMENTS, AttestCheck
from venturegate.engine.actors import SYSTEM, Actor
from venturegate.engine.base import event_record
from venturegate.engine.exceptions import BadInput, Conflict, GateNotPassed, NotFound
from venturegate.engine.facts import gate_facts
from venturegate.engine.plumbing import Plumbing
from venturegate.engine.records import (
    Event,
    LevelSource,
    LevelVerdict,
    MetricLevel,
    SamplePoint,
    StoredSample,
    SubstageState,
    Venture,
    Visit,
)
from venturegate.engine.triggers import Triggers
from venturegate.store import samples as sample_store
from venturegate.store import visits as visit_store
from venturegate.store.events import events_after
from venturegate.store.ventures import insert_venture, venture_counts, venture_rows


class Lifecycle:
    """Venture lifecycle operations (creation, stages, substages, attestations, gates, status): the engine's
    `lifecycle` component.

    Depends on the plumbing and the triggers (a completed substage, an attestation or a status change is a fact).
    """

    def __init__(self, plumbing: Plumbing, triggers: Triggers) -> None:
        self.plumbing = plumbing
        self.triggers = triggers

    def create_venture(
        self,
        name: str,
        segment: str,
        stage: int = 1,
        *,
        actor: Actor = SYSTEM,
        now: datetime | None = None,
    ) -> Venture:
        """Create a venture pinned to the current workflow and enter its start stage."""
        now = self.plumbing.when(now)
        name = name.strip()
        if not name or len(name) > 200:
            raise BadInput("a venture name needs 1–200 characters", where="name")
        if segment not in SEGMENTS:
            raise BadInput(
                f"unknown segment '{segment}'",
                where="--segment",
                hint="one of " + ", ".join(SEGMENTS),
            )
        if name.isascii() and name.isdigit():
            raise BadInput("a venture name cannot be only digits (digits name a venture by id)", where="name")
        self.plumbing._stage(self.plumbing.workflow.workflow, stage)
        with self.plumbing.tx() as conn:
            if self.plumbing._find(conn, name) is not None:
                raise Conflict(
                    f"a venture named '{name}' already exists",
                    hint="pick another name; `venturegate venture show NAME` shows the existing one",
                )
            self.plumbing._pin_current(conn, now)
            row = insert_venture(conn, name, segment, self.plumbing.workflow.digest, stage, now)
            self.plumbing._event(
                conn,
                row,
                "venture.created",
                actor,
                now,
                data={
                    "segment": segment,
                    "workflow": self.plumbing.workflow.version,
                    "digest": self.plumbing.workflow.digest,
                },
            )
            return self.plumbing._venture(
                self.plumbing._enter(conn, row, stage, actor, now, "venture created", created=True)
            )

    def venture(self, ref: str | int) -> Venture:
        """A venture by id or name."""
        with self.plumbing.tx() as conn:
            return self.plumbing._venture(self.plumbing._row(conn, ref))

    def ventures(
        self,
        stage: int | None = None,
        status: str | None = None,
        *,
        ids: Collection[int] | None = None,
        statuses: Collection[str] | None = None,
        exclude: Collection[int] = (),
        limit: int | None = None,
        offset: int = 0,
    ) -> list[Venture]:
        """Ventures by id, optionally filtered (by stage, status, ids or ids to leave out) and paged."""
        if (limit is not None and limit < 0) or offset < 0:
            raise BadInput("limit and offset must not be negative", where="limit")
        with self.plumbing.tx() as conn:
            rows = venture_rows(
                conn,
                stage=stage,
                status=status,
                ids=ids,
                statuses=statuses,
                exclude=exclude,
                limit=limit,
                offset=offset,
            )
            return [self.plumbing._venture(r) for r in rows]

    def venture_counts(self) -> dict[tuple[int, str], int]:
        """How many ventures are at each (stage, status), counted in the database."""
        with self.plumbing.tx() as conn:
            return venture_counts(conn)

    def samples(
        self, ref: str | int, metric: str, *, since: datetime, until: datetime, limit: int = 500
    ) -> list[SamplePoint]:
        """A metric's samples for a venture with since < at <= until, oldest first (the newest `limit`)."""
        if limit < 1:
            raise BadInput("limit must be at least 1", where="limit")
        since, until = self.plumbing.when(since), self.plumbing.when(until)
        with self.plumbing.tx() as conn:
            rows = sample_store.sample_values(conn, self.plumbing._row(conn, ref).id, metric, since, until, limit)
        return [SamplePoint(r.at, r.value) for r in reversed(rows)]

    def stored_samples(
        self,
        ref: str | int,
        metric: str | None = None,
        *,
        since: datetime | None = None,
        key: str | None = None,
        limit: int = 100,
    ) -> list[StoredSample]:
        """A venture's stored samples, newest first: of one metric, after `since`, or the one with `key`."""
        if limit < 1:
            raise BadInput("limit must be at least 1", where="limit")
        with self.plumbing.tx() as conn:
            vid = self.plumbing._row(conn, ref).id
            after = None if since is None else self.plumbing.when(since)
            rows = sample_store.sample_rows(conn, vid, metric, after, key, limit)
        return [StoredSample(r.id, r.metric, r.value, r.at, r.sample_key, r.actor, r.recorded_at) for r in rows]

    def levels(self, ref: str | int) -> list[MetricLevel]:
        """Each metric of the venture's current stage: its levels (definition → segment → venture override),
        the latest sample and its verdict against the threshold — what gates, triggers and charts read."""
        with self.plumbing.tx() as conn:
            row = self.plumbing._row(conn, ref)
            stage = self.plumbing.pinned(conn, row.workflow_digest).workflow.stage(row.stage)
            overrides = self.plumbing._config_overrides(conn, row)
            out = []
            for name, metric in (stage.metrics if stage else {}).items():
                lv = metric_levels(name, metric, row.segment, overrides)
                source: LevelSource = "default"
                if level_key(name, "threshold") in overrides:
                    source = "venture"
                elif metric.levels_for(row.segment).threshold != metric.threshold:
                    source = "segment"
                latest = sample_store.latest_value(conn, row.id, name)
                value = None if latest is None else latest.value
                verdict: LevelVerdict = "no data" if value is None else "no threshold"
                if value is not None and lv.threshold is not None:
                    ok = value >= lv.threshold if metric.direction == "higher_is_better" else value <= lv.threshold
                    verdict = "meets threshold" if ok else "past threshold"
                out.append(
                    MetricLevel(
                        name,
                        metric.title or name,
                        metric.unit,
                        metric.direction,
                        lv.target,
                        lv.threshold,
                        lv.alert,
                        source,
                        value,
                        None if latest is None else latest.at,
                        verdict,
                    )
                )
            return out

    def visits(self, ref: str | int) -> list[Visit]:
        """Every stage visit of a venture, oldest first."""
        with self.plumbing.tx() as conn:
            row = self.plumbing._row(conn, ref)
            rows = visit_store.visit_rows(conn, row.id)
            return [Visit(r.id, r.stage, r.attempt, r.entered_at, r.exited_at, r.reason, r.outcome) for r in rows]

    def substages(self, ref: str | int) -> list[SubstageState]:
        """The substages of the venture's current visit."""
        with self.plumbing.tx() as conn:
            row = self.plumbing._row(conn, ref)
            wf = self.plumbing.pinned(conn, row.workflow_digest).workflow
            visit = self.plumbing._visit(conn, row.id)
            state = {r.substage: r for r in visit_store.substage_rows(conn, visit.id)}
            out = []
            for sub in self.plumbing._stage(wf, row.stage).substages:
                r = state.get(sub.id)
                out.append(
                    SubstageState(
                        sub.id,
                        sub.title,
                        r.status if r else "open",
                        list(r.items) if r else [],
                        r.completed_by if r else None,
                        r.completed_at if r else None,
                    )
                )
            return out

    def check_gate(self, ref: str | int, gate: GateName = "exit", *, now: datetime | None = None) -> GateResult:
        """Judge the current stage's entry or exit gate, check by check."""
        now = self.plumbing.when(now)
        with self.plumbing.tx() as conn:
            return self.plumbing._gate(conn, self.plumbing._row(conn, ref), gate, now)

    def advance(
        self,
        ref: str | int,
        *,
        actor: Actor,
        now: datetime | None = None,
        expected_stage: int | None = None,
    ) -> Venture:
        """Leave the current stage when its exit gate passes and enter the next one."""
        now = self.plumbing.when(now)
        with self.plumbing.tx() as conn:
            row = self.plumbing._row(conn, ref, lock=True)
            if expected_stage is not None and row.stage != expected_stage:
                raise Conflict(
                    f"venture '{row.name}' is at stage {row.stage}, not {expected_stage}; it was advanced meanwhile"
                )
            if row.status != "active":
                detail = " (its entry gate has not passed)" if row.status == "blocked" else ""
                raise Conflict(f"venture '{row.name}' is {row.status}{detail}; only an active venture advances")
            result = self.plumbing._gate(conn, row, "exit", now)
            if not result.passed:
                raise GateNotPassed(result)
            self.plumbing._advance_row(conn, row, actor, now, result)
            return self.plumbing._venture(self.plumbing._row(conn, row.id))

    def complete_substage(
        self,
        ref: str | int,
        substage: str,
        *,
        actor: Actor,
        items: list[str] | None = None,
        now: datetime | None = None,
    ) -> SubstageState:
        """Complete a substage of the current stage, attesting its done-when items (all of them by default)."""
        now = self.plumbing.when(now)
        with self.plumbing.tx() as conn:
            row = self.plumbing._row(conn, ref, lock=True)
            if row.status != "active":
                raise Conflict(f"venture '{row.name}' is {row.status}; substages can be completed only while active")
            wf = self.plumbing.pinned(conn, row.workflow_digest).workflow
            stage = self.plumbing._stage(wf, row.stage)
            sub = stage.substage(substage)
            if sub is None:
                raise NotFound(
                    f"substage '{substage}' is not part of stage {stage.id}",
                    where="SUBSTAGE",
                    hint="substages: " + ", ".join(s.id for s in stage.substages),
                )
            given = list(sub.done_when) if items is None else items
            unknown = [i for i in given if i not in sub.done_when]
            missing = [i for i in sub.done_when if i not in given]
            if unknown or missing:
                raise BadInput(
                    "done-when items do not match"
                    + (f"; unknown: {unknown}" if unknown else "")
                    + (f"; not attested: {missing}" if missing else ""),
                    where=substage,
                    hint="items: " + "; ".join(sub.done_when),
                )
            visit = self.plumbing._visit(conn, row.id)
            state = visit_store.substage(conn, visit.id, substage)
            if state.status == "done":
                raise Conflict(f"substage {substage} is already complete (by {state.completed_by})")
            if sub.entry:
                facts = gate_facts(conn, self.plumbing._data(conn, row, visit, now), visit.id)
                checks = evaluate_checks(sub.entry, facts, now)
                if any(c.verdict != "pass" for c in checks):
                    raise GateNotPassed(GateResult(stage.id, f"substage {substage} entry", checks))
            visit_store.set_substage(conn, visit.id, substage, "done", given, actor.name, now)
            self.plumbing._set(conn, row, now)
            self.plumbing._event(
                conn,
                row,
                "substage.completed",
                actor,
                now,
                stage=stage.id,
                substage=substage,
                data={"items": given},
            )
            self.triggers.facts_changed(conn, self.plumbing._row(conn, row.id), now)
            return SubstageState(sub.id, sub.title, "done", given, actor.name, now)

    def reopen_substages(
        self,
        ref: str | int,
        substages: list[str],
        *,
        actor: Actor,
        reason: str,
        now: datetime | None = None,
    ) -> list[SubstageState]:
        """Re-open completed substages of the current stage (to measure again), each with a `substage.reopened` event.

        Substages that are open already are left as they are; the result lists the ones re-opened.
        """
        now = self.plumbing.when(now)
        if not reason.strip():
            raise BadInput("say why the substages are re-opened", where="--reason", hint="e.g. the provider fixed it")
        if not substages:
            raise BadInput("name at least one substage", where="SUBSTAGE", hint="e.g. 19.1")
        with self.plumbing.tx() as conn:
            row = self.plumbing._row(conn, ref, lock=True)
            if row.status != "active":
                raise Conflict(f"venture '{row.name}' is {row.status}; substages can be re-opened only while active")
            stage = self.plumbing._stage(self.plumbing.pinned(conn, row.workflow_digest).workflow, row.stage)
            unknown = [s for s in substages if stage.substage(s) is None]
            if unknown:
                raise NotFound(
                    f"substage {', '.join(unknown)} is not part of stage {stage.id}",
                    where="SUBSTAGE",
                    hint="substages: " + ", ".join(s.id for s in stage.substages),
                )
            visit = self.plumbing._visit(conn, row.id)
            done = visit_store.done_substages(conn, visit.id)
            reopened = [s for s in dict.fromkeys(substages) if s in done]
            for sub_id in reopened:
                visit_store.set_substage(conn, visit.id, sub_id, "open", [], None, None)
                self.plumbing._event(
                    conn, row, "substage.reopened", actor, now, stage=stage.id, substage=sub_id, reason=reason
                )
            if reopened:
                self.plumbing._set(conn, row, now)
                self.triggers.facts_changed(conn, self.plumbing._row(conn, row.id), now)
            subs = {s.id: s for s in stage.substages}
            return [SubstageState(s, subs[s].title, "open", [], None, None) for s in reopened]

    def attest(self, ref: str | int, criterion: str, *, actor: Actor, now: datetime | None = None) -> None:
        """Attest a written gate criterion of the current stage."""
        now = self.plumbing.when(now)
        with self.plumbing.tx() as conn:
            row = self.plumbing._row(conn, ref, lock=True)
            if row.status in ("killed", "completed"):
                raise Conflict(f"venture '{row.name}' is {row.status}")
            wf = self.plumbing.pinned(conn, row.workflow_digest).workflow
            stage = self.plumbing._stage(wf, row.stage)
            written = (*stage.gates.entry, *stage.gates.exit, *(c for sub in stage.substages for c in sub.entry))
            checks = [c for c in written if isinstance(c, AttestCheck)]
            match = next((c for c in checks if c.attest == criterion), None)
            if match is None:
                listed = "; ".join(f'"{c.attest}"' for c in checks) or "none"
                raise NotFound(
                    f'stage {stage.id} has no written criterion "{criterion}"',
                    where="criterion",
                    hint=f"criteria: {listed}",
                )
            if match.role is not None and actor.role != match.role:
                raise BadInput(f'only a {match.role} may attest "{criterion}"', where="--as")
            if actor.kind != "human":
                raise BadInput("attestations are made by people, not agents", where="--as")
            visit = self.plumbing._visit(conn, row.id)
            if visit_store.attest(conn, visit.id, criterion, actor.name, now):
                self.plumbing._set(conn, row, now)
                self.plumbing._event(
                    conn,
                    row,
                    "criterion.attested",
                    actor,
                    now,
                    stage=stage.id,
                    reason=criterion,
                )
                self.plumbing._recheck_entry(conn, self.plumbing._row(conn, row.id), actor, now)
                self.triggers.facts_changed(conn, self.plumbing._row(conn, row.id), now)

    def _status(
        self,
        ref: str | int,
        actor: Actor,
        now: datetime | None,
        allowed: tuple[str, ...],
        kind: str,
        reason: str,
        new: str | None,
    ) -> Venture:
        now = self.plumbing.when(now)
        with self.plumbing.tx() as conn:
            row = self.plumbing._row(conn, ref, lock=True)
            if row.status not in allowed:
                raise Conflict(f"venture '{row.name}' is {row.status}; cannot {kind.split('.')[1]} it")
            if new is not None:
                self.plumbing._set(conn, row, now, status=new, status_detail={"reason": reason} if reason else None)
            else:
                self.plumbing._set(conn, row, now, status="active", status_detail=None)
            self.plumbing._event(conn, row, kind, actor, now, reason=reason)
            if new is None:
                self.plumbing._recheck_entry(conn, self.plumbing._row(conn, row.id), actor, now, entering=True)
            return self.plumbing._venture(self.plumbing._row(conn, row.id))

    def pause(self, ref: str | int, *, actor: Actor, reason: str = "", now: datetime | None = None) -> Venture:
        """Pause a venture: nothing advances it until it is resumed."""
        return self._status(ref, actor, now, ("active", "blocked"), "venture.paused", reason, "paused")

    def resume(self, ref: str | int, *, actor: Actor, reason: str = "", now: datetime | None = None) -> Venture:
        """Resume a paused venture (its entry gate is judged again)."""
        return self._status(ref, actor, now, ("paused",), "venture.resumed", reason, None)

    def kill(self, ref: str | int, *, actor: Actor, reason: str = "", now: datetime | None = None) -> Venture:
        """Stop a venture for good."""
        return self._status(ref, actor, now, ("active", "blocked", "paused"), "venture.killed", reason, "killed")

    def events(
        self,
        ref: str | int | None = None,
        *,
        kind: str | None = None,
        after_id: int = 0,
        limit: int = 100,
    ) -> list[Event]:
        """Events, oldest first, optionally for one venture and of one kind (prefix match)."""
        with self.plumbing.tx() as conn:
            vid = None if ref is None else self.plumbing._row(conn, ref).id
            return [event_record(r) for r in events_after(conn, after_id, max(1, min(limit, 10_000)), vid, kind)]
