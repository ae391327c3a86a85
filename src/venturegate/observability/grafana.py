"""Grafana dashboards per stage: a time-series panel per metric, its levels drawn as threshold lines.

Each panel plots `venturegate_metric_latest` (exposed by `/metrics`) for the stage's ventures; the
metric's default-segment target, threshold and alert become absolute threshold steps, coloured by the
metric's direction, and `custom.thresholdsStyle.mode: line` draws them across the chart.
"""

from __future__ import annotations

import itertools
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from venturegate.definitions.model import Levels, Metric, Stage, Workflow
from venturegate.observability import promql
from venturegate.observability._families import PREFIX

SCHEMA_VERSION = 39
"""The dashboard JSON model version written (Grafana 10.4 / 11); Grafana migrates older models on import."""

DATASOURCE = {"type": "prometheus", "uid": "${datasource}"}
"""Panels use the dashboard's `datasource` variable, so an import asks which Prometheus to read."""

GRAFANA_UNITS = {
    "percent": "percent",
    "ratio": "percentunit",
    "ms": "ms",
    "seconds": "s",
    "minutes": "m",
    "hours": "h",
    "days": "d",
    "per_second": "cps",
    "count": "short",
    "score": "none",
    "number": "none",
    "per_week": "short",
    "currency": "short",
}
"""Grafana unit ids for the workflow's metric units."""


def _zone_colour(metric: Metric, levels: Levels, x: float) -> str:
    """The colour of a value: red when worse than alert, yellow when short of target (or threshold), else green."""

    def worse(level: float | None) -> bool:
        if level is None:
            return False
        return x < level if metric.direction == "higher_is_better" else x > level

    if worse(levels.alert):
        return "red"
    if worse(levels.target) or worse(levels.threshold):
        return "yellow"
    return "green"


def threshold_steps(metric: Metric, segment: str | None = None) -> list[dict[str, Any]]:
    """The metric's levels for `segment` as Grafana threshold steps (ascending; the first, `null`, is the base).

    A step colours the values from it up to the next step, each zone by what a value there means:
    red past the alert level, yellow short of target (the threshold line falls in this zone), green
    at target or better — the studio's dashboard bands (e.g. stage 19's integration success rate:
    red below 80, yellow 80-90, green from 90). Every distinct level is a step, so each is drawn
    as a line. Informational metrics get their levels as plain blue lines.
    """
    lv = metric.levels_for(segment)
    values = sorted({v for v in (lv.alert, lv.threshold, lv.target) if v is not None})
    if metric.direction == "informational":
        return [{"color": "transparent", "value": None}] + [{"color": "blue", "value": v} for v in values]
    if not values:
        return [{"color": "green", "value": None}]
    edges = [*values, values[-1] + 2.0]
    steps: list[dict[str, Any]] = [{"color": _zone_colour(metric, lv, values[0] - 1.0), "value": None}]
    for value, upper in itertools.pairwise(edges):
        steps.append({"color": _zone_colour(metric, lv, (value + upper) / 2), "value": value})
    return steps


def _panel(panel_id: int, stage: Stage, name: str, metric: Metric) -> dict[str, Any]:
    """A time-series panel of one metric for the stage's ventures (the `venture` variable filters them)."""
    lv = metric.levels_for(None)
    levels = ", ".join(
        f"{k} {v:g}"
        for k, v in (("target", lv.target), ("threshold", lv.threshold), ("alert", lv.alert))
        if v is not None
    )
    sel = promql.selector(stage=str(stage.id), metric=name)[:-1] + ', venture=~"$venture"}'
    expr = f"{PREFIX}_metric_latest{sel}"
    direction = metric.direction.replace("_", " ")
    return {
        "id": panel_id,
        "type": "timeseries",
        "title": metric.title or name,
        "description": f"{name} ({metric.unit}, {direction}); levels: {levels or 'none'}. {metric.description}".strip(),
        "gridPos": {"h": 8, "w": 12, "x": 12 * ((panel_id - 1) % 2), "y": 8 * ((panel_id - 1) // 2)},
        "datasource": DATASOURCE,
        "targets": [{"refId": "A", "datasource": DATASOURCE, "expr": expr, "legendFormat": "{{venture}}"}],
        "fieldConfig": {
            "defaults": {
                "unit": GRAFANA_UNITS.get(metric.unit, "none"),
                "color": {"mode": "palette-classic"},
                "thresholds": {"mode": "absolute", "steps": threshold_steps(metric)},
                "custom": {"drawStyle": "line", "lineWidth": 2, "thresholdsStyle": {"mode": "line"}},
            },
            "overrides": [],
        },
        "options": {"legend": {"displayMode": "list", "placement": "bottom", "showLegend": True}},
    }


def _templating(stage: Stage) -> dict[str, Any]:
    return {
        "list": [
            {
                "name": "datasource",
                "label": "Prometheus",
                "type": "datasource",
                "query": "prometheus",
                "current": {},
                "hide": 0,
            },
            {
                "name": "venture",
                "label": "Venture",
                "type": "query",
                "datasource": DATASOURCE,
                "query": {
                    "query": f"label_values({PREFIX}_metric_latest{promql.selector(stage=str(stage.id))}, venture)",
                    "refId": "V",
                },
                "definition": f"label_values({PREFIX}_metric_latest{promql.selector(stage=str(stage.id))}, venture)",
                "refresh": 2,
                "multi": True,
                "includeAll": True,
                "allValue": ".*",
                "current": {"text": "All", "value": "$__all"},
                "sort": 1,
                "hide": 0,
            },
        ]
    }


def stage_dashboard(workflow: Workflow, stage: Stage) -> dict[str, Any]:
    """The dashboard JSON model of one stage (uid `venturegate-stage-N`, stable across exports)."""
    panels = [_panel(i, stage, name, m) for i, (name, m) in enumerate(stage.metrics.items(), start=1)]
    return {
        "uid": f"venturegate-stage-{stage.id}",
        "title": f"venturegate · stage {stage.id} · {stage.title}",
        "description": f"{stage.description} (workflow {workflow.workflow.id} {workflow.workflow.version})".strip(),
        "tags": ["venturegate", f"stage-{stage.id}", f"workflow-{workflow.workflow.id}"],
        "schemaVersion": SCHEMA_VERSION,
        "version": 1,
        "editable": True,
        "graphTooltip": 1,
        "timezone": "utc",
        "refresh": "1m",
        "time": {"from": "now-7d", "to": "now"},
        "templating": _templating(stage),
        "annotations": {"list": []},
        "links": [],
        "panels": panels,
    }


@dataclass(frozen=True)
class Exported:
    """One dashboard file written."""

    stage: int
    uid: str
    title: str
    panels: int
    path: Path

    def as_dict(self) -> dict[str, Any]:
        """JSON form."""
        return {
            "stage": self.stage,
            "uid": self.uid,
            "title": self.title,
            "panels": self.panels,
            "path": str(self.path),
        }


def export(workflow: Workflow, out_dir: Path, stage: int | None = None) -> list[Exported]:
    """Write `stage-N.json` per stage with metrics (only `stage` when given); returns what was written."""
    if stage is not None:
        found = workflow.stage(stage)
        if found is None:
            raise LookupError(f"stage {stage} is not in workflow {workflow.workflow.id} {workflow.workflow.version}")
        if not found.metrics:
            raise LookupError(f"stage {stage} declares no metrics; there is nothing to chart")
        stages = [found]
    else:
        stages = [s for s in workflow.stages if s.metrics]
    out_dir.mkdir(parents=True, exist_ok=True)
    written = []
    for st in stages:
        board = stage_dashboard(workflow, st)
        path = out_dir / f"stage-{st.id}.json"
        path.write_text(json.dumps(board, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
        written.append(Exported(st.id, board["uid"], board["title"], len(board["panels"]), path))
    return written
