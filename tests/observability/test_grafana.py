"""Grafana dashboards: the structure Grafana imports, and each metric's levels as threshold steps."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from jsonschema import Draft202012Validator

from tests.conftest import AGENT, T0
from tests.observability._parse import parse
from venturegate.definitions.loader import LoadedWorkflow
from venturegate.definitions.model import Levels
from venturegate.engine import Engine
from venturegate.observability import render
from venturegate.observability.grafana import export, stage_dashboard, threshold_steps

_STEP = {
    "type": "object",
    "required": ["color", "value"],
    "properties": {"color": {"type": "string", "minLength": 1}, "value": {"type": ["number", "null"]}},
}
_DATASOURCE = {
    "type": "object",
    "required": ["type", "uid"],
    "properties": {"type": {"const": "prometheus"}, "uid": {"type": "string"}},
}
GRAFANA_DASHBOARD = {
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "title": "What Grafana needs to import a dashboard JSON model with Prometheus time-series panels",
    "type": "object",
    "required": ["uid", "title", "schemaVersion", "panels", "templating", "time"],
    "properties": {
        "uid": {"type": "string", "pattern": "^[A-Za-z0-9_-]{1,40}$"},  # Grafana's uid rule
        "title": {"type": "string", "minLength": 1},
        "schemaVersion": {"type": "integer", "minimum": 36},
        "time": {"type": "object", "required": ["from", "to"]},
        "templating": {
            "type": "object",
            "required": ["list"],
            "properties": {
                "list": {
                    "type": "array",
                    "items": {"type": "object", "required": ["name", "type"]},
                    "contains": {
                        "type": "object",
                        "required": ["name", "type", "query", "datasource"],
                        "properties": {"name": {"const": "venture"}, "type": {"const": "query"}},
                    },
                }
            },
        },
        "panels": {
            "type": "array",
            "minItems": 1,
            "items": {
                "type": "object",
                "required": ["id", "type", "title", "gridPos", "datasource", "targets", "fieldConfig"],
                "properties": {
                    "id": {"type": "integer", "minimum": 1},
                    "type": {"const": "timeseries"},
                    "title": {"type": "string", "minLength": 1},
                    "gridPos": {
                        "type": "object",
                        "required": ["h", "w", "x", "y"],
                        "properties": {
                            "w": {"type": "integer", "minimum": 1, "maximum": 24},
                            "x": {"type": "integer", "minimum": 0, "maximum": 23},
                        },
                    },
                    "datasource": _DATASOURCE,
                    "targets": {
                        "type": "array",
                        "minItems": 1,
                        "items": {
                            "type": "object",
                            "required": ["refId", "expr"],
                            "properties": {"refId": {"type": "string"}, "expr": {"type": "string", "minLength": 1}},
                        },
                    },
                    "fieldConfig": {
                        "type": "object",
                        "required": ["defaults", "overrides"],
                        "properties": {
                            "defaults": {
                                "type": "object",
                                "required": ["thresholds", "custom"],
                                "properties": {
                                    "thresholds": {
                                        "type": "object",
                                        "required": ["mode", "steps"],
                                        "properties": {
                                            "mode": {"const": "absolute"},
                                            "steps": {
                                                "type": "array",
                                                "minItems": 1,
                                                "prefixItems": [{**_STEP, "properties": {"value": {"type": "null"}}}],
                                                "items": _STEP,
                                            },
                                        },
                                    },
                                    "custom": {
                                        "type": "object",
                                        "required": ["thresholdsStyle"],
                                        "properties": {
                                            "thresholdsStyle": {
                                                "type": "object",
                                                "required": ["mode"],
                                                "properties": {"mode": {"const": "line"}},
                                            }
                                        },
                                    },
                                },
                            }
                        },
                    },
                },
            },
        },
    },
}


def _levels(levels: Levels) -> set[float]:
    """The distinct level values that are set."""
    return {v for v in (levels.target, levels.threshold, levels.alert) if v is not None}


def test_the_schema_itself_is_valid() -> None:
    Draft202012Validator.check_schema(GRAFANA_DASHBOARD)


def test_every_exported_dashboard_validates(tmp_path: Path, studio: LoadedWorkflow) -> None:
    wf = studio.workflow
    written = export(wf, tmp_path)
    with_metrics = [s for s in wf.stages if s.metrics]
    assert [w.stage for w in written] == [s.id for s in with_metrics]
    validator = Draft202012Validator(GRAFANA_DASHBOARD)
    uids = set()
    for w in written:
        board = json.loads(w.path.read_text(encoding="utf-8"))
        errors = [f"{'/'.join(map(str, e.absolute_path))}: {e.message}" for e in validator.iter_errors(board)]
        assert errors == [], (w.path.name, errors[:5])
        assert board["uid"] == f"venturegate-stage-{w.stage}" == w.uid
        assert len({p["id"] for p in board["panels"]}) == len(board["panels"]) == w.panels
        uids.add(board["uid"])
    assert len(uids) == len(written)


@pytest.mark.parametrize("stage_id", [19, 28, 30])
def test_each_metric_has_a_panel_with_its_levels_as_threshold_steps(studio: LoadedWorkflow, stage_id: int) -> None:
    wf = studio.workflow
    stage = wf.stage(stage_id)
    assert stage is not None
    board = stage_dashboard(wf, stage)
    panels = {re.search(r'metric="([^"]+)"', p["targets"][0]["expr"]).group(1): p for p in board["panels"]}  # type: ignore[union-attr]
    assert set(panels) == set(stage.metrics)
    for name, panel in panels.items():
        metric = wf.metric(name, stage_id)
        assert metric is not None
        steps = panel["fieldConfig"]["defaults"]["thresholds"]["steps"]
        values = [s["value"] for s in steps[1:]]
        assert values == sorted(_levels(metric.levels_for(None))), name  # every level once, ascending
        assert steps[0]["value"] is None


def test_colours_follow_the_direction(studio: LoadedWorkflow) -> None:
    wf = studio.workflow

    def colours(name: str, stage: int) -> list[tuple[float | None, str]]:
        metric = wf.metric(name, stage)
        assert metric is not None
        return [(s["value"], s["color"]) for s in threshold_steps(metric)]

    # Higher is better (alert 80, threshold = target 90): the studio's bands red < 80 ≤ yellow < 90 ≤ green.
    assert colours("integration_success_rate", 19) == [(None, "red"), (80.0, "yellow"), (90.0, "green")]
    # Lower is better (target 5, threshold = alert 10): green < 5 ≤ yellow < 10 ≤ red.
    assert colours("rollback_time", 30) == [(None, "green"), (5.0, "yellow"), (10.0, "red")]
    # A segment's own levels move the lines: b2b_smb asks 80 for integration success (threshold and target).
    metric = wf.metric("integration_success_rate", 19)
    assert metric is not None
    smb = metric.levels_for("b2b_smb")
    assert _levels(smb) != _levels(metric.levels_for(None))
    assert [s["value"] for s in threshold_steps(metric, "b2b_smb")[1:]] == sorted(_levels(smb))


def test_panel_queries_select_series_that_metrics_exposes(bundled: Engine, studio: LoadedWorkflow) -> None:
    """The panel's selector matches the `venturegate_metric_latest` series of a venture at that stage."""
    stage = studio.workflow.stage(19)
    assert stage is not None
    bundled.create_venture("charted", "b2b_smb", 19, actor=AGENT, now=T0)
    bundled.record_sample("charted", "integration_success_rate", 88, actor=AGENT, now=T0)
    board = stage_dashboard(studio.workflow, stage)
    (panel,) = [p for p in board["panels"] if 'metric="integration_success_rate"' in p["targets"][0]["expr"]]
    expr = panel["targets"][0]["expr"]
    name, selector = re.fullmatch(r"(\w+)\{(.*)\}", expr).groups()  # type: ignore[union-attr]
    matchers = dict(re.findall(r'(\w+)="([^"]*)"', selector))
    served = parse(render(bundled))[name]
    hits = [v for labels, v in served.items() if matchers.items() <= dict(labels).items()]
    assert hits == [88.0]
    assert 'venture=~"$venture"' in selector
