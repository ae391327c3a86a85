"""The venture view: stage and substage progress, the gate's explanation, charts, timeline, approvals, config, jobs."""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Literal

from venturegate.core.gates import GateResult
from venturegate.crews.registry import crews_serving
from venturegate.definitions.model import Stage, Workflow
from venturegate.engine import Engine, Escalation
from venturegate.engine.approvals import ReviewedApproval
from venturegate.engine.configuration import ConfigChange, Snapshot
from venturegate.engine.jobs import Job
from venturegate.engine.records import Event, SubstageState, Venture, Visit
from venturegate.web._series import metric_series
from venturegate.web.auth import WebUser

CHART_TABLE = 10
"""How many of a chart's newest points its text table lists (what a browser without JavaScript shows)."""
TIMELINE = 50
"""How many of the newest events the timeline shows."""
HISTORY_VERSIONS = 20
"""How many configuration versions the history lists."""
RECENT_JOBS = 5
"""How many of the venture's newest crew jobs the page lists."""


@dataclass(frozen=True)
class StageStep:
    """One stage of the workflow as this venture has lived it."""

    id: int
    title: str
    state: Literal["done", "current", "todo"]
    attempts: int


@dataclass(frozen=True)
class Chart:
    """One metric's chart: its samples and its levels for the venture's segment."""

    metric: str
    title: str
    unit: str
    direction: str
    target: float | None
    threshold: float | None
    alert: float | None
    points: list[tuple[float, float]]

    def past(self, value: float) -> bool:
        """Whether a value is on the wrong side of the threshold."""
        if self.threshold is None:
            return False
        return value < self.threshold if self.direction == "higher_is_better" else value > self.threshold

    def table(self) -> list[tuple[datetime, float, bool]]:
        """The newest points, newest first, as (time, value, past the threshold)."""
        return [(datetime.fromtimestamp(x, UTC), y, self.past(y)) for x, y in reversed(self.points[-CHART_TABLE:])]

    def spec(self) -> dict[str, Any]:
        """What the page's chart script draws (JSON)."""
        return {
            "metric": self.metric,
            "unit": self.unit,
            "x": [p[0] for p in self.points],
            "y": [p[1] for p in self.points],
            "past": [self.past(p[1]) for p in self.points],
            "levels": {"target": self.target, "threshold": self.threshold, "alert": self.alert},
        }


@dataclass(frozen=True)
class ConfigVersion:
    """One configuration version: the keys it changed."""

    version: int
    at: datetime
    actor: str
    reason: str
    changes: list[ConfigChange]


@dataclass(frozen=True)
class VentureView:
    """Everything the venture page shows."""

    venture: Venture
    stage: Stage | None
    steps: list[StageStep]
    substages: list[SubstageState]
    gate: GateResult
    entry_gate: GateResult | None
    charts: list[Chart]
    events: list[Event]
    approvals: list[ReviewedApproval]
    triggers: list[dict[str, Any]]
    history: list[ConfigVersion]
    snapshots: list[Snapshot]
    current_version: int | None
    crews: list[str]
    """Entry-point names of the crews serving the venture's current stage."""
    jobs: list[Job]
    """The venture's newest crew jobs, newest first."""
    escalations: list[Escalation]
    """The venture's open escalations (a paused venture shows them at the top)."""
    resume_targets: list[str]
    """Where an escalation can resume the venture: its stage's substages, the stage, earlier stages."""

    def can_decide(self, user: WebUser, approval: ReviewedApproval) -> bool:
        """Whether `user` may approve or reject this approval: its own role, holding `decide_approvals`, and
        the venture is not paused (a decision cannot move a paused venture)."""
        return (
            approval.status == "pending"
            and self.venture.status != "paused"
            and user.role == approval.role
            and user.may("decide_approvals")
        )

    def can_resolve(self, user: WebUser, escalation: Escalation) -> bool:
        """Whether `user` may resolve the escalation: `resolve_escalations`, and its role or the Chairman."""
        return user.may("resolve_escalations") and user.role in (escalation.role, "chairman")

    @property
    def busy_job(self) -> Job | None:
        """The queued or running job of the current stage, if any (only one runs at a time)."""
        return next((j for j in self.jobs if not j.final and j.stage == self.venture.stage), None)

    def can_run_crew(self, user: WebUser) -> bool:
        """Whether `user` may start a crew now: `run_crews`, an active venture, a crew serving its stage."""
        return bool(self.crews) and self.venture.status == "active" and user.may("run_crews")


def venture_workflow(engine: Engine, venture: Venture) -> Workflow:
    """The workflow version the venture is pinned to."""
    if venture.workflow_digest == engine.workflow.digest:
        return engine.workflow.workflow
    with engine.tx() as conn:
        return engine.pinned(conn, venture.workflow_digest).workflow


def _steps(workflow: Workflow, venture: Venture, visits: list[Visit]) -> list[StageStep]:
    attempts: dict[int, int] = {}
    for v in visits:
        attempts[v.stage] = max(attempts.get(v.stage, 0), v.attempt)
    ids = [s.id for s in workflow.stages]
    current = ids.index(venture.stage) if venture.stage in ids else -1
    steps = []
    for i, st in enumerate(workflow.stages):
        if st.id == venture.stage and venture.status != "completed":
            state: Literal["done", "current", "todo"] = "current"
        elif i < current or (venture.status == "completed" and i <= current) or st.id in attempts:
            state = "done"
        else:
            state = "todo"
        steps.append(StageStep(st.id, st.title, state, attempts.get(st.id, 0)))
    return steps


def charts(engine: Engine, venture: Venture, workflow: Workflow, stage: Stage | None, since: datetime) -> list[Chart]:
    """A chart per metric of the venture's current stage, with its segment's levels.

    The window follows the data: each chart draws the metric's newest samples up to now (`MAX_POINTS`),
    backfilled ones and ones from before the stage's entry included, since the gate reads them too.
    `since` is kept for callers that page the timeline; the charts no longer cut at it.
    """
    if stage is None:
        return []
    now = engine.when(None)
    start = datetime(1970, 1, 1, tzinfo=UTC)
    resolved = {lv.metric: lv for lv in engine.levels(venture.id)}  # the levels the gate and triggers read
    out = []
    for name, metric in stage.metrics.items():
        levels = resolved.get(name) or metric.levels_for(venture.segment)
        out.append(
            Chart(
                name,
                metric.title or name,
                metric.unit,
                metric.direction,
                levels.target,
                levels.threshold,
                levels.alert,
                metric_series(engine, venture, name, start, now),
            )
        )
    return out


def newest_events(engine: Engine, venture_id: int, n: int) -> list[Event]:
    """The venture's newest `n` events, newest first (the engine pages them oldest first)."""
    kept: deque[Event] = deque(maxlen=n)
    after = 0
    while True:
        page = engine.events(venture_id, after_id=after, limit=1000)
        kept.extend(page)
        if len(page) < 1000:
            return list(reversed(kept))
        after = page[-1].id


def _history(changes: list[ConfigChange]) -> list[ConfigVersion]:
    versions: dict[int, list[ConfigChange]] = {}
    for c in changes:
        versions.setdefault(c.version, []).append(c)
    return [
        ConfigVersion(v, cs[0].at, cs[0].actor, cs[0].reason, cs)
        for v, cs in sorted(versions.items(), reverse=True)[:HISTORY_VERSIONS]
    ]


def venture_view(engine: Engine, ref: str) -> VentureView:
    """Read everything the venture page shows (raises the engine's NotFound for an unknown venture)."""
    venture = engine.venture(ref)
    workflow = venture_workflow(engine, venture)
    stage = workflow.stage(venture.stage)
    visits = engine.visits(venture.id)
    entered = visits[-1].entered_at if visits else venture.created_at
    history = _history(engine.config_history(venture.id))
    live = venture.status in ("active", "blocked", "paused")
    return VentureView(
        venture=venture,
        stage=stage,
        steps=_steps(workflow, venture, visits),
        substages=engine.substages(venture.id),
        gate=engine.check_gate(venture.id, "exit"),
        entry_gate=engine.check_gate(venture.id, "entry") if venture.status == "blocked" else None,
        charts=charts(engine, venture, workflow, stage, entered),
        events=newest_events(engine, venture.id, TIMELINE),
        approvals=engine.approvals(venture.id)[:20],
        triggers=engine.trigger_status(venture.id) if live else [],
        history=history,
        snapshots=engine.snapshots(venture.id)[:20],
        current_version=history[0].version if history else None,
        crews=crews_serving(venture.stage),
        jobs=engine.jobs(venture.id, limit=RECENT_JOBS),
        escalations=engine.escalations(status="open", ref=venture.id),
        resume_targets=_resume_targets(workflow, stage),
    )


def _resume_targets(workflow: Workflow, stage: Stage | None) -> list[str]:
    """The current stage's substages, then the stage itself and the earlier stages, nearest first."""
    if stage is None:
        return []
    earlier = [str(s.id) for s in workflow.stages if s.id < stage.id]
    return [sub.id for sub in stage.substages] + [str(stage.id)] + list(reversed(earlier))
