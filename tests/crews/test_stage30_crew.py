"""The stage-30 crew through the engine: samples recorded, and a rollback of scope `traffic` reverts traffic."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from venturegate.crews import CrewContext
from venturegate.crews.stage30 import crew
from venturegate.crews.stage30.crew import live, register
from venturegate.crews.stage30.demo_service import command
from venturegate.crews.stage30.haproxy import LocalDriver
from venturegate.engine import Actor, Engine

LEAD = Actor("lee", "lead")
FAST = {
    "soak_seconds": 0.8,
    "error_rate_duration": 0.3,
    "window_seconds": 1.0,
    "sample_interval": 0.05,
    "load_rate": 200,
}


def _latest(engine: Engine, metric: str) -> list[float]:
    now = datetime.now(UTC)
    return [
        p.value for p in engine.samples("acme", metric, since=now - timedelta(days=1), until=now + timedelta(days=1))
    ]


def test_good_green_records_a_successful_deployment(bundled: Engine) -> None:
    bundled.create_venture("acme", "b2b_smb", 30, actor=LEAD)
    result = crew.run(CrewContext(bundled, "acme", 30, options=dict(FAST)))
    assert result.status == "completed", result
    assert result.summary["green_percent"] == 100
    assert _latest(bundled, "green_traffic_share") == [10.0, 50.0, 100.0]
    assert _latest(bundled, "deployment_error_rate") == [0.0, 0.0, 0.0]
    assert _latest(bundled, "deployment_success_rate") == [100.0]
    assert _latest(bundled, "downtime") == [0.0]
    assert _latest(bundled, "rollback_time") == []


def test_bad_green_is_rolled_back_through_the_engine(bundled: Engine) -> None:
    bundled.create_venture("acme", "b2b_smb", 30, actor=LEAD)
    result = crew.run(CrewContext(bundled, "acme", 30, options={**FAST, "green_error_rate": 0.1}))
    assert result.status == "recursed", result
    assert result.summary["engine_rollback"]["outcome"] == "completed"
    assert result.summary["weights_after_engine_rollback"] == {"blue": 100, "green": 0}
    assert _latest(bundled, "deployment_success_rate") == [0.0]
    (rollback_minutes,) = _latest(bundled, "rollback_time")
    assert 0 < rollback_minutes < 1 / 60  # under a second
    records = bundled.rollbacks("acme")
    assert records and records[0].cause == "traffic_only"


def test_an_engine_rollback_of_scope_traffic_moves_traffic_to_blue(bundled: Engine) -> None:
    bundled.create_venture("acme", "b2b_smb", 30, actor=LEAD)
    register(bundled)
    register(bundled)  # once per engine, however many runs
    with LocalDriver(command()) as driver, live("acme", driver):
        driver.start_version("v1")
        driver.start_version("v2")
        driver.set_weights(50, 50)
        record = bundled.rollback("acme", cause="traffic_only", actor=LEAD, reason="operator says so")
        assert record.outcome == "completed"
        assert driver.weights() == {"blue": 100, "green": 0}
    # Without a live deployment the handler has nothing to move, and says so.
    again = bundled.rollback("acme", cause="traffic_only", actor=LEAD, reason="again")
    assert again.outcome == "completed"
