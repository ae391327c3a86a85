"""PERF-004 end to end with the clock passed in: readings that stay green for `advance.all_green_duration` (1 h)
advance a venture whose stage-28 exit gate holds, in `auto` progression (a durable timer fires at the end of the
hour, or the next reading does); a red reading in between restarts the hour; in `manual` progression the
trigger only notifies."""

from __future__ import annotations

from datetime import timedelta

from tests.conftest import CHAIR, LEAD, T0
from tests.triggers.helpers import at_stage, events, put, trig
from venturegate.engine import Engine, SampleIn

M = timedelta(minutes=1)
GREEN = {
    "api_response_time_p95": 120.0,  # target 200 ms
    "api_response_time_p99": 300.0,  # target 500 ms
    "cpu_utilization": 35.0,  # under 80 (advance.resource_utilization_max) and 70 (warning)
    "memory_utilization": 40.0,
    "cache_hit_rate": 86.0,  # target 80 %
    "page_load_time": 800.0,  # target 1000 ms
}


def _ready(engine: Engine, name: str) -> int:
    """A venture at stage 28 whose exit gate waits only for an hour of readings."""
    v = at_stage(engine, name, 28).id
    for sub in ("28.1", "28.2", "28.3"):
        engine.complete_substage(v, sub, actor=LEAD, now=T0)
    engine.attest(
        v, "Best practices applied: lint passes and the changes follow the studio's optimisation patterns",
        actor=LEAD, now=T0,
    )  # fmt: skip
    put(engine, v, ["optimized_code", "cache_layer", "performance_report"], T0)
    return v


def _reading(engine: Engine, v: int, minute: int, **changed: float) -> list[tuple[str, str]]:
    """One reading of every figure PERF-004 and the exit gate read, `minute` minutes after T0."""
    at = T0 + minute * M
    batch = [SampleIn(v, m, changed.get(m, x), at, f"r{minute}-{m}") for m, x in GREEN.items()]
    got = engine.record_samples(batch, actor=LEAD, now=at)
    return [(f.trigger, f.outcome) for f in got.fired if f.trigger == "PERF-004"]


def test_an_hour_of_green_readings_advances_in_auto_progression(bundled: Engine) -> None:
    bundled.set_progression(28, "auto", actor=CHAIR, now=T0)
    v = _ready(bundled, "green")
    assert _reading(bundled, v, 0) == [("PERF-004", "pending")]
    for minute in range(4, 60, 4):  # every 4 minutes, as a scheduled verification run would
        assert _reading(bundled, v, minute) == []
    assert trig(bundled, v, "PERF-004", T0 + 56 * M)["since"] == T0.isoformat()
    assert bundled.venture(v).stage == 28  # 56 minutes are not an hour
    bundled.tick(now=T0 + 59 * M)
    assert bundled.venture(v).stage == 28
    bundled.tick(now=T0 + 60 * M)  # the durable timer set when the trigger went pending
    assert bundled.venture(v).stage == 29
    (moved,) = events(bundled, v, "venture.advanced")
    assert (moved.data, moved.actor_kind, moved.at) == ({"from": 28, "to": 29}, "system", T0 + 60 * M)


def test_a_red_reading_restarts_the_hour(bundled: Engine) -> None:
    bundled.set_progression(28, "auto", actor=CHAIR, now=T0)
    v = _ready(bundled, "flaky")
    for minute in range(0, 32, 4):
        _reading(bundled, v, minute)
    _reading(bundled, v, 32, api_response_time_p95=450.0)  # one slow reading: the condition is false
    assert trig(bundled, v, "PERF-004", T0 + 32 * M)["state"] == "inactive"
    # Green again from minute 36: a new pending period, an hour from then.
    assert _reading(bundled, v, 36) == []  # the 5-minute p95 window still holds the slow reading
    assert _reading(bundled, v, 38) == [("PERF-004", "pending")]
    for minute in range(42, 98, 4):
        _reading(bundled, v, minute)
        assert bundled.venture(v).stage == 28
    bundled.tick(now=T0 + 60 * M)  # the first hour's timer: nothing to do
    assert bundled.venture(v).stage == 28
    assert _reading(bundled, v, 98) == [("PERF-004", "acted")]  # minute 38 + 60: this reading advances it
    assert bundled.venture(v).stage == 29


def test_in_manual_progression_the_hour_only_notifies(bundled: Engine) -> None:
    v = _ready(bundled, "careful")  # stage 28's bundled progression is manual
    for minute in range(0, 60, 4):
        _reading(bundled, v, minute)
    assert _reading(bundled, v, 60) == [("PERF-004", "notified")]
    assert bundled.venture(v).stage == 28
    assert [e.reason for e in events(bundled, v, "trigger.notified") if e.reason == "PERF-004"] == ["PERF-004"]
