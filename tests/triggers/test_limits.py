"""Retry limits and loop prevention: past the limit the action is not taken; the venture pauses and escalates."""

from __future__ import annotations

from datetime import datetime, timedelta

from tests.conftest import AGENT, CHAIR, LEAD, T0
from tests.triggers.helpers import events, fired, subs, trig
from venturegate.engine import Engine

M = timedelta(minutes=1)
D = timedelta(days=1)


def test_past_max_the_venture_pauses_with_an_escalation_until_resolved(tiny: Engine) -> None:
    """REDO-RUN (`errors > 5`, go to 2.2, max 2): the third firing escalates instead of acting."""
    v = tiny.create_venture("stubborn", "b2b_smb", 2, actor=AGENT, now=T0).id
    t = T0
    for n in (1, 2):
        t += M
        assert fired(tiny.record_sample(v, "errors", 9, actor=AGENT, now=t)) == {"REDO-RUN": "acted"}
        t += M
        tiny.record_sample(v, "errors", 0, actor=AGENT, now=t)  # the episode ends
        assert trig(tiny, v, "REDO-RUN")["acted"] == n
    for sub in ("2.1", "2.2", "2.3"):
        tiny.complete_substage(v, sub, actor=AGENT, now=t)

    got = tiny.record_sample(v, "errors", 9, actor=AGENT, now=t + M)
    assert [(f.trigger, f.outcome, f.detail) for f in got.fired] == [("REDO-RUN", "escalated", "SD-2-ESCALATION-1")]
    assert len(events(tiny, v, "recursion")) == 2  # not taken the third time
    assert subs(tiny, v) == {"2.1": "done", "2.2": "done", "2.3": "done"}
    venture = tiny.venture(v)
    assert (venture.status, venture.status_detail) == (
        "paused",
        {"escalation": "SD-2-ESCALATION-1", "reason": "REDO-RUN fired after 2 recursions (limit 2)"},
    )
    (esc,) = tiny.escalations()
    assert (esc.code, esc.venture_id, esc.stage, esc.trigger_id, esc.role, esc.status) == (
        "SD-2-ESCALATION-1",
        v,
        2,
        "REDO-RUN",
        "lead",
        "open",
    )
    history = [h["kind"] for h in esc.history]
    assert history.count("recursion") == 2 and history[-1] == "trigger.fired"
    assert tiny.escalations(status="open", ref=v) == [esc]
    # A paused venture judges nothing.
    assert tiny.record_sample(v, "errors", 0, actor=AGENT, now=t + 2 * M).fired == []

    done = tiny.resolve_escalation(esc.code, "2.2", actor=LEAD, reason="fixed the flaky runner", now=t + 3 * M)
    assert (done.status, done.resolved_by, done.resume_at, done.resolved_at) == ("resolved", "lee", "2.2", t + 3 * M)
    assert tiny.venture(v).status == "active"
    assert subs(tiny, v) == {"2.1": "done", "2.2": "open", "2.3": "open"}
    row = trig(tiny, v, "REDO-RUN")
    assert (row["acted"], row["state"]) == (0, "inactive")
    (ev,) = events(tiny, v, "escalation.resolved")
    assert ev.data == {"code": "SD-2-ESCALATION-1", "resume_at": "2.2"} and ev.actor == "lee"
    # The count starts again: the next failure acts.
    assert fired(tiny.record_sample(v, "errors", 9, actor=AGENT, now=t + 4 * M)) == {"REDO-RUN": "acted"}


def bounce(eng: Engine, v: int, at: datetime) -> dict[str, str]:
    """From stage 2, a `broken` sample that sends the venture back to stage 1 (BACK-TO-1)."""
    assert eng.venture(v).stage == 2
    return fired(eng.record_sample(v, "broken", 1, actor=AGENT, now=at))


def test_bouncing_to_the_same_stage_too_often_escalates(tiny: Engine) -> None:
    """Loop prevention: max_bounces 2 within 7 days; the third bounce escalates, wherever the venture started."""
    assert tiny.workflow.workflow.defaults.loop_prevention.max_bounces == 2
    from_start = tiny.create_venture("from-start", "b2b_smb", 1, actor=AGENT, now=T0).id
    mid_way = tiny.create_venture("mid-way", "b2b_smb", 2, actor=AGENT, now=T0).id  # never saw stage 1
    tiny.advance(from_start, actor=LEAD, now=T0)
    for v in (from_start, mid_way):
        t = T0 + D
        for _ in range(2):
            assert bounce(tiny, v, t) == {"BACK-TO-1": "acted"}
            assert tiny.venture(v).stage == 1
            tiny.advance(v, actor=LEAD, now=t + M)
            # Leaving stage 2 ended the episode: the same bad data fires again on return (no good sample between).
            assert trig(tiny, v, "BACK-TO-1")["state"] == "inactive"
            t += D
        got = bounce(tiny, v, t)
        assert list(got.values()) == ["escalated"], v
        venture = tiny.venture(v)
        assert (venture.stage, venture.status) == (2, "paused")  # the third bounce did not happen
        assert len(events(tiny, v, "recursion")) == 2
        esc = tiny.escalations(ref=v)[0]
        assert (esc.role, esc.trigger_id, esc.status) == ("chairman", "BACK-TO-1", "open")
        assert esc.reason.startswith("loop: stage 1 re-entered 2 times within 7d")
    assert [e.code for e in tiny.escalations()] == ["SD-2-ESCALATION-2", "SD-2-ESCALATION-1"]

    # The Chairman resumes it in stage 2 and the trigger's own count is reset.
    tiny.resolve_escalation("SD-2-ESCALATION-2", "2.1", actor=CHAIR, now=T0 + 4 * D)
    assert tiny.venture(mid_way).status == "active"
    assert trig(tiny, mid_way, "BACK-TO-1")["acted"] == 0


def test_bounces_older_than_the_window_do_not_count(tiny: Engine) -> None:
    v = tiny.create_venture("patient", "b2b_smb", 2, actor=AGENT, now=T0).id
    for t in (T0 + M, T0 + 8 * D, T0 + 8 * D + 2 * M):  # the first is outside the 7-day window by the third
        assert bounce(tiny, v, t) == {"BACK-TO-1": "acted"}, t
        tiny.advance(v, actor=LEAD, now=t + M)
    assert list(bounce(tiny, v, T0 + 9 * D).values()) == ["escalated"]
