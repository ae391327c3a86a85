"""Modes: auto acts, assisted proposes to a role and acts only when approved, manual only notifies."""

from __future__ import annotations

from datetime import timedelta

import pytest

from tests.conftest import AGENT, LEAD, T0
from tests.triggers.helpers import events, pending, subs, trig
from venturegate.engine import Conflict, Engine

M = timedelta(minutes=1)
H = timedelta(hours=1)


def test_assisted_trigger_waits_for_its_role(tiny: Engine) -> None:
    """ASK-REPLAN (`score < 3`, assisted, role lead, go to 2.1): approved, rejected and expired, one venture each."""
    ids = {}
    for name in ("approved", "rejected", "expired"):
        v = ids[name] = tiny.create_venture(name, "b2b_smb", 2, actor=AGENT, now=T0).id
        tiny.complete_substage(v, "2.1", actor=AGENT, now=T0)
        tiny.complete_substage(v, "2.2", actor=AGENT, now=T0)
        got = tiny.record_sample(v, "score", 2, actor=AGENT, now=T0 + M)
        assert [(f.trigger, f.mode, f.outcome) for f in got.fired] == [("ASK-REPLAN", "assisted", "proposed")]
        (ask,) = pending(tiny, v)
        assert (ask.role, ask.stage, ask.requested_by) == ("lead", 2, "venturegate")
        assert ask.payload == {"trigger": "ASK-REPLAN", "stage": 2, "action": {"go_to": "2.1"}}
        assert ask.expires_at == T0 + M + 2 * H  # the stage's policy for lead
        assert got.fired[0].detail == f"approval #{ask.id} for lead"
        # Proposed, not done: nothing moved yet.
        assert subs(tiny, v) == {"2.1": "done", "2.2": "done", "2.3": "open"}
        assert events(tiny, v, "recursion") == [] and trig(tiny, v, "ASK-REPLAN")["acted"] == 0

    approved = ids["approved"]
    tiny.decide_approval(pending(tiny, approved)[0].id, True, actor=LEAD, now=T0 + 30 * M)
    assert subs(tiny, approved) == {"2.1": "open", "2.2": "open", "2.3": "open"}
    (rec,) = events(tiny, approved, "recursion")
    assert (rec.substage, rec.actor, rec.actor_kind, rec.at) == ("2.1", "lee", "human", T0 + 30 * M)
    assert trig(tiny, approved, "ASK-REPLAN")["acted"] == 1

    rejected = ids["rejected"]
    tiny.decide_approval(pending(tiny, rejected)[0].id, False, actor=LEAD, reason="score is noise", now=T0 + 30 * M)
    assert [e.reason for e in events(tiny, rejected, "trigger.rejected")] == ["ASK-REPLAN"]
    assert events(tiny, rejected, "recursion") == []
    assert subs(tiny, rejected) == {"2.1": "done", "2.2": "done", "2.3": "open"}
    assert tiny.approvals(rejected)[0].status == "rejected"

    expired = ids["expired"]
    ask = pending(tiny, expired)[0]
    assert tiny.tick(now=T0 + M + 2 * H - timedelta(seconds=1)).expired == []
    report = tiny.tick(now=T0 + M + 2 * H)
    assert report.expired == [ask.id]
    assert tiny.approvals(expired)[0].status == "expired"
    (gone,) = events(tiny, expired, "approval.expired")
    assert gone.data == {"approval": ask.id, "role": "lead", "trigger": "ASK-REPLAN"}
    assert events(tiny, expired, "recursion") == [] and events(tiny, expired, "escalation.opened") == []
    assert subs(tiny, expired) == {"2.1": "done", "2.2": "done", "2.3": "open"}
    assert tiny.venture(expired).status == "active"  # lead's policy here is `expire`, not `escalate`
    with pytest.raises(Conflict):
        tiny.decide_approval(ask.id, True, actor=LEAD, now=T0 + 3 * H)
    assert events(tiny, expired, "recursion") == []


def test_manual_trigger_only_notifies(tiny: Engine) -> None:
    v = tiny.create_venture("told", "b2b_smb", 2, actor=AGENT, now=T0).id
    tiny.complete_substage(v, "2.1", actor=AGENT, now=T0)
    got = tiny.record_sample(v, "complaints", 3, actor=AGENT, now=T0 + M)
    assert [(f.trigger, f.mode, f.outcome, f.detail) for f in got.fired] == [
        ("TELL-LEAD", "manual", "notified", "notified lead")
    ]
    (note,) = events(tiny, v, "trigger.notified")
    assert (note.reason, note.data) == ("TELL-LEAD", {"notify": ["lead"], "severity": "P2"})
    assert events(tiny, v, "recursion") == [] and pending(tiny, v) == []
    assert subs(tiny, v)["2.1"] == "done"
    row = trig(tiny, v, "TELL-LEAD")
    assert (row["state"], row["fired"], row["acted"]) == ("firing", 1, 0)
