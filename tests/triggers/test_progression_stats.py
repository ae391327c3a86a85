"""Progression modes earned by successful runs and lost by failures, and the figures `stats()` reads."""

from __future__ import annotations

from datetime import timedelta

from tests.conftest import AGENT, LEAD, T0
from tests.triggers.helpers import fired
from venturegate.engine import Engine

M = timedelta(minutes=1)
H = timedelta(hours=1)


def test_successful_runs_promote_a_stage_and_a_recursion_demotes_it(tiny: Engine) -> None:
    n = 0

    def runs(count: int) -> str:
        """`count` ventures each pass through stage 1 (a successful run); the stage's mode afterwards."""
        nonlocal n
        for _ in range(count):
            n += 1
            v = tiny.create_venture(f"run-{n}", "b2b_smb", 1, actor=AGENT, now=T0 + n * M).id
            tiny.advance(v, actor=AGENT, now=T0 + n * M)
        (row,) = tiny.progression(stage=1)
        return str(row["mode"])

    def failed_run() -> str:
        """A recursion in stage 1 (REDRAFT) is a failed run; the stage's mode afterwards."""
        nonlocal n
        n += 1
        v = tiny.create_venture(f"slip-{n}", "b2b_smb", 1, actor=AGENT, now=T0 + n * M).id
        assert fired(tiny.record_sample(v, "slips", 1, actor=AGENT, now=T0 + n * M)) == {"REDRAFT": "acted"}
        return str(tiny.progression(stage=1)[0]["mode"])

    assert runs(4) == "manual"
    assert tiny.progression(stage=1)[0]["successes"] == 4
    assert runs(1) == "assisted"  # 5 successful runs
    assert tiny.progression(stage=1)[0]["successes"] == 0  # counting starts again in the new mode
    assert failed_run() == "manual"  # one step back
    assert runs(5) == "assisted"
    assert runs(9) == "assisted"
    assert runs(1) == "auto"  # 10 more in assisted
    assert tiny.stats(stage=1)[0].mode == "auto"
    assert failed_run() == "assisted"
    assert failed_run() == "manual"
    assert failed_run() == "manual"  # manual is the floor
    assert tiny.progression(stage=1)[0]["failures"] == 4
    assert tiny.progression(stage=2) == []  # other stages keep their own count


def test_stats_from_a_scripted_history(tiny: Engine) -> None:
    """Three ventures in stage 2: one done by an agent and a lead, one recursed once, one escalated."""
    a = tiny.create_venture("a", "b2b_smb", 2, actor=LEAD, now=T0).id
    for sub in ("2.1", "2.2", "2.3"):
        tiny.complete_substage(a, sub, actor=AGENT, now=T0 + M)  # 3 automated
    tiny.advance(a, actor=LEAD, now=T0 + 2 * H)  # exit + advance by a person: 2 manual

    b = tiny.create_venture("b", "b2b_smb", 2, actor=LEAD, now=T0).id
    tiny.complete_substage(b, "2.1", actor=LEAD, now=T0 + M)  # 1 manual
    assert fired(tiny.record_sample(b, "errors", 9, actor=AGENT, now=T0 + H)) == {"REDO-RUN": "acted"}
    for sub in ("2.2", "2.3"):
        tiny.complete_substage(b, sub, actor=AGENT, now=T0 + 2 * H)  # 2 automated
    tiny.advance(b, actor=AGENT, now=T0 + 4 * H)  # exit + advance by an agent: 2 automated

    c = tiny.create_venture("c", "b2b_smb", 2, actor=LEAD, now=T0).id
    outcomes = [
        fired(tiny.record_sample(c, "errors", x, actor=AGENT, now=T0 + i * M)).get("REDO-RUN")
        for i, x in enumerate([9, 0, 9, 0, 9], start=1)
    ]
    assert outcomes == ["acted", None, "acted", None, "escalated"]

    by_stage = {s.stage: s for s in tiny.stats()}
    assert set(by_stage) == {2, 3}
    two = by_stage[2]
    assert (two.visits, two.completed_visits) == (3, 2)
    assert two.automation_level == 0.7  # 7 of 10 completions, exits and advances by agents or the system
    assert two.mean_execution_hours == 3.0  # (2h + 4h) / 2 finished visits
    assert (two.recursions, two.recursion_rate, two.escalations) == (3, 1.0, 1)
    assert two.mode == "manual"
    three = by_stage[3]
    assert (three.visits, three.completed_visits, three.automation_level, three.recursions) == (2, 0, None, 0)
    assert (three.mean_execution_hours, three.recursion_rate, three.escalations) == (None, 0.0, 0)
    assert tiny.stats(stage=2) == [two]
