"""One threshold per metric: gates, triggers and charts read the same level; extends merges a metric by field."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest

from tests.conftest import AGENT, LEAD, T0
from tests.definitions.helpers import Src, one_problem, write
from venturegate.crews.stage19.demo import put_inputs
from venturegate.engine import Engine, Forbidden, NotFound
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


def _active(engine: Engine, name: str) -> int:
    """A b2c_mass venture at stage 19 with the entry gate's documents in: it is active."""
    v = engine.create_venture(name, "b2c_mass", stage=19, actor=AGENT, now=T0)
    put_inputs(engine, v.id, "http://127.0.0.1:9")
    assert engine.venture(v.id).status == "active"
    return v.id


def _sample(engine: Engine, venture: int, value: float) -> None:
    engine.record_sample(
        venture, "integration_success_rate", value, actor=AGENT, key="run-1", now=T0 + timedelta(hours=1)
    )


def _agree(engine: Engine, venture: int) -> tuple[object, str, object, float | None, str]:
    """What the gate, the trigger, the chart and the engine's level read say about integration success."""
    gate = engine.check_gate(venture, "exit")
    check = next(c for c in gate.checks if c.name == "All integrations verified (success rate)")
    state = next(t for t in engine.trigger_status(venture) if t["trigger"] == "INTEGRATION-001")
    stage = engine.workflow.workflow.stage(19)
    chart = next(
        c
        for c in charts(engine, engine.venture(venture), engine.workflow.workflow, stage, T0)
        if c.metric == "integration_success_rate"
    )
    level = next(lv for lv in engine.levels(venture) if lv.metric == "integration_success_rate")
    return check.expected, check.verdict, state["fired"], chart.threshold, f"{level.threshold:g} {level.source}"


@pytest.mark.parametrize(("value", "passes"), [(87.0, True), (84.0, False)])
def test_gate_trigger_and_chart_agree_on_a_moved_segment_threshold(engine: Engine, value: float, passes: bool) -> None:
    shop = _active(engine, "shop")
    _sample(engine, shop, value)
    expected, verdict, fired, chart, level = _agree(engine, shop)
    assert (expected, chart, level) == (">= 85", 85, "85 segment")
    assert (verdict == "pass") is passes
    assert (fired == 0) is passes


def test_a_segment_threshold_and_a_venture_override_move_gate_trigger_and_chart_together(engine: Engine) -> None:
    """The segment's 85 (from the extends file) for one venture, a person's 92 override for another."""
    shop, strict = _active(engine, "shop"), _active(engine, "strict")
    change = engine.set_config(strict, "level.integration_success_rate.threshold", "92", actor=LEAD, reason="pilot")
    assert (change.value, change.previous) == (92, 85)
    for vid in (shop, strict):
        _sample(engine, vid, 88.0)
    assert _agree(engine, shop) == (">= 85", "pass", 0, 85, "85 segment")
    assert _agree(engine, strict) == (">= 92", "fail", 1, 92, "92 venture")
    history = engine.config_history(strict, "level.integration_success_rate.threshold")
    assert [(h.actor, h.reason) for h in history] == [("lee", "pilot")]
    assert any(e.kind == "config.changed" and (e.data or {}).get("value") == 92 for e in engine.events(strict))


def test_only_a_person_moves_a_level_and_a_wrong_key_is_named(engine: Engine) -> None:
    v = engine.create_venture("shop", "b2c_mass", stage=19, actor=AGENT, now=T0)
    with pytest.raises(Forbidden, match="only a person"):
        engine.set_config(v.id, "level.integration_success_rate.threshold", 92, actor=AGENT, reason="x")
    with pytest.raises(NotFound) as unknown:
        engine.set_config(v.id, "level.integration_sucess_rate.threshold", 92, actor=LEAD, reason="x")
    assert unknown.value.hint == "did you mean 'level.integration_success_rate.threshold'?"
    with pytest.raises(NotFound, match="'limit' is not a level"):
        engine.set_config(v.id, "level.integration_success_rate.limit", 92, actor=LEAD, reason="x")
    with pytest.raises(Exception, match="out of range"):
        engine.set_config(v.id, "level.integration_success_rate.threshold", 120, actor=LEAD, reason="x")
    assert engine.config_history(v.id) == []


def _uptime_flow(tmp_path: Path, metric: str, check: str, config: str = "") -> Src:
    """A one-stage workflow: the metric `uptime: <metric>`, config entries `config`, the exit check `check`."""
    text = f"""
        workflow: {{id: t, version: "1"}}
        stages:
          - id: 1
            title: One
            metrics: {{uptime: {metric}}}
            config: {{{config}}}
            gates: {{exit: [{{check: "{check}"}}]}}
        """
    return write(tmp_path, "flow.yaml", text)


@pytest.mark.parametrize(
    ("metric", "config", "check", "needle", "fragments", "hint"),
    [
        (
            "{unit: percent, direction: higher_is_better, threshold: 99, segments: {b2c_mass: {threshold: 99.9}}}",
            "",
            "uptime >= 99",
            ">= 99",
            ["compares uptime with 99 (99 for b2c_mass)", "threshold for b2c_mass is 99.9"],
            "threshold.uptime",
        ),
        (
            "{unit: percent, direction: higher_is_better, threshold: 99}",
            "uptime_min: {type: number, default: 99, segments: {b2b_smb: 95}}",
            "avg(uptime, 1h) >= config.uptime_min",
            ">= config.uptime_min",
            ["compares uptime with config.uptime_min (95 for b2b_smb)"],
            "threshold.uptime",
        ),
    ],
    ids=["a gate number", "a gate config value"],
)
def test_a_gate_level_that_disagrees_with_a_segment_level_is_reported(
    tmp_path: Path, metric: str, config: str, check: str, needle: str, fragments: list[str], hint: str
) -> None:
    src = _uptime_flow(tmp_path, metric, check, config)
    problem = one_problem(src)
    assert (problem.line, problem.column) == src.at(needle)
    for fragment in fragments:
        assert fragment in problem.message
    assert hint in problem.hint


def test_a_gate_that_agrees_with_a_level_everywhere_is_valid(tmp_path: Path) -> None:
    metric = "{unit: percent, direction: higher_is_better, target: 99.5, threshold: 99}"
    src = _uptime_flow(tmp_path, metric, "uptime >= 99.5 and uptime >= threshold.uptime")
    assert src.load().workflow.stage(1) is not None


@pytest.mark.parametrize(
    ("entry", "needle", "message", "hint"),
    [
        (
            "integration_success_rate: {segments: {b2c_mass: {treshold: 85}}}",
            "85",
            "unknown field 'treshold'",
            "did you mean 'threshold'?",
        ),
        (
            "integration_success_rate: {segments: {b2c_mas: {threshold: 85}}}",
            "{threshold: 85}",
            "segments.b2c_mas: Input should be",
            "did you mean 'b2c_mass'?",
        ),
        (
            "integration_success_rate: {unit: procent}",
            "procent",
            "unit: Input should be",
            "did you mean 'percent'?",
        ),
        (
            "integration_sucess_rate: {segments: {b2c_mass: {threshold: 85}}}",
            "{segments",
            "missing required field 'unit'",
            "did you mean 'integration_success_rate'?",
        ),
    ],
)
def test_a_mistake_in_an_extending_file_is_one_problem_located_there_with_the_right_hint(
    tmp_path: Path, entry: str, needle: str, message: str, hint: str
) -> None:
    """The invalid metric is left out, but the bundled conditions naming it are not "unknown metric" errors."""
    src = write(tmp_path, "studio.yaml", f"extends: bundled\nstages:\n  - {{id: 19, metrics: {{{entry}}}}}\n")
    problem = one_problem(src)
    assert problem.file == src.file
    assert (problem.line, problem.column) == src.at(needle)
    assert message in problem.message
    assert problem.hint.startswith(hint)
