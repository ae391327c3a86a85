"""Venture lifecycle through the engine API, on SQLite and PostgreSQL."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta

import pytest

from tests.conftest import AGENT, CHAIR, LEAD, T0
from venturegate.engine import BadInput, Conflict, Engine, Forbidden, GateNotPassed, NotFound

BRIEF = {"title": "Pet insurance", "problem": "Vet bills surprise owners"}


def _ready_stage_1(eng: Engine, name: str = "acme", segment: str = "b2b_smb") -> int:
    v = eng.create_venture(name, segment, actor=LEAD)
    eng.complete_substage(v.id, "1.1", actor=LEAD)
    eng.put_artifact(v.id, "idea_brief", BRIEF, actor=AGENT)
    eng.record_sample(v.id, "idea_score", 7, actor=AGENT)
    eng.attest(v.id, "Founder interviewed", actor=LEAD)
    return v.id


def test_create_pins_workflow_and_records_event(engine: Engine) -> None:
    v = engine.create_venture("acme", "b2b_smb", actor=LEAD)
    assert (v.stage, v.status, v.workflow_digest) == (1, "active", engine.workflow.digest)
    kinds = [e.kind for e in engine.events(v.id)]
    assert kinds == ["venture.created", "stage.entered"]
    first = engine.events(v.id)[0]
    assert (first.actor, first.actor_role, first.actor_kind, first.at) == ("lee", "lead", "human", T0)


@pytest.mark.parametrize(
    ("name", "segment", "stage", "where"),
    [("", "b2b_smb", 1, "name"), ("x", "b2b_big", 1, "--segment"), ("42", "b2b_smb", 1, "name")],
)
def test_create_rejects_bad_input(engine: Engine, name: str, segment: str, stage: int, where: str) -> None:
    with pytest.raises(BadInput) as exc:
        engine.create_venture(name, segment, stage, actor=LEAD)
    assert exc.value.where == where
    assert engine.ventures() == []


def test_duplicate_name_and_unknown_stage(engine: Engine) -> None:
    engine.create_venture("acme", "b2b_smb", actor=LEAD)
    with pytest.raises(Conflict, match="already exists"):
        engine.create_venture("acme", "b2c_mass", actor=LEAD)
    with pytest.raises(NotFound, match="stage 9"):
        engine.create_venture("other", "b2c_mass", 9, actor=LEAD)
    assert len(engine.ventures()) == 1


def test_exit_gate_explains_each_check(engine: Engine) -> None:
    v = engine.create_venture("acme", "b2b_smb", actor=LEAD)
    result = engine.check_gate(v.id)
    assert not result.passed
    verdicts = {c.kind: c.verdict for c in result.checks}
    assert verdicts == {"substages": "fail", "artifact": "fail", "condition": "unknown", "attestation": "fail"}
    cond = next(c for c in result.checks if c.kind == "condition")
    assert cond.name == "Idea is strong enough"
    assert cond.reason == "idea_score has never been measured"
    engine.record_sample(v.id, "idea_score", 5, actor=AGENT)
    cond = next(c for c in engine.check_gate(v.id).checks if c.kind == "condition")
    assert (cond.verdict, cond.observed, cond.expected) == ("fail", 5.0, ">= 6")


def test_segment_threshold_applies(engine: Engine) -> None:
    smb = engine.create_venture("smb", "b2b_smb", actor=LEAD)
    mass = engine.create_venture("mass", "b2c_mass", actor=LEAD)
    for v in (smb, mass):
        engine.record_sample(v.id, "idea_score", 6.5, actor=AGENT)
    cond = {v.name: next(c for c in engine.check_gate(v.id).checks if c.kind == "condition") for v in (smb, mass)}
    assert (cond["smb"].verdict, cond["mass"].verdict) == ("pass", "fail")
    assert cond["mass"].expected == ">= 7"


def test_advance_enters_next_stage_and_blocks_on_entry_gate(engine: Engine) -> None:
    vid = _ready_stage_1(engine)
    v = engine.advance(vid, actor=LEAD)
    assert (v.stage, v.status) == (2, "blocked")
    assert v.status_detail is not None and v.status_detail["passed"] is False
    with pytest.raises(Conflict, match="blocked"):
        engine.advance(vid, actor=LEAD)
    engine.attest(vid, "Budget approved", actor=LEAD)
    assert engine.venture(vid).status == "active"
    kinds = [e.kind for e in engine.events(vid)]
    assert kinds[-4:] == ["stage.entered", "venture.blocked", "criterion.attested", "venture.unblocked"]
    visits = engine.visits(vid)
    assert [(x.stage, x.attempt, x.outcome) for x in visits] == [(1, 1, "passed"), (2, 1, None)]


def test_failed_advance_changes_nothing(engine: Engine) -> None:
    v = engine.create_venture("acme", "b2b_smb", actor=LEAD)
    before = engine.events(v.id)
    with pytest.raises(GateNotPassed) as exc:
        engine.advance(v.id, actor=LEAD)
    assert exc.value.exit_code == 3
    assert engine.venture(v.id).stage == 1
    assert engine.events(v.id) == before


def test_substage_rules(engine: Engine) -> None:
    v = engine.create_venture("acme", "b2b_smb", actor=LEAD)
    with pytest.raises(BadInput, match="not part of stage 1"):
        engine.complete_substage(v.id, "2.1", actor=LEAD)
    with pytest.raises(BadInput, match="not attested"):
        engine.complete_substage(v.id, "1.1", actor=LEAD, items=["Title written"])
    done = engine.complete_substage(v.id, "1.1", actor=LEAD, items=["Title written", "Problem stated"])
    assert done.status == "done"
    with pytest.raises(Conflict, match="already complete"):
        engine.complete_substage(v.id, "1.1", actor=LEAD)


def test_substage_entry_needs_approval_by_its_role(engine: Engine) -> None:
    vid = _ready_stage_1(engine)
    engine.advance(vid, actor=LEAD)
    engine.attest(vid, "Budget approved", actor=LEAD)
    engine.complete_substage(vid, "2.1", actor=LEAD)
    with pytest.raises(GateNotPassed, match=r"substage 2\.2"):
        engine.complete_substage(vid, "2.2", actor=LEAD)
    req = engine.request_approval(vid, "chairman", actor=LEAD, reason="ship it")
    assert req.expires_at == T0 + timedelta(hours=24)
    with pytest.raises(Forbidden):
        engine.decide_approval(req.id, True, actor=LEAD)
    engine.decide_approval(req.id, True, actor=CHAIR, reason="go")
    assert engine.complete_substage(vid, "2.2", actor=LEAD).status == "done"


def test_approval_expiry_and_rejection(engine: Engine) -> None:
    vid = _ready_stage_1(engine)
    engine.advance(vid, actor=LEAD)
    engine.attest(vid, "Budget approved", actor=LEAD)
    req = engine.request_approval(vid, "chairman", actor=LEAD)
    late = T0 + timedelta(hours=25)
    with pytest.raises(Conflict, match="expired"):
        engine.decide_approval(req.id, True, actor=CHAIR, now=late)
    assert engine.approvals(vid)[0].status == "expired"
    again = engine.request_approval(vid, "chairman", actor=LEAD, now=late)
    assert again.id != req.id
    rejected = engine.decide_approval(again.id, False, actor=CHAIR, now=late)
    assert rejected.status == "rejected"
    with pytest.raises(Conflict, match="already rejected"):
        engine.decide_approval(again.id, True, actor=CHAIR, now=late)


def test_customer_checkpoint_and_window_condition(engine: Engine) -> None:
    vid = _ready_stage_1(engine)
    engine.advance(vid, actor=LEAD)
    engine.attest(vid, "Budget approved", actor=LEAD)
    for i, ms in enumerate([120, 180, 900]):
        engine.record_sample(vid, "latency_ms", ms, actor=AGENT, at=T0 - timedelta(minutes=i))
    checks = {c.kind: c for c in engine.check_gate(vid).checks}
    assert checks["condition"].verdict == "fail"
    assert checks["customer"].verdict == "fail" and checks["customer"].observed == 0
    for score in (8, 9, 7):
        engine.record_sample(vid, "nps", score, actor=AGENT)
    assert {c.kind: c.verdict for c in engine.check_gate(vid).checks}["customer"] == "pass"


def test_pause_resume_kill(engine: Engine) -> None:
    v = engine.create_venture("acme", "b2b_smb", actor=LEAD)
    assert engine.pause(v.id, actor=LEAD, reason="holiday").status == "paused"
    with pytest.raises(Conflict):
        engine.complete_substage(v.id, "1.1", actor=LEAD)
    assert engine.resume(v.id, actor=LEAD).status == "active"
    assert engine.kill(v.id, actor=LEAD, reason="no market").status == "killed"
    with pytest.raises(Conflict):
        engine.resume(v.id, actor=LEAD)
    with pytest.raises(Conflict, match="killed"):
        engine.record_sample(v.id, "idea_score", 3, actor=AGENT)


def test_state_survives_reopen(engine: Engine, reopen: Callable[[Engine], Engine]) -> None:
    vid = _ready_stage_1(engine)
    again = reopen(engine)
    assert again.check_gate(vid).passed
    again.advance(vid, actor=LEAD)
    third = reopen(again)
    assert third.venture(vid).stage == 2
    assert [x.stage for x in third.visits(vid)] == [1, 2]


def test_attest_rules(engine: Engine) -> None:
    v = engine.create_venture("acme", "b2b_smb", actor=LEAD)
    with pytest.raises(BadInput, match="criteria"):
        engine.attest(v.id, "Something else", actor=LEAD)
    with pytest.raises(BadInput, match="people"):
        engine.attest(v.id, "Founder interviewed", actor=AGENT)
    engine.attest(v.id, "Founder interviewed", actor=LEAD)
    engine.attest(v.id, "Founder interviewed", actor=LEAD)
    assert sum(e.kind == "criterion.attested" for e in engine.events(v.id)) == 1


def test_last_stage_completes_venture(engine: Engine) -> None:
    v = engine.create_venture("late", "b2b_smb", 3, actor=LEAD)
    req = engine.request_approval(v.id, "chairman", actor=LEAD)
    engine.decide_approval(req.id, True, actor=CHAIR)
    assert engine.advance(v.id, actor=LEAD).status == "completed"
