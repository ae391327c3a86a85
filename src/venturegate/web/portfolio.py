"""The portfolio view: counts by stage, status and health, one page of ventures, what waits on people.

With thousands of ventures the page aggregates (counts per stage and status) and lists one page of
ventures at a time (filtered by stage, status or health), so its size does not grow with the
portfolio; counts are grouped in the database and only one page of ventures is read.
"""

from __future__ import annotations

import threading
from collections import Counter, deque
from dataclasses import dataclass, field
from typing import Literal

from venturegate.definitions.model import Workflow
from venturegate.engine import Engine, Escalation
from venturegate.engine.approvals import ReviewedApproval
from venturegate.engine.records import Event, Venture

Health = Literal["red", "amber", "green", "grey"]
HEALTHS: tuple[Health, ...] = ("red", "amber", "green", "grey")
STATUSES = ("active", "blocked", "paused", "completed", "killed")
PAGE_SIZE = 50
LISTED = 20
"""How many pending approvals and open escalations the portfolio lists (it counts them all)."""
RECENT = 10


def health(venture: Venture, escalated: set[int], waiting: set[int], flagged: set[int]) -> tuple[Health, str]:
    """A venture's colour and why: red paused or escalated, amber blocked / awaiting approval / flagged."""
    if venture.status in ("completed", "killed"):
        return "grey", venture.status
    if venture.id in escalated:
        return "red", "open escalation"
    if venture.status == "paused":
        return "red", "paused"
    if venture.status == "blocked":
        return "amber", "entry gate not passed"
    if venture.id in waiting:
        return "amber", "awaiting approval"
    if venture.id in flagged:
        return "amber", "bypass awaiting review"
    return "green", "on track"


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
    firings: list[Event]
    names: dict[int, str]


class RecentEvents:
    """The newest events of one kind, kept up to date by reading only what came after the last one seen.

    The engine pages events oldest first, so the first read walks them all and later reads only the
    new ones. On PostgreSQL an event committed late with a lower id than one already seen is not
    shown here (it is still in the venture's timeline).
    """

    def __init__(self, kind: str, keep: int = RECENT) -> None:
        self.kind = kind
        self._last_id = 0
        self._events: deque[Event] = deque(maxlen=keep)
        self._lock = threading.Lock()

    def read(self, engine: Engine) -> list[Event]:
        """The newest events, newest first."""
        with self._lock:
            while True:
                page = engine.events(kind=self.kind, after_id=self._last_id, limit=1000)
                self._events.extend(e for e in page if e.kind == self.kind)
                if page:
                    self._last_id = page[-1].id
                if len(page) < 1000:
                    break
            return list(reversed(self._events))


_BASE: dict[str, Health] = {"completed": "grey", "killed": "grey", "paused": "red", "blocked": "amber"}
"""A venture's colour from its status alone (anything else is green), before the per-venture reasons."""


def portfolio(engine: Engine, workflow: Workflow, filters: Filters, firings: RecentEvents) -> Portfolio:
    """The portfolio: counts over every venture, one filtered page of them, what waits on people.

    Counts come from the database grouped by stage and status; only the few ventures with a reason of
    their own (an open escalation, a pending approval, an unreviewed bypass) are read one by one to move
    them to their colour. The list is one page read with `limit`/`offset`, except when it is filtered by
    health, which needs every venture's colour (a slower path: health is not a column).
    """
    pending = engine.approvals(status="pending")
    escalations = engine.escalations(status="open")
    flagged = {a.venture_id for a in engine.unreviewed_bypasses()}
    escalated = {e.venture_id for e in escalations}
    waiting = {a.venture_id for a in pending}
    titles = {s.id: s.title for s in workflow.stages}
    by_status: Counter[str] = Counter()
    by_health: Counter[str] = Counter()
    stages: dict[int, StageRow] = {}

    def stage_row(stage: int) -> StageRow:
        row = stages.get(stage)
        if row is None:
            row = stages[stage] = StageRow(stage, titles.get(stage, f"stage {stage}"))
        return row

    for (stage, status), n in engine.venture_counts().items():
        base = _BASE.get(status, "green")
        by_status[status] += n
        by_health[base] += n
        stage_row(stage).by_status[status] += n
        stage_row(stage).by_health[base] += n
    special = engine.ventures(ids=escalated | waiting | flagged)
    for v in special:
        colour, _ = health(v, escalated, waiting, flagged)
        base = _BASE.get(v.status, "green")
        if colour != base:
            by_health[base] -= 1
            by_health[colour] += 1
            stage_row(v.stage).by_health[base] -= 1
            stage_row(v.stage).by_health[colour] += 1
    first = (filters.page - 1) * PAGE_SIZE
    rows: list[VentureRow] = []
    if filters.health is None:
        page = engine.ventures(filters.stage, filters.status, limit=PAGE_SIZE, offset=first)
        rows = [VentureRow(v, titles.get(v.stage, ""), *health(v, escalated, waiting, flagged)) for v in page]
        if filters.stage is None:
            matching = by_status[filters.status] if filters.status else sum(by_status.values())
        else:
            row = stages.get(filters.stage)
            matching = 0 if row is None else (row.by_status[filters.status] if filters.status else row.total)
    else:
        matching = 0
        for v in engine.ventures(filters.stage, filters.status):
            colour, why = health(v, escalated, waiting, flagged)
            if colour == filters.health:
                if first <= matching < first + PAGE_SIZE:
                    rows.append(VentureRow(v, titles.get(v.stage, ""), colour, why))
                matching += 1
    recent = firings.read(engine)
    listed_ids = {a.venture_id for a in pending[:LISTED]} | {e.venture_id for e in escalations[:LISTED]}
    listed_ids |= {e.venture_id for e in recent if e.venture_id is not None}
    names = {v.id: v.name for v in special} | {r.venture.id: r.venture.name for r in rows}
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
    )
