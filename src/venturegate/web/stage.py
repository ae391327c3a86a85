"""The stage view: the definition, its critique scores, its automation level and execution times."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from venturegate.core.critique import Critique, critique_stage
from venturegate.core.settings import metric_levels
from venturegate.definitions.model import Stage, Workflow
from venturegate.engine import Engine, StageStats


@dataclass(frozen=True)
class GateLine:
    """One check of a gate definition, as text."""

    kind: str
    text: str
    name: str


@dataclass(frozen=True)
class StageView:
    """Everything the stage page shows."""

    stage: Stage
    entry: list[GateLine]
    exit: list[GateLine]
    metrics: list[dict[str, Any]]
    critique: Critique
    stats: StageStats | None
    mode: str
    ventures_here: int
    previous: int | None
    next: int | None


def gate_line(check: Any) -> GateLine:
    """A gate check of the definition as one line: its kind and what it asks for."""
    data = check.model_dump(exclude_defaults=True, mode="json")
    name = str(data.pop("name", ""))
    data.pop("on_fail", None)
    if not data:  # `substages_done` has no fields of its own
        return GateLine("substages", "every substage done", name)
    kind = next(iter(data))
    value = data.pop(kind, "")
    rest = ", ".join(f"{k}: {v}" for k, v in data.items())
    if isinstance(value, dict):  # e.g. customer: {metric, min_count, …}, as words rather than a Python dict
        text = ", ".join(f"{k.replace('_', ' ')} {v}" for k, v in value.items())
    else:
        text = value if isinstance(value, str) else ("" if value is True else str(value))
    label = {"check": "condition"}.get(kind, kind)
    return GateLine(label, f"{text} ({rest})" if rest else text, name)


def _metrics(stage: Stage, workflow: Workflow) -> list[dict[str, Any]]:
    out = []
    for name, m in stage.metrics.items():
        rows = [("default", metric_levels(name, m, None))] + [(seg, metric_levels(name, m, seg)) for seg in m.segments]
        out.append({"name": name, "metric": m, "levels": rows})
    return out


def stage_view(engine: Engine, stage_id: int) -> StageView | None:
    """Read what the stage page shows; None when the workflow has no such stage."""
    workflow = engine.workflow.workflow
    stage = workflow.stage(stage_id)
    if stage is None:
        return None
    stats = engine.stats(stage_id)
    ids = [s.id for s in workflow.stages]
    i = ids.index(stage_id)
    return StageView(
        stage=stage,
        entry=[gate_line(c) for c in stage.gates.entry],
        exit=[gate_line(c) for c in stage.gates.exit],
        metrics=_metrics(stage, workflow),
        critique=critique_stage(stage, workflow),
        stats=stats[0] if stats else None,
        mode=stats[0].mode if stats else workflow.progression_for(stage_id).mode,
        ventures_here=len(engine.ventures(stage=stage_id)),
        previous=ids[i - 1] if i > 0 else None,
        next=ids[i + 1] if i + 1 < len(ids) else None,
    )
