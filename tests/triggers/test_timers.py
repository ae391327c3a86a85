"""Durable timers beyond `for`: measurement cadence (staleness) and the end of a cooldown."""

from __future__ import annotations

from datetime import timedelta

from tests.conftest import AGENT, T0
from tests.triggers.helpers import events, fired
from venturegate.engine import Engine

M = timedelta(minutes=1)
H = timedelta(hours=1)


def test_a_metric_not_measured_for_its_cadence_plus_grace_is_stale(tiny: Engine) -> None:
    """`quality` is hourly: stale after 1h plus a grace of a tenth of the cadence (6 minutes)."""
    v = tiny.create_venture("measured", "b2b_smb", 2, actor=AGENT, now=T0).id
    tiny.record_sample(v, "quality", 80, actor=AGENT, now=T0)
    tiny.record_sample(v, "quality", 81, actor=AGENT, now=T0 + 30 * M)  # moves the deadline on
    assert tiny.tick(now=T0 + H + 6 * M).stale == []
    assert tiny.tick(now=T0 + 30 * M + H + 5 * M).stale == []
    assert events(tiny, v, "metric.stale") == []

    report = tiny.tick(now=T0 + 30 * M + H + 6 * M)
    assert report.stale == [(v, "quality")]
    (stale,) = events(tiny, v, "metric.stale")
    assert stale.at == T0 + 30 * M + H + 6 * M
    assert stale.data == {"metric": "quality", "last": (T0 + 30 * M).isoformat(), "cadence": "hourly"}
    assert tiny.tick(now=T0 + 5 * H).stale == []  # once per gap, not on every tick

    # A metric without a cadence (per_run) never goes stale.
    tiny.record_sample(v, "errors", 0, actor=AGENT, now=T0)
    assert tiny.tick(now=T0 + 1000 * H).stale == []


def test_cooldown_end_judges_the_trigger_again_without_new_data(tiny: Engine) -> None:
    """LOW-QUALITY (`quality < 50`, cooldown 1h): a second episode inside the cooldown waits for its end."""
    held = tiny.create_venture("held", "b2b_smb", 2, actor=AGENT, now=T0).id
    cleared = tiny.create_venture("cleared", "b2b_smb", 2, actor=AGENT, now=T0).id
    for v in (held, cleared):
        assert fired(tiny.record_sample(v, "quality", 40, actor=AGENT, now=T0)) == {"LOW-QUALITY": "notified"}
        tiny.record_sample(v, "quality", 60, actor=AGENT, now=T0 + 10 * M)
        got = tiny.record_sample(v, "quality", 30, actor=AGENT, now=T0 + 20 * M)
        assert fired(got) == {"LOW-QUALITY": "suppressed-cooldown"}
    tiny.record_sample(cleared, "quality", 70, actor=AGENT, now=T0 + 40 * M)  # recovered before the end

    assert tiny.tick(now=T0 + 59 * M).fired == []
    report = tiny.tick(now=T0 + H)
    assert [(f.venture_id, f.trigger, f.outcome) for f in report.fired] == [(held, "LOW-QUALITY", "notified")]
    assert [e.at for e in events(tiny, held, "alert")] == [T0, T0 + H]
    assert [e.at for e in events(tiny, cleared, "alert")] == [T0]
