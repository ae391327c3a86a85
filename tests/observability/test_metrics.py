"""`/metrics` text: it parses, and every series equals what the engine did and stored (SQLite and PostgreSQL)."""

from __future__ import annotations

from collections import Counter
from datetime import timedelta

import pytest
from prometheus_client.parser import text_string_to_metric_families

from tests.conftest import AGENT, CHAIR, LEAD, T0
from tests.observability._parse import by, parse
from tests.triggers.helpers import at_stage, fired
from venturegate.engine import Actor, Engine
from venturegate.observability import render

M = timedelta(minutes=1)
H = timedelta(hours=1)


def _events_by_trigger(eng: Engine) -> Counter[tuple[str, str]]:
    """`trigger.fired` events from the engine's event API, by (stage, trigger)."""
    return Counter(
        (str(e.stage), (e.data or {})["trigger"])
        for e in eng.events(kind="trigger.fired", limit=10_000)
        if e.kind == "trigger.fired"
    )


def test_tiny_workflow_series_match_the_engine(tiny: Engine) -> None:
    recorded: Counter[str] = Counter()

    def sample(v: int, metric: str, value: float, t: object) -> dict[str, str]:
        recorded[metric] += 1
        return fired(tiny.record_sample(v, metric, value, actor=AGENT, now=t))  # type: ignore[arg-type]

    # An advance out of stage 1 after ten minutes: an exit verdict and a finished visit.
    shaper = tiny.create_venture("shaper", "b2b_smb", 1, actor=AGENT, now=T0).id
    tiny.advance(shaper, actor=LEAD, now=T0 + 10 * M)
    # REDO-RUN past its limit of two: three firings, the third opens an escalation.
    stubborn = tiny.create_venture("stubborn", "b2b_smb", 2, actor=AGENT, now=T0).id
    t = T0
    for _ in (1, 2):
        t += M
        assert sample(stubborn, "errors", 9, t) == {"REDO-RUN": "acted"}
        t += M
        sample(stubborn, "errors", 0, t)
    assert sample(stubborn, "errors", 9, t + M) == {"REDO-RUN": "escalated"}
    # A rollback trigger, an assisted trigger (an approval for lead), an advance trigger whose gate fails.
    undo = tiny.create_venture("undo", "b2b_smb", 2, actor=AGENT, now=T0).id
    assert sample(undo, "incidents", 2, T0 + M) == {"UNDO": "acted"}
    asker = tiny.create_venture("asker", "b2c_mass", 2, actor=AGENT, now=T0).id
    tiny.set_progression(2, "auto", actor=CHAIR, venture=asker, now=T0)  # so that DONE tries to advance
    assert sample(asker, "score", 1, T0 + M) == {"ASK-REPLAN": "proposed"}
    assert sample(asker, "ready", 1, T0 + 2 * M) == {"DONE": "pending"}  # exit gate: substages not done
    sample(asker, "quality", 80, T0 + 2 * M)  # hourly: a staleness timer falls due at 1h06m later

    before_tick = T0 + 3 * H
    series = parse(render(tiny, now=before_tick))

    ventures = Counter((str(v.stage), v.status) for v in tiny.ventures())
    assert by(series, "venturegate_ventures", "stage", "status") == {k: float(n) for k, n in ventures.items()}
    assert series["venturegate_samples_ingested_total"][()] == sum(recorded.values()) == 9
    firings = _events_by_trigger(tiny)
    assert firings == {("2", "REDO-RUN"): 3, ("2", "UNDO"): 1, ("2", "ASK-REPLAN"): 1, ("2", "DONE"): 1}
    assert by(series, "venturegate_trigger_firings_total", "stage", "trigger") == {
        k: float(n) for k, n in firings.items()
    }
    assert by(series, "venturegate_gate_verdicts_total", "stage", "gate", "verdict") == {
        ("1", "exit", "passed"): 1.0,  # the advance of shaper
        ("2", "exit", "failed"): 1.0,  # DONE found the exit gate not passed
    }
    entries = Counter(str(visit.stage) for v in tiny.ventures() for visit in tiny.visits(v.id))
    assert by(series, "venturegate_stage_entries_total", "stage") == {(s,): float(n) for s, n in entries.items()}

    pending = Counter((str(a.stage), a.role) for a in tiny.approvals(status="pending"))
    assert pending == {("2", "lead"): 1}
    assert by(series, "venturegate_approvals_pending", "stage", "role") == {k: float(n) for k, n in pending.items()}
    open_escalations = Counter((str(e.stage), e.role) for e in tiny.escalations(status="open"))
    assert sum(open_escalations.values()) == 1
    got = by(series, "venturegate_escalations_open", "stage", "role")
    assert got == {k: float(n) for k, n in open_escalations.items()}

    (visit,) = [x for x in tiny.visits(shaper) if x.exited_at is not None]
    assert visit.exited_at is not None
    assert by(series, "venturegate_stage_duration_seconds_count", "stage", "outcome") == {("1", "passed"): 1.0}
    spent = by(series, "venturegate_stage_duration_seconds_sum", "stage", "outcome")[("1", "passed")]
    assert spent == pytest.approx((visit.exited_at - visit.entered_at).total_seconds(), abs=1e-3)

    rollbacks = tiny.rollbacks()
    assert len(rollbacks) == 1
    rb_count = by(series, "venturegate_rollback_duration_seconds_count", "stage", "outcome")
    assert rb_count == {(str(rollbacks[0].stage), rollbacks[0].outcome): 1.0}
    rb_sum = by(series, "venturegate_rollback_duration_seconds_sum", "stage", "outcome")
    assert list(rb_sum.values()) == [pytest.approx(rollbacks[0].duration_ms / 1000)]

    # The timers due now are exactly what the next tick runs, and the tick's lateness is then measured.
    due = by(series, "venturegate_timers_due", "kind")
    assert due.get(("stale",)) == 1.0
    report = tiny.tick(now=before_tick)
    assert report.timers == sum(due.values()) > 0
    after = parse(render(tiny, now=before_tick))
    assert by(after, "venturegate_timers_due", "kind") == {}
    lag_count = by(after, "venturegate_timer_lag_seconds_count", "kind")
    assert sum(lag_count.values()) == report.timers
    stale_due = T0 + 2 * M + H + 6 * M
    assert by(after, "venturegate_timer_lag_seconds_sum", "kind")[("stale",)] == pytest.approx(
        (before_tick - stale_due).total_seconds(), abs=1e-3
    )
    assert after["venturegate_scrape_duration_seconds"][()] > 0


def test_bundled_workflow_series_match_the_engine(bundled: Engine) -> None:
    eng = bundled
    cache = at_stage(eng, "cache", 28).id
    got = fired(eng.record_sample(cache, "cache_hit_rate", 40, actor=AGENT, now=T0 + M))
    assert got["PERF-002"] == "proposed"  # assisted: an approval request, notified on Slack
    integ = at_stage(eng, "integ", 19, segment="b2b_enterprise").id
    eng.record_sample(integ, "integration_success_rate", 95, actor=AGENT, now=T0 + M)
    eng.record_sample(integ, "integration_success_rate", 92, actor=AGENT, now=T0 + 2 * M)
    eng.record_sample(integ, "integration_success_rate", 50, at=T0, actor=AGENT, now=T0 + 3 * M)  # late, older
    eng.request_approval(integ, "chairman", actor=Actor("lee", "lead"), reason="go-live", now=T0 + 3 * M)
    eng.create_venture("early", "b2c_mass", 30, actor=AGENT, now=T0)  # no input artifacts: blocked on entry
    done = eng.create_venture("done", "b2b_smb", 28, actor=AGENT, now=T0).id
    eng.record_sample(done, "cache_hit_rate", 90, actor=AGENT, now=T0 + M)
    eng.kill(done, actor=LEAD, reason="stopped", now=T0 + 4 * M)

    now = T0 + H
    series = parse(render(eng, now=now))

    assert ("30", "entry", "failed") in by(series, "venturegate_gate_verdicts_total", "stage", "gate", "verdict")
    firings = _events_by_trigger(eng)
    assert ("28", "PERF-002") in firings
    assert by(series, "venturegate_trigger_firings_total", "stage", "trigger") == {
        k: float(n) for k, n in firings.items()
    }
    pending = Counter((str(a.stage), a.role) for a in eng.approvals(status="pending"))
    assert pending[("19", "chairman")] == 1 and sum(pending.values()) >= 2
    assert by(series, "venturegate_approvals_pending", "stage", "role") == {k: float(n) for k, n in pending.items()}

    # Outbox: the approval requests wait on Slack (nothing delivered them); nothing is dead-lettered.
    waiting = eng.outbox_entries("pending", limit=10_000)
    assert waiting, "approval.requested notifies the bundled slack channel"
    channels = sorted(eng.workflow.workflow.notifications.channels)  # type: ignore[union-attr]
    expected = {(status, ch): 0.0 for status in ("pending", "dead") for ch in channels}
    expected.update({("pending", ch): float(n) for ch, n in Counter(e.channel for e in waiting).items()})
    assert by(series, "venturegate_outbox_messages", "status", "channel") == expected
    oldest = min(e.created_at for e in waiting)
    assert series["venturegate_outbox_oldest_pending_seconds"][()] == pytest.approx((now - oldest).total_seconds())

    # Latest by sample time (not by arrival), only for live ventures and their current stage's metrics.
    latest = by(series, "venturegate_metric_latest", "venture", "segment", "stage", "metric")
    assert latest == {
        ("cache", "b2b_smb", "28", "cache_hit_rate"): 40.0,
        ("integ", "b2b_enterprise", "19", "integration_success_rate"): 92.0,
    }
    assert series["venturegate_samples_ingested_total"][()] == 5.0  # the killed venture's sample counts too


def test_a_scrape_of_an_empty_database_has_every_family(tiny: Engine) -> None:
    text = render(tiny).decode()
    families = {f.name: f.type for f in text_string_to_metric_families(text)}
    assert set(families) == {
        "venturegate_ventures",
        "venturegate_samples_ingested",
        "venturegate_trigger_firings",
        "venturegate_gate_verdicts",
        "venturegate_stage_entries",
        "venturegate_approvals_pending",
        "venturegate_escalations_open",
        "venturegate_outbox_messages",
        "venturegate_outbox_oldest_pending_seconds",
        "venturegate_timers_due",
        "venturegate_timer_lag_seconds",
        "venturegate_stage_duration_seconds",
        "venturegate_rollback_duration_seconds",
        "venturegate_job_duration_seconds",
        "venturegate_jobs",
        "venturegate_metric_latest",
        "venturegate_scrape_duration_seconds",
    }
    assert {name for name, kind in families.items() if kind == "counter"} == {
        "venturegate_samples_ingested",
        "venturegate_trigger_firings",
        "venturegate_gate_verdicts",
        "venturegate_stage_entries",
    }
    assert parse(text)["venturegate_outbox_oldest_pending_seconds"][()] == 0.0


def test_job_series_count_running_jobs_and_time_finished_ones(tiny: Engine) -> None:
    v = tiny.create_venture("crewed", "b2b_smb", 1, actor=AGENT, now=T0).id
    done = tiny.create_job(v, 1, "fake", {}, actor=LEAD, now=T0)
    tiny.claim_job(done.id, worker="w", now=T0 + M)
    tiny.finish_job(done.id, "succeeded", result={}, now=T0 + 3 * M)
    waiting = tiny.create_job(v, 1, "other", {}, actor=LEAD, now=T0 + 4 * M)
    series = parse(render(tiny, now=T0 + 5 * M))
    assert by(series, "venturegate_job_duration_seconds_count", "stage", "crew", "status") == {
        ("1", "fake", "succeeded"): 1.0
    }
    assert by(series, "venturegate_job_duration_seconds_sum", "stage", "crew", "status") == {
        ("1", "fake", "succeeded"): pytest.approx(120.0, abs=1e-3)
    }
    assert by(series, "venturegate_jobs", "stage", "crew", "status") == {("1", "other", "queued"): 1.0}
    assert waiting.status == "queued"
