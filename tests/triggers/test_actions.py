"""What a fired trigger does: recursion to a substage or an earlier stage, rollback, advance."""

from __future__ import annotations

from datetime import timedelta

from tests.conftest import AGENT, CHAIR, LEAD, T0
from tests.triggers.helpers import at_stage, events, fired, put, subs, trig
from venturegate.engine import Engine, SampleIn

M = timedelta(minutes=1)


def test_recursion_to_a_substage_reopens_it_and_the_later_ones(tiny: Engine) -> None:
    v = tiny.create_venture("redo", "b2b_smb", 2, actor=AGENT, now=T0).id
    for sub in ("2.1", "2.2", "2.3"):
        tiny.complete_substage(v, sub, actor=AGENT, now=T0)
    got = tiny.record_sample(v, "errors", 8, actor=AGENT, now=T0 + M)
    assert [(f.trigger, f.outcome, f.detail) for f in got.fired] == [("REDO-RUN", "acted", "back to 2.2")]
    assert subs(tiny, v) == {"2.1": "done", "2.2": "open", "2.3": "open"}
    (rec,) = events(tiny, v, "recursion")
    assert (rec.stage, rec.substage, rec.actor_kind) == (2, "2.2", "system")
    assert rec.reason.startswith("REDO-RUN:") and rec.data == {"trigger": "REDO-RUN", "to": "2.2"}
    venture = tiny.venture(v)
    assert (venture.stage, venture.status) == (2, "active")
    assert [(x.stage, x.attempt, x.outcome) for x in tiny.visits(v)] == [(2, 1, None)]  # same visit
    assert trig(tiny, v, "REDO-RUN")["acted"] == 1


def test_recursion_to_an_earlier_stage_opens_a_new_visit(tiny: Engine) -> None:
    v = tiny.create_venture("bounce", "b2b_smb", 1, actor=AGENT, now=T0).id
    tiny.advance(v, actor=LEAD, now=T0 + M)
    got = tiny.record_sample(v, "broken", 1, actor=AGENT, now=T0 + 2 * M)
    assert [(f.trigger, f.outcome, f.detail) for f in got.fired] == [("BACK-TO-1", "acted", "back to stage 1")]
    venture = tiny.venture(v)
    assert (venture.stage, venture.status) == (1, "active")
    visits = tiny.visits(v)
    assert [(x.stage, x.attempt, x.outcome) for x in visits] == [(1, 1, "passed"), (2, 1, "recursed"), (1, 2, None)]
    assert visits[-1].reason == "BACK-TO-1: broken > 0" and visits[-1].entered_at == T0 + 2 * M
    (rec,) = events(tiny, v, "recursion")
    assert (rec.stage, rec.data) == (1, {"trigger": "BACK-TO-1", "from": 2, "to": 1})
    assert events(tiny, v, "stage.entered")[-1].data == {"attempt": 2}


def test_integration_003_sends_the_venture_back_to_stage_10(bundled: Engine) -> None:
    v = at_stage(bundled, "slow-apis", 19, "b2b_enterprise").id
    got = bundled.record_sample(v, "latency_p95", 1500, actor=AGENT, now=T0 + M)
    assert [(f.trigger, f.kind, f.action, f.outcome) for f in got.fired] == [
        ("INTEGRATION-003", "recursion", {"go_to": 10, "severity": "P1", "notify": ["exec"]}, "acted")
    ]
    venture = bundled.venture(v)
    assert venture.stage == 10
    assert venture.status == "blocked"  # stage 10's entry gate wants its attestations again
    visits = bundled.visits(v)
    assert [(x.stage, x.attempt, x.outcome) for x in visits] == [(19, 1, "recursed"), (10, 1, None)]
    assert visits[-1].reason.startswith("INTEGRATION-003: ")
    (rec,) = events(bundled, v, "recursion")
    assert rec.data == {"trigger": "INTEGRATION-003", "from": 19, "to": 10}


def test_rollback_and_alert_record_their_decision_and_change_nothing_else(tiny: Engine) -> None:
    v = tiny.create_venture("undo", "b2b_smb", 2, actor=AGENT, now=T0).id
    tiny.complete_substage(v, "2.1", actor=AGENT, now=T0)
    got = tiny.record_sample(v, "incidents", 2, actor=AGENT, now=T0 + M)
    assert [(f.trigger, f.outcome) for f in got.fired] == [("UNDO", "acted")]
    (rb,) = events(tiny, v, "rollback.decided")
    assert (rb.stage, rb.actor_kind) == (2, "system")
    assert rb.data == {"trigger": "UNDO", "to": "pre-stage-2", "scope": ["traffic"]}
    assert rb.reason.startswith("UNDO:")
    assert trig(tiny, v, "UNDO")["acted"] == 1

    assert fired(tiny.record_sample(v, "quality", 20, actor=AGENT, now=T0 + 2 * M)) == {"LOW-QUALITY": "notified"}
    (alert,) = events(tiny, v, "alert")
    assert alert.data == {"trigger": "LOW-QUALITY", "severity": "P1", "notify": ["lead"]}

    venture = tiny.venture(v)
    assert (venture.stage, venture.status) == (2, "active")
    assert subs(tiny, v) == {"2.1": "done", "2.2": "open", "2.3": "open"}
    assert events(tiny, v, "recursion") == [] and tiny.approvals(v) == []


DEPLOY_GREEN = {
    "green_traffic_share": 100,
    "downtime": 0,
    "deployment_error_rate": 0.5,
    "response_time_p95": 300,
    "smoke_test_pass_rate": 100,
    "rollback_test_pass_rate": 100,
}


def test_deploy_004_advances_only_once_the_exit_gate_passes(bundled: Engine) -> None:
    v = at_stage(bundled, "deployer", 30).id
    bundled.set_progression(30, "auto", actor=CHAIR, now=T0)  # as if stage 30 had earned it (triggers obey it)
    batch = [SampleIn(v, m, x, T0, f"g-{m}") for m, x in DEPLOY_GREEN.items()]
    got = bundled.record_samples(batch, actor=AGENT, now=T0)
    assert [(f.trigger, f.mode, f.outcome) for f in got.fired] == [("DEPLOY-004", "auto", "pending")]
    assert bundled.venture(v).stage == 30
    (waiting,) = events(bundled, v, "trigger.waiting")
    assert waiting.data is not None and waiting.data["passed"] is False

    # Finish the stage: substages (30.2 needs the Chairman), then its outputs; no new sample arrives.
    bundled.complete_substage(v, "30.1", actor=AGENT, now=T0 + M)
    approval = bundled.request_approval(v, "chairman", actor=LEAD, now=T0 + M)
    bundled.decide_approval(approval.id, True, actor=CHAIR, now=T0 + M)
    bundled.complete_substage(v, "30.2", actor=AGENT, now=T0 + M)
    bundled.complete_substage(v, "30.3", actor=AGENT, now=T0 + M)
    *first, last = bundled.workflow.workflow.stage(30).outputs  # type: ignore[union-attr]
    put(bundled, v, first, T0 + M)
    assert bundled.venture(v).stage == 30
    put(bundled, v, [last], T0 + M)
    assert bundled.venture(v).stage == 31  # the last missing fact (an artifact) let the waiting trigger advance
    assert len(events(bundled, v, "trigger.waiting")) > 1  # it retried as each fact arrived, without new samples
    assert len(events(bundled, v, "trigger.fired")) == 1
    (moved,) = events(bundled, v, "venture.advanced")
    assert (moved.data, moved.actor_kind, moved.at) == ({"from": 30, "to": 31}, "system", T0 + M)
    assert [(x.stage, x.outcome) for x in bundled.visits(v)] == [(30, "passed"), (31, None)]


def test_advance_trigger_only_notifies_while_the_stage_is_manual(bundled: Engine) -> None:
    v = at_stage(bundled, "careful", 30).id
    batch = [SampleIn(v, m, x, T0, f"g-{m}") for m, x in DEPLOY_GREEN.items()]
    got = bundled.record_samples(batch, actor=AGENT, now=T0)
    assert [(f.trigger, f.mode, f.outcome) for f in got.fired] == [("DEPLOY-004", "manual", "notified")]
    assert [e.reason for e in events(bundled, v, "trigger.notified")] == ["DEPLOY-004"]
    assert bundled.venture(v).stage == 30 and events(bundled, v, "trigger.waiting") == []
