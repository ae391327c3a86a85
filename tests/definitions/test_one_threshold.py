"""One threshold per metric: gates, triggers and charts read the same level; extends merges a metric by field."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest

from tests.conftest import AGENT, T0
from tests.definitions.helpers import one_problem, write
from venturegate.crews.stage19.demo import put_inputs
from venturegate.engine import Engine
from venturegate.store.database import connect, ensure_schema
from venturegate.web.venture import charts

OVERRIDE = """
extends: bundled
stages:
  - {id: 19, metrics: {integration_success_rate: {segments: {b2c_mass: {threshold: 85}}}}}
"""


@pytest.fixture
def engine(tmp_path: Path, db_url: str) -> Iterator[Engine]:
    """An engine on the bundled lifecycle with the b2c_mass threshold of integration success moved to 85."""
    src = write(tmp_path, "studio.yaml", OVERRIDE)
    db = connect(db_url)
    ensure_schema(db)
    eng = Engine(db, src.load(), clock=lambda: T0 + timedelta(hours=1))
    yield eng
    db.dispose()


def test_the_three_line_override_keeps_the_rest_of_the_metric(engine: Engine) -> None:
    metric = engine.workflow.workflow.metric("integration_success_rate", 19)
    assert metric is not None and metric.unit == "percent" and metric.title == "Integration success rate"
    assert metric.levels_for("b2c_mass").threshold == 85 and metric.levels_for("b2c_mass").target == 95
    assert metric.levels_for("b2b_smb").threshold == 80  # the other segments are untouched


@pytest.mark.parametrize(("value", "passes"), [(87.0, True), (84.0, False)])
def test_gate_trigger_and_chart_agree_on_a_moved_segment_threshold(engine: Engine, value: float, passes: bool) -> None:
    v = engine.create_venture("shop", "b2c_mass", stage=19, actor=AGENT, now=T0)
    put_inputs(engine, v.id, "http://127.0.0.1:9")  # the entry gate's documents: the venture becomes active
    assert engine.venture(v.id).status == "active"
    engine.record_sample(v.id, "integration_success_rate", value, actor=AGENT, key="run-1", now=T0 + timedelta(hours=1))
    gate = engine.check_gate(v.id, "exit")
    check = next(c for c in gate.checks if c.name == "All integrations verified (success rate)")
    assert check.expected == ">= 85"
    assert (check.verdict == "pass") is passes
    state = next(t for t in engine.trigger_status(v.id) if t["trigger"] == "INTEGRATION-001")
    assert (state["fired"] == 0) is passes
    stage = engine.workflow.workflow.stage(19)
    chart = next(
        c
        for c in charts(engine, engine.venture(v.id), engine.workflow.workflow, stage, T0)
        if c.metric == "integration_success_rate"
    )
    assert chart.threshold == 85


def test_a_gate_number_that_disagrees_with_a_segment_level_is_reported(tmp_path: Path) -> None:
    src = write(
        tmp_path,
        "flow.yaml",
        """
        workflow: {id: t, version: "1"}
        stages:
          - id: 1
            title: One
            metrics:
              uptime:
                {unit: percent, direction: higher_is_better, threshold: 99, segments: {b2c_mass: {threshold: 99.9}}}
            gates:
              exit:
                - check: "uptime >= 99"
        """,
    )
    problem = one_problem(src)
    assert (problem.line, problem.column) == src.at(">= 99")
    assert "compares uptime with 99 (99 for b2c_mass)" in problem.message
    assert "threshold for b2c_mass is 99.9" in problem.message
    assert "threshold.uptime" in problem.hint


def test_a_gate_config_value_that_disagrees_with_a_level_is_reported(tmp_path: Path) -> None:
    src = write(
        tmp_path,
        "flow.yaml",
        """
        workflow: {id: t, version: "1"}
        stages:
          - id: 1
            title: One
            metrics:
              uptime: {unit: percent, direction: higher_is_better, threshold: 99}
            config:
              uptime_min: {type: number, default: 99, segments: {b2b_smb: 95}}
            gates:
              exit:
                - check: "avg(uptime, 1h) >= config.uptime_min"
        """,
    )
    problem = one_problem(src)
    assert "compares uptime with config.uptime_min (95 for b2b_smb)" in problem.message


def test_a_gate_that_agrees_with_a_level_everywhere_is_valid(tmp_path: Path) -> None:
    src = write(
        tmp_path,
        "flow.yaml",
        """
        workflow: {id: t, version: "1"}
        stages:
          - id: 1
            title: One
            metrics:
              uptime: {unit: percent, direction: higher_is_better, target: 99.5, threshold: 99}
            gates:
              exit:
                - check: "uptime >= 99.5 and uptime >= threshold.uptime"
        """,
    )
    assert src.load().workflow.stage(1) is not None
