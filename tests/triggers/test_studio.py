"""The studio's own triggers, from the bundled definitions, behave as its documents say."""

from __future__ import annotations

from datetime import datetime, timedelta

from tests.conftest import AGENT, LEAD, T0
from tests.triggers.helpers import at_stage, events, fired, pending, series, subs, trig
from venturegate.engine import Engine, SampleIn

S = timedelta(seconds=1)
M = timedelta(minutes=1)
H = timedelta(hours=1)
D = timedelta(days=1)


def test_stage_28_cache_hit_rate_under_70_returns_to_28_2_then_escalates(bundled: Engine) -> None:
    """PERF-002: `avg(cache_hit_rate, 1h) < threshold` (70), assisted by lead, at most 2 recursions."""
    v = at_stage(bundled, "cachey", 28).id
    for sub in ("28.1", "28.2", "28.3"):
        bundled.complete_substage(v, sub, actor=AGENT, now=T0)

    def hour(start: datetime, values: list[float], key: str) -> dict[str, str]:
        """Twelve samples, one every five minutes, judged as they arrive at the end of the hour."""
        batch = series(v, "cache_hit_rate", values, start, 5 * M, key)
        return fired(bundled.record_samples(batch, actor=AGENT, now=start + 55 * M))

    t = T0
    for n in (1, 2):
        got = hour(t, [69] * 12, f"bad{n}")
        assert got["PERF-002"] == "proposed", got
        (ask,) = [a for a in pending(bundled, v) if a.payload and a.payload["trigger"] == "PERF-002"]
        assert ask.role == "lead" and ask.payload is not None
        assert ask.payload["action"] == {"go_to": "28.2", "notify": ["lead", "exec"]}
        bundled.decide_approval(ask.id, True, actor=LEAD, now=t + 56 * M)
        assert subs(bundled, v) == {"28.1": "done", "28.2": "open", "28.3": "open"}
        assert trig(bundled, v, "PERF-002", t + 56 * M)["acted"] == n
        for sub in ("28.2", "28.3"):
            bundled.complete_substage(v, sub, actor=AGENT, now=t + 57 * M)
        t += H
        # An hour averaging exactly 70 is not under the threshold: the episode ends, nothing fires.
        assert "PERF-002" not in hour(t, [65, 75] * 6, f"ok{n}")
        assert trig(bundled, v, "PERF-002", t + 55 * M)["state"] == "inactive"
        t += H

    third = bundled.record_samples(
        series(v, "cache_hit_rate", [69] * 12, t, 5 * M, "bad3"), actor=AGENT, now=t + 55 * M
    )
    (perf,) = [f for f in third.fired if f.trigger == "PERF-002"]
    assert (perf.outcome, perf.detail) == ("escalated", "SD-28-ESCALATION-1")
    assert [(e.substage, e.actor) for e in events(bundled, v, "recursion")] == [("28.2", "lee"), ("28.2", "lee")]
    assert subs(bundled, v) == {"28.1": "done", "28.2": "done", "28.3": "done"}  # the third was not taken
    assert bundled.venture(v).status == "paused"
    (esc,) = bundled.escalations()
    assert (esc.code, esc.role, esc.trigger_id, esc.stage) == ("SD-28-ESCALATION-1", "lead", "PERF-002", 28)
    assert any(h["kind"] == "recursion" for h in esc.history)

    bundled.resolve_escalation(esc.code, "28.2", actor=LEAD, now=t + H)
    assert bundled.venture(v).status == "active"
    assert subs(bundled, v) == {"28.1": "done", "28.2": "open", "28.3": "open"}
    assert trig(bundled, v, "PERF-002", t + H)["acted"] == 0


def test_stage_30_error_rate_over_5_percent_rolls_back_only_after_2_minutes(bundled: Engine) -> None:
    """DEPLOY-002: `deployment_error_rate > 5` for 2m (config.rollback.error_rate_duration), auto rollback."""
    short, held, timed = (at_stage(bundled, name, 30).id for name in ("short", "held", "timed"))

    def sample(v: int, value: float, at: datetime) -> dict[str, str]:
        return fired(bundled.record_sample(v, "deployment_error_rate", value, actor=AGENT, at=at, now=at))

    for v in (short, held, timed):
        assert sample(v, 6, T0) == {"DEPLOY-002": "pending"}
        for s in range(10, 120, 10):  # every ten seconds
            assert sample(v, 6, T0 + s * S) == {}
    for v in (short, held):
        assert sample(v, 6, T0 + 119 * S) == {}  # 119 s over the limit: not yet
    assert sample(short, 4, T0 + 121 * S) == {}  # back under it: no rollback, ever
    assert sample(held, 6, T0 + 121 * S) == {"DEPLOY-002": "acted"}  # 121 s: rolled back

    # `timed` gets no more samples: its durable timer fires it at the two-minute mark.
    assert bundled.tick(now=T0 + 119 * S).fired == []
    report = bundled.tick(now=T0 + 121 * S)
    assert [(f.venture_id, f.trigger, f.outcome) for f in report.fired] == [(timed, "DEPLOY-002", "acted")]

    for v in (held, timed):
        (rb,) = events(bundled, v, "rollback.decided")
        assert rb.data == {"trigger": "DEPLOY-002", "to": "pre-stage-30", "scope": ["traffic"]}
        assert trig(bundled, v, "DEPLOY-002", T0 + 121 * S)["since"] == T0.isoformat()
    assert events(bundled, short, "rollback.decided") == []
    assert trig(bundled, short, "DEPLOY-002", T0 + 121 * S)["state"] == "inactive"
    assert bundled.tick(now=T0 + H).fired == []


def test_stage_19_success_rate_under_90_reruns_19_1(bundled: Engine) -> None:
    """INTEGRATION-001: `integration_success_rate < threshold` (90 for b2b_enterprise), auto, back to 19.1."""
    low, ok = (at_stage(bundled, name, 19, "b2b_enterprise").id for name in ("at-89", "at-90"))
    for v, value in ((low, 89), (ok, 90)):
        bundled.complete_substage(v, "19.1", actor=AGENT, now=T0)
        bundled.complete_substage(v, "19.2", actor=AGENT, now=T0)
        bundled.record_sample(v, "integration_success_rate", value, actor=AGENT, now=T0 + H)

    assert subs(bundled, low) == {"19.1": "open", "19.2": "open", "19.3": "open"}
    (rec,) = events(bundled, low, "recursion")
    assert (rec.substage, rec.data) == ("19.1", {"trigger": "INTEGRATION-001", "to": "19.1"})
    assert trig(bundled, low, "INTEGRATION-001")["acted"] == 1

    assert subs(bundled, ok) == {"19.1": "done", "19.2": "done", "19.3": "open"}
    assert events(bundled, ok, "recursion") == [] and events(bundled, ok, "trigger.fired") == []
    row = trig(bundled, ok, "INTEGRATION-001")
    assert (row["state"], row["last_value"]["left"], row["last_value"]["right"]) == ("inactive", 90, 90)


def test_stage_17_conversion_target_depends_on_the_segment(bundled: Engine) -> None:
    """GTM-003: `conversion_rate < config.conversion_target` for 30 days; the target is 2.0 for b2b_enterprise
    and 1.0 for b2c_mass, so the same daily 1.5 % sends one back to 17.1 and not the other."""
    ent = at_stage(bundled, "enterprise", 17, "b2b_enterprise").id
    mass = at_stage(bundled, "mass", 17, "b2c_mass").id
    batch = [SampleIn(v, "conversion_rate", 1.5, T0, f"d0-{v}") for v in (ent, mass)]
    got = bundled.record_samples(batch, actor=AGENT, now=T0)
    by_venture = {v: {f.trigger: f.outcome for f in got.fired if f.venture_id == v} for v in (ent, mass)}
    # GTM-ALERT-CONVERSION's threshold differs too (1.8 vs 1.2).
    assert by_venture == {
        ent: {"GTM-003": "pending", "GTM-RB-3": "pending", "GTM-ALERT-CONVERSION": "notified"},
        mass: {},
    }
    mass_row = trig(bundled, mass, "GTM-003")
    assert (mass_row["state"], mass_row["last_value"]["verdict"], mass_row["last_value"]["right"]) == (
        "inactive",
        "fail",
        1.0,
    )

    # The metric is daily: measured every day (a missed day would read as unknown and end the wait).
    for n in range(1, 30):
        assert fired(bundled.record_sample(ent, "conversion_rate", 1.5, actor=AGENT, now=T0 + n * D)) == {}, n
    got = bundled.record_sample(ent, "conversion_rate", 1.5, actor=AGENT, now=T0 + 30 * D)
    assert fired(got) == {"GTM-003": "acted", "GTM-RB-3": "acted"}
    (rec,) = events(bundled, ent, "recursion")
    assert (rec.substage, rec.at) == ("17.1", T0 + 30 * D)
    row = trig(bundled, ent, "GTM-003", T0 + 30 * D)
    assert (row["since"], row["last_value"]["right"]) == (T0.isoformat(), 2.0)
    assert events(bundled, mass, "trigger.fired") == [] and events(bundled, mass, "recursion") == []
