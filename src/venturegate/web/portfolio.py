"""The portfolio view: counts by stage, status and health, one page of ventures, what waits on people.

With thousands of ventures the page aggregates (counts per stage and status) and lists one page of
ventures at a time (filtered by stage, status or health), so its size does not grow with the
portfolio; counts are grouped in the database and only one page of ventures is read.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

from venturegate.definitions.model import Workflow
from venturegate.engine import Engine, Escalation
from venturegate.engine.approvals import ReviewedApproval
from venturegate.engine.records import Venture
from venturegate.web.firings import Firing, RecentFirings
from venturegate.web.health import HEALTHS, SEVERITY, Health, RaisedState, Signals, derive

__all__ = ["HEALTHS", "LIVE", "STATUSES", "Filters", "Portfolio", "RecentFirings", "portfolio"]

STATUSES = ("active", "blocked", "paused", "completed", "killed")
LIVE = ("active", "blocked", "paused")
PAGE_SIZE = 50
LISTED = 20
"""How many pending approvals and open escalations the portfolio lists (it counts them all)."""
JUDGE_ALL = 400
"""Up to this many live ventures, every one's exit gate is judged on each view (about 0.7 ms each); above it
only the ventures flagged by cheaper signals are read one by one and the others count as on track."""


@dataclass(frozen=True)
class VentureRow:
    """One venture in the list."""

    venture: Venture
    stage_title: str
    health: Health
    why: str


@dataclass
class StageRow:
    """One stage's counts."""

    stage: int
    title: str
    by_status: Counter[str] = field(default_factory=Counter)
    by_health: Counter[str] = field(default_factory=Counter)

    @property
    def total(self) -> int:
        """Ventures at this stage."""
        return sum(self.by_status.values())


@dataclass(frozen=True)
class Filters:
    """What the venture list is narrowed to, and which page."""

    stage: int | None = None
    status: str | None = None
    health: str | None = None
    page: int = 1

    def query(self, page: int | None = None) -> str:
        """The query string for these filters at `page`."""
        parts = [f"{k}={v}" for k, v in (("stage", self.stage), ("status", self.status), ("health", self.health)) if v]
        parts.append(f"page={page if page is not None else self.page}")
        return "&".join(parts)


@dataclass(frozen=True)
class Portfolio:
    """Everything the portfolio page shows."""

    total: int
    by_status: Counter[str]
    by_health: Counter[str]
    stages: list[StageRow]
    rows: list[VentureRow]
    matching: int
    filters: Filters
    pages: int
    pending: list[ReviewedApproval]
    pending_total: int
    escalations: list[Escalation]
    escalations_total: int
    firings: list[Firing]
    names: dict[int, str]
    gates_judged: bool
    """Whether every live venture's exit gate was judged (false above `JUDGE_ALL` live ventures)."""


def _raised(engine: Engine, workflow: Workflow) -> dict[int, list[RaisedState]]:
    """Per venture, the pending and firing triggers of its current stage."""
    out: dict[int, list[RaisedState]] = {}
    pinned: dict[str, Workflow] = {engine.workflow.digest: workflow}
    for r in engine.raised_triggers():
        wf = pinned.get(r.workflow_digest)
        if wf is None:
            with engine.tx() as conn:
                wf = pinned[r.workflow_digest] = engine.pinned(conn, r.workflow_digest).workflow
        stage = wf.stage(r.stage)
        trig = next((t for t in stage.triggers if t.id == r.trigger_id), None) if stage else None
        if trig is not None:
            out.setdefault(r.venture_id, []).append(RaisedState(trig, r.state, r.since, r.last_fired_at))
    return out


def _statuses(filters: Filters, tail_healths: set[Health]) -> list[str]:
    """The statuses the unjudged tail of the list may hold under the filters."""
    allowed = [filters.status] if filters.status else list(STATUSES)
    if filters.health is not None:
        if filters.health not in tail_healths:
            return []
        allowed = [st for st in allowed if (st in LIVE) == (filters.health == "green")]
    return allowed


def portfolio(engine: Engine, workflow: Workflow, filters: Filters, firings: RecentFirings) -> Portfolio:
    """The portfolio: counts over every venture, one filtered page of them with stuck ones first, what waits.

    Counts by stage and status come from the database. A venture's health comes from its status, open
    escalation, approvals and bypass reviews waiting, its current stage's pending and firing triggers
    and its exit gate (failing metrics, stale data) — see `health.derive`. Up to `JUDGE_ALL` live
    ventures every one is judged; above it, only those flagged by the cheaper signals (and the paused and
    blocked ones), and the rest count as on track without their gate judged. Judged ventures are listed
    first, most stuck first; the others follow by id, one page read with `limit`/`offset`.
    """
    pending = engine.approvals(status="pending")
    escalations = engine.escalations(status="open")
    bypassed = {a.venture_id for a in engine.unreviewed_bypasses()}
    raised = _raised(engine, workflow)
    counts = engine.venture_counts()
    live_total = sum(n for (_, status), n in counts.items() if status in LIVE)
    judge_all = live_total <= JUDGE_ALL
    escalation_of: dict[int, Escalation] = {}
    for e in escalations:
        escalation_of.setdefault(e.venture_id, e)
    waiting: dict[int, list[str]] = {}
    for a in pending:
        waiting.setdefault(a.venture_id, []).append(a.role)
    titles = {s.id: s.title for s in workflow.stages}
    if judge_all:
        candidates = [v for status in LIVE for v in engine.ventures(status=status)]
    else:
        flagged = set(escalation_of) | set(waiting) | bypassed | set(raised)
        by_id = {v.id: v for v in engine.ventures(ids=flagged)}
        by_id |= {v.id: v for status in ("paused", "blocked") for v in engine.ventures(status=status)}
        candidates = [v for v in by_id.values() if v.status in LIVE]
    judged: list[VentureRow] = []
    for v in candidates:
        signals = Signals(
            v,
            escalation_of.get(v.id),
            sorted(set(waiting.get(v.id, []))),
            v.id in bypassed,
            raised.get(v.id, []),
            engine.check_gate(v.id, "exit") if judge_all and v.status != "paused" else None,
        )
        judged.append(VentureRow(v, titles.get(v.stage, ""), *derive(signals)))
    judged.sort(key=lambda r: (SEVERITY[r.health], r.venture.id))
    judged_ids = {r.venture.id for r in judged}

    by_status: Counter[str] = Counter()
    by_health: Counter[str] = Counter()
    stages: dict[int, StageRow] = {}

    def stage_row(stage: int) -> StageRow:
        row = stages.get(stage)
        if row is None:
            row = stages[stage] = StageRow(stage, titles.get(stage, f"stage {stage}"))
        return row

    for (stage, status), n in counts.items():
        colour: Health = "grey" if status not in LIVE else "green"
        by_status[status] += n
        by_health[colour] += n
        stage_row(stage).by_status[status] += n
        stage_row(stage).by_health[colour] += n
    for r in judged:  # counted green above; move to their colour
        by_health["green"] -= 1
        by_health[r.health] += 1
        stage_row(r.venture.stage).by_health["green"] -= 1
        stage_row(r.venture.stage).by_health[r.health] += 1

    def matches(r: VentureRow) -> bool:
        return (
            (filters.stage is None or r.venture.stage == filters.stage)
            and (filters.status is None or r.venture.status == filters.status)
            and (filters.health is None or r.health == filters.health)
        )

    head = [r for r in judged if matches(r)]
    tail_healths: set[Health] = {"grey"} if judge_all else {"grey", "green"}
    statuses = _statuses(filters, tail_healths)
    tail_total = sum(
        n for (stage, status), n in counts.items() if status in statuses and filters.stage in (None, stage)
    )
    tail_total -= sum(1 for r in judged if r.venture.status in statuses and filters.stage in (None, r.venture.stage))
    first = (filters.page - 1) * PAGE_SIZE
    rows = head[first : first + PAGE_SIZE]
    if len(rows) < PAGE_SIZE and statuses and tail_total > 0:
        offset = max(0, first - len(head))
        exclude = judged_ids if any(st in LIVE for st in statuses) else set()
        for v in engine.ventures(
            filters.stage, statuses=statuses, exclude=exclude, limit=PAGE_SIZE - len(rows), offset=offset
        ):
            colour, why = derive(Signals(v))
            rows.append(VentureRow(v, titles.get(v.stage, ""), colour, why))
    matching = len(head) + max(0, tail_total)
    recent = firings.read(engine, workflow)
    listed_ids = {a.venture_id for a in pending[:LISTED]} | {e.venture_id for e in escalations[:LISTED]}
    listed_ids |= {f.venture_id for f in recent if f.venture_id is not None}
    names = {r.venture.id: r.venture.name for r in judged} | {r.venture.id: r.venture.name for r in rows}
    missing = listed_ids - set(names)
    if missing:
        names |= {v.id: v.name for v in engine.ventures(ids=missing)}
    return Portfolio(
        total=sum(by_status.values()),
        by_status=by_status,
        by_health=+by_health,
        stages=[stages[k] for k in sorted(stages)],
        rows=rows,
        matching=matching,
        filters=filters,
        pages=max(1, -(-matching // PAGE_SIZE)),
        pending=pending[:LISTED],
        pending_total=len(pending),
        escalations=escalations[:LISTED],
        escalations_total=len(escalations),
        firings=recent,
        names=names,
        gates_judged=judge_all,
    )
