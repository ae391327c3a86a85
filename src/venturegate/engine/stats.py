"""Automation and speed figures per stage, computed from the event log and stage visits."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from typing import Any

from venturegate.engine.plumbing import Plumbing
from venturegate.engine.records import _Record
from venturegate.store import escalations, stage_modes
from venturegate.store.stats import VisitSpan, visit_spans, work_events

AUTOMATABLE = ("substage.completed", "stage.exited", "venture.advanced")
"""Event kinds that count as work: done by an agent or the system, they count as automated."""


@dataclass(frozen=True)
class StageStats(_Record):
    """One stage's figures."""

    stage: int
    mode: str
    visits: int
    completed_visits: int
    automation_level: float | None
    mean_execution_hours: float | None
    recursions: int
    recursion_rate: float | None
    escalations: int


class Stats:
    """Reading the figures."""

    def __init__(self, plumbing: Plumbing) -> None:
        self.plumbing = plumbing

    def stats(self, stage: int | None = None) -> list[StageStats]:
        """Per-stage automation level, execution time, recursions and escalations."""
        with self.plumbing.tx() as conn:
            work: dict[int, list[bool]] = defaultdict(list)
            recursions: dict[int, int] = defaultdict(int)
            for e in work_events(conn, [*AUTOMATABLE, "recursion"]):
                if e.kind == "recursion":
                    origin: Any = (e.data or {}).get("from", e.stage)
                    recursions[int(origin)] += 1
                elif e.stage is not None:
                    key = int((e.data or {}).get("from", e.stage)) if e.kind == "venture.advanced" else e.stage
                    work[key].append(e.actor_kind in ("agent", "system"))
            visits: dict[int, list[VisitSpan]] = defaultdict(list)
            for v in visit_spans(conn):
                visits[v.stage].append(v)
            escal = escalations.counts_by_stage(conn)
            modes = stage_modes.stage_wide_modes(conn)
        wf = self.plumbing.workflow.workflow
        stages = sorted(set(work) | set(visits) | set(recursions) | set(escal))
        if stage is not None:
            stages = [stage]
        out = []
        for sid in stages:
            done = [v for v in visits.get(sid, []) if v.exited_at is not None]
            hours = [(v.exited_at - v.entered_at).total_seconds() / 3600 for v in done if v.exited_at is not None]
            auto = work.get(sid, [])
            n_visits = len(visits.get(sid, []))
            out.append(
                StageStats(
                    stage=sid,
                    mode=modes.get(sid) or wf.progression_for(sid).mode,
                    visits=n_visits,
                    completed_visits=len(done),
                    automation_level=round(sum(auto) / len(auto), 4) if auto else None,
                    mean_execution_hours=round(sum(hours) / len(hours), 3) if hours else None,
                    recursions=recursions.get(sid, 0),
                    recursion_rate=round(recursions.get(sid, 0) / n_visits, 4) if n_visits else None,
                    escalations=escal.get(sid, 0),
                )
            )
        return out
