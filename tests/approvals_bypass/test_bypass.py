"""Emergency bypass of an approval: who may, with what reason, what it records, notifies and flags until reviewed."""

from __future__ import annotations

from datetime import timedelta

import pytest

from tests.conftest import CHAIR, LEAD, T0
from venturegate.definitions.loader import load_workflow
from venturegate.engine import Actor, Engine
from venturegate.engine.exceptions import BadInput, Conflict, Forbidden
from venturegate.store.database import connect

EXEC = Actor("eve", "exec")
CHAIR2 = Actor("cy", "chairman")


def _pending(eng: Engine, role: str = "lead") -> tuple[int, int]:
    v = eng.create_venture("acme", "b2b_smb", actor=LEAD)
    return v.id, eng.request_approval(v.id, role, actor=LEAD, reason="ship the cache change").id


def test_chairman_bypass_counts_as_granted_and_flags_the_venture(eng: Engine) -> None:
    vid, aid = _pending(eng)
    assert not eng.check_gate(vid).passed
    a = eng.bypass_approval(aid, actor=CHAIR, reason="payment outage, cannot wait a day")
    assert (a.status, a.decided_by, a.decision_reason, a.decided_at) == (
        "bypassed",
        "ada",
        "payment outage, cannot wait a day",
        T0,
    )
    assert a.awaiting_review and a.reviewed_by is None
    result = eng.check_gate(vid)
    (check,) = result.checks
    assert result.passed and check.observed == "bypassed"
    assert check.reason == f"request #{aid} bypassed by ada: payment outage, cannot wait a day"
    assert [x.id for x in eng.unreviewed_bypasses()] == [aid]
    assert [x.id for x in eng.approvals(vid, unreviewed=True)] == [aid]
    event = eng.events(vid, kind="approval.bypassed")[0]
    assert event.actor == "ada" and event.reason == "payment outage, cannot wait a day"
    assert event.data == {"approval": aid, "role": "lead", "review_role": "chairman"}
    assert eng.advance(vid, actor=LEAD).stage == 2


def test_bypass_is_notified_through_the_outbox(eng: Engine) -> None:
    _, aid = _pending(eng)
    eng.bypass_approval(aid, actor=CHAIR, reason="outage")
    rows = [e for e in eng.outbox_entries() if e.kind == "approval.bypassed"]
    assert [(e.channel, e.status, e.severity) for e in rows] == [("hook", "pending", "P1")]


@pytest.mark.parametrize(
    ("role", "actor", "reason", "error", "message"),
    [
        ("lead", LEAD, "outage", Forbidden, r"only chairman may bypass approval #\d+; lee acts as lead"),
        ("lead", EXEC, "outage", Forbidden, "only chairman may bypass"),
        ("lead", CHAIR, "   ", BadInput, r"--reason: bypassing approval #\d+ needs a reason"),
        ("exec", CHAIR, "outage", Forbidden, "may not be bypassed: its policy says bypass: null"),
    ],
)
def test_refused_bypass_changes_nothing(
    eng: Engine, role: str, actor: Actor, reason: str, error: type[Exception], message: str
) -> None:
    vid, aid = _pending(eng, role)
    with pytest.raises(error, match=message):
        eng.bypass_approval(aid, actor=actor, reason=reason)
    assert eng.approvals(vid)[0].status == "pending"
    assert eng.events(vid, kind="approval.bypassed") == []
    assert eng.unreviewed_bypasses() == []


def test_reason_is_optional_when_the_policy_says_so(eng: Engine) -> None:
    _, aid = _pending(eng, "plan")
    assert eng.bypass_approval(aid, actor=EXEC).status == "bypassed"


def test_only_a_pending_approval_can_be_bypassed(eng: Engine) -> None:
    vid, aid = _pending(eng)
    eng.decide_approval(aid, True, actor=Actor("lou", "lead"))
    with pytest.raises(Conflict, match=r"is approved; only a pending approval can be bypassed"):
        eng.bypass_approval(aid, actor=CHAIR, reason="outage")
    late = T0 + timedelta(hours=30)
    again = eng.request_approval(vid, "lead", actor=LEAD, now=T0 + timedelta(hours=1)).id
    with pytest.raises(Conflict, match="expired at"):
        eng.bypass_approval(again, actor=CHAIR, reason="outage", now=late)
    third = eng.request_approval(vid, "lead", actor=LEAD, now=late).id
    eng.bypass_approval(third, actor=CHAIR, reason="outage", now=late)
    with pytest.raises(Conflict, match="is bypassed"):
        eng.bypass_approval(third, actor=CHAIR, reason="again", now=late)


def test_review_lifts_the_flag_and_survives_a_reopen(eng: Engine, db_url: str, workflow_path: object) -> None:
    vid, aid = _pending(eng)
    eng.bypass_approval(aid, actor=CHAIR, reason="outage")
    with pytest.raises(Forbidden, match="bypass reviews are for chairman; lee acts as lead"):
        eng.review_bypass(aid, actor=LEAD, reason="fine")
    with pytest.raises(Forbidden, match=r"ada bypassed approval #\d+; another chairman must review it"):
        eng.review_bypass(aid, actor=CHAIR, reason="fine")
    with pytest.raises(BadInput, match="--reason"):
        eng.review_bypass(aid, actor=CHAIR2, reason="")
    assert eng.unreviewed_bypasses(vid)[0].id == aid

    reviewed = eng.review_bypass(aid, actor=CHAIR2, reason="justified: outage confirmed", now=T0 + timedelta(hours=2))
    assert (reviewed.reviewed_by, reviewed.reviewed_at, reviewed.review_reason) == (
        "cy",
        T0 + timedelta(hours=2),
        "justified: outage confirmed",
    )
    assert not reviewed.awaiting_review and reviewed.status == "bypassed"
    event = eng.events(vid, kind="approval.reviewed")[0]
    assert (event.actor, event.data) == (
        "cy",
        {"approval": aid, "role": "lead", "bypassed_by": "ada", "still_flagged": []},
    )
    with pytest.raises(Conflict, match="already reviewed by cy"):
        eng.review_bypass(aid, actor=CHAIR2, reason="twice")

    db = connect(db_url)
    reopened = Engine(db, load_workflow(str(workflow_path)), clock=lambda: T0)
    try:
        assert reopened.unreviewed_bypasses() == []
        assert reopened.approvals(vid)[0].reviewed_by == "cy"
    finally:
        db.dispose()


def test_only_a_bypass_can_be_reviewed(eng: Engine) -> None:
    _, aid = _pending(eng)
    with pytest.raises(Conflict, match="is pending, not bypassed"):
        eng.review_bypass(aid, actor=CHAIR2, reason="look")
