"""Automation and speed figures per stage, computed from the event log and stage visits."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select

from venturegate.engine.escalations import EscalationOps
from venturegate.engine.records import _Record
from venturegate.store.schema import escalations, events, stage_modes, stage_visits

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


class StatsOps(EscalationOps):
    """Reading the figures."""

    def stats(self, stage: int | None = None) -> list[StageStats]:
        """Per-stage automation level, execution time, recursions and escalations."""
        with self.tx() as conn:
            work: dict[int, list[bool]] = defaultdict(list)
            recursions: dict[int, int] = defaultdict(int)
            for e in conn.execute(
                select(events.c.kind, events.c.stage, events.c.actor_kind, events.c.data).where(
                    events.c.kind.in_([*AUTOMATABLE, "recursion"])
                )
            ):
                if e.kind == "recursion":
                    origin = (e.data or {}).get("from", e.stage)
                    recursions[int(origin)] += 1
                elif e.stage is not None:
                    key = int((e.data or {}).get("from", e.stage)) if e.kind == "venture.advanced" else int(e.stage)
                    work[key].append(e.actor_kind in ("agent", "system"))
            visits: dict[int, list[Any]] = defaultdict(list)
            for v in conn.execute(select(stage_visits)):
                visits[int(v.stage)].append(v)
            escal: dict[int, int] = defaultdict(int)
            for r in conn.execute(select(escalations.c.stage)):
                escal[int(r.stage)] += 1
            modes = {
                int(r.stage): r.mode for r in conn.execute(select(stage_modes).where(stage_modes.c.venture_id == 0))
            }
        wf = self.workflow.workflow
        stages = sorted(set(work) | set(visits) | set(recursions) | set(escal))
        if stage is not None:
            stages = [stage]
        out = []
        for sid in stages:
            done = [v for v in visits.get(sid, []) if v.exited_at is not None]
            hours = [(v.exited_at - v.entered_at).total_seconds() / 3600 for v in done]
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
