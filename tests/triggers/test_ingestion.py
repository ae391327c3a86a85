"""Detection is event-driven: a sample is judged, before the call returns, against exactly the triggers reading it.

And `for` durations run on durable timers: a pending trigger fires on `tick` at its due time without a new
sample, and its state survives a restart.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta

from tests.conftest import AGENT, LEAD, T0
from tests.triggers.helpers import data, events, fired, pending, subs, trig
from venturegate.engine import Engine, SampleIn

S = timedelta(seconds=1)
M = timedelta(minutes=1)


def test_only_the_triggers_reading_the_metric_are_judged(tiny: Engine) -> None:
    v = tiny.create_venture("judged", "b2b_smb", 2, actor=AGENT).id
    # A metric no trigger reads: nothing is judged.
    assert tiny.record_sample(v, "noise", 7, actor=AGENT, now=T0).fired == []
    assert [(r["trigger"], r["state"], r["last_evaluated_at"]) for r in tiny.trigger_status(v)] == [
        (t.id, "inactive", None)
        for t in tiny.workflow.workflow.stage(2).triggers  # type: ignore[union-attr]
    ]
    # `errors`: only REDO-RUN reads it; it is judged (false) before the call returns.
    assert tiny.record_sample(v, "errors", 3, actor=AGENT, now=T0 + M).fired == []
    rows = {r["trigger"]: r for r in tiny.trigger_status(v)}
    assert {k for k, r in rows.items() if r["last_evaluated_at"] is not None} == {"REDO-RUN"}
    assert rows["REDO-RUN"]["last_evaluated_at"] == (T0 + M).isoformat()
    assert rows["REDO-RUN"]["state"] == "inactive"
    assert rows["REDO-RUN"]["last_value"]["verdict"] == "fail"
    assert rows["REDO-RUN"]["last_value"]["left"] == 3
    assert events(tiny, v, "trigger.fired") == []


def test_a_batch_returns_each_outcome_with_its_stored_effect(tiny: Engine) -> None:
    v = tiny.create_venture("busy", "b2b_smb", 2, actor=AGENT).id
    for sub in ("2.1", "2.2", "2.3"):
        tiny.complete_substage(v, sub, actor=AGENT, now=T0)
    batch = [
        SampleIn(v, "errors", 10, T0, "e1"),
        SampleIn(v, "score", 1, T0, "s1"),
        SampleIn(v, "complaints", 2, T0, "c1"),
        SampleIn(v, "incidents", 1, T0, "i1"),
        SampleIn(v, "quality", 40, T0, "q1"),
    ]
    got = tiny.record_samples(batch, actor=AGENT, now=T0)
    # Definition order; every entry says what fired, what it would do, in which mode, and what came of it.
    assert [(f.trigger, f.kind, f.action, f.mode, f.outcome) for f in got.fired] == [
        ("REDO-RUN", "recursion", {"go_to": "2.2"}, "auto", "acted"),
        ("ASK-REPLAN", "recursion", {"go_to": "2.1"}, "assisted", "proposed"),
        ("TELL-LEAD", "recursion", {"go_to": "2.1"}, "manual", "notified"),
        ("UNDO", "rollback", {"rollback_to": "pre-stage-2", "scope": ["traffic"]}, "auto", "acted"),
        ("LOW-QUALITY", "alert", {"severity": "P1", "notify": ["lead"]}, "auto", "notified"),
    ]
    assert all(f.venture_id == v for f in got.fired)
    # ... and each outcome is in the store before the call returned.
    assert subs(tiny, v) == {"2.1": "done", "2.2": "open", "2.3": "open"}
    assert data(tiny, v, "trigger.fired", "trigger") == [
        "REDO-RUN",
        "ASK-REPLAN",
        "TELL-LEAD",
        "UNDO",
        "LOW-QUALITY",
    ]
    assert [(a.role, (a.payload or {})["trigger"]) for a in pending(tiny, v)] == [("lead", "ASK-REPLAN")]
    assert [e.reason for e in events(tiny, v, "trigger.notified")] == ["TELL-LEAD"]
    assert data(tiny, v, "rollback.decided", "trigger") == ["UNDO"]
    assert data(tiny, v, "alert", "trigger") == ["LOW-QUALITY"]

    # The same episode does not fire again; clearing the condition ends it.
    assert tiny.record_sample(v, "errors", 12, actor=AGENT, now=T0 + M).fired == []
    assert trig(tiny, v, "REDO-RUN")["state"] == "firing"
    tiny.record_sample(v, "errors", 0, actor=AGENT, now=T0 + 2 * M)
    assert trig(tiny, v, "REDO-RUN")["state"] == "inactive"
    assert fired(tiny.record_sample(v, "errors", 9, actor=AGENT, now=T0 + 3 * M)) == {"REDO-RUN": "acted"}
    assert fired(tiny.record_sample(v, "quality", 60, actor=AGENT, now=T0 + 4 * M)) == {}
    assert fired(tiny.record_sample(v, "quality", 30, actor=AGENT, now=T0 + 5 * M)) == {
        "LOW-QUALITY": "suppressed-cooldown"
    }
    assert len(events(tiny, v, "trigger.suppressed")) == 1
    tiny.record_sample(v, "errors", 0, actor=AGENT, now=T0 + 6 * M)
    got = tiny.record_sample(v, "errors", 9, actor=AGENT, now=T0 + 7 * M)
    assert [(f.trigger, f.outcome, f.detail) for f in got.fired] == [("REDO-RUN", "escalated", "SD-2-ESCALATION-1")]
    assert tiny.venture(v).status == "paused"


def test_for_duration_runs_on_a_durable_timer_across_a_restart(
    engine: Engine, reopen: Callable[[Engine], Engine]
) -> None:
    """SLOW-1 (mini workflow): `latency_ms > 1000` for 2s, an alert."""
    v = engine.create_venture("slowpoke", "b2b_smb", 2, actor=LEAD, now=T0).id
    engine.attest(v, "Budget approved", actor=LEAD, now=T0)
    assert engine.venture(v).status == "active"

    got = engine.record_sample(v, "latency_ms", 1500, actor=AGENT, now=T0)
    assert [(f.trigger, f.outcome) for f in got.fired] == [("SLOW-1", "pending")]
    row = trig(engine, v, "SLOW-1")
    assert (row["state"], row["since"], row["fired"]) == ("pending", T0.isoformat(), 0)
    assert row["last_value"]["verdict"] == "pass" and row["last_value"]["left"] == 1500

    # A false sample in between resets it: the timer due at T0+2s finds nothing to fire.
    assert engine.record_sample(v, "latency_ms", 800, actor=AGENT, now=T0 + S).fired == []
    assert (trig(engine, v, "SLOW-1")["state"], trig(engine, v, "SLOW-1")["since"]) == ("inactive", None)
    assert engine.tick(now=T0 + 2 * S).fired == []
    assert events(engine, v, "alert") == []

    # A new episode starts at T0+2.5s and is due at T0+4.5s.
    start = T0 + 2500 * timedelta(milliseconds=1)
    engine.record_sample(v, "latency_ms", 1400, actor=AGENT, now=start)
    assert trig(engine, v, "SLOW-1")["since"] == start.isoformat()

    again = reopen(engine)  # a restart: the state and the timer are rows, not memory
    row = trig(again, v, "SLOW-1")
    assert (row["state"], row["since"], row["fired"]) == ("pending", start.isoformat(), 0)
    early = again.tick(now=start + 1900 * timedelta(milliseconds=1))
    assert (early.timers, early.fired, early.next_due) == (0, [], start + 2 * S)

    due = again.tick(now=start + 2 * S)  # no new sample: the timer alone fires it
    assert [(f.trigger, f.kind, f.outcome) for f in due.fired] == [("SLOW-1", "alert", "notified")]
    row = trig(again, v, "SLOW-1")
    assert (row["state"], row["fired"]) == ("firing", 1)
    alerts = events(again, v, "alert")
    assert [(e.at, (e.data or {})["severity"]) for e in alerts] == [(start + 2 * S, "P1")]
    assert len(engine.events(v, kind="trigger.fired")) == 1
