"""The pure trigger state machine: Prometheus `for:` semantics, one fire per episode, cooldown, modes."""

from __future__ import annotations

from datetime import timedelta

import pytest

from tests.conftest import T0
from venturegate.core.triggers import TriggerState, demote, effective_mode, promote, step

S = timedelta(seconds=1)
INACTIVE = TriggerState()


def test_true_condition_goes_pending_then_fires_after_the_hold() -> None:
    first = step(INACTIVE, "pass", T0, hold=60, cooldown=0)
    assert (first.state.state, first.state.since, first.fire, first.wake_at) == ("pending", T0, False, T0 + 60 * S)

    middle = step(first.state, "pass", T0 + 59 * S, hold=60, cooldown=0)
    assert (middle.state.state, middle.state.since, middle.fire) == ("pending", T0, False)
    assert middle.wake_at == T0 + 60 * S  # the due time does not move while the condition holds

    due = step(middle.state, "pass", T0 + 60 * S, hold=60, cooldown=0)
    assert due.fire and not due.suppressed and due.wake_at is None
    assert due.state == TriggerState("firing", T0, T0 + 60 * S, fired_count=1, acted_count=0)


def test_zero_hold_fires_on_the_first_true_evaluation() -> None:
    got = step(INACTIVE, "pass", T0, hold=0, cooldown=0)
    assert got.fire and got.state.state == "firing" and got.state.fired_count == 1


@pytest.mark.parametrize("verdict", ["fail", "unknown"])
def test_false_or_unknown_resets_a_pending_trigger(verdict: str) -> None:
    pend = step(INACTIVE, "pass", T0, hold=60, cooldown=0).state
    reset = step(pend, verdict, T0 + 30 * S, hold=60, cooldown=0)  # type: ignore[arg-type]
    assert (reset.state.state, reset.state.since, reset.fire, reset.wake_at) == ("inactive", None, False, None)
    # Holding again starts a new wait from the new first true evaluation, not from the old one.
    again = step(reset.state, "pass", T0 + 40 * S, hold=60, cooldown=0)
    assert (again.state.since, again.wake_at) == (T0 + 40 * S, T0 + 100 * S)
    assert not step(again.state, "pass", T0 + 99 * S, hold=60, cooldown=0).fire
    assert step(again.state, "pass", T0 + 100 * S, hold=60, cooldown=0).fire


def test_unknown_never_fires_however_long_it_lasts() -> None:
    st = INACTIVE
    for i in range(5):
        got = step(st, "unknown", T0 + i * 3600 * S, hold=0, cooldown=0)
        assert not got.fire and got.state.state == "inactive" and got.wake_at is None
        st = got.state
    assert st.fired_count == 0


def test_fires_once_per_episode_and_again_after_the_condition_clears() -> None:
    on = step(INACTIVE, "pass", T0, hold=0, cooldown=0)
    assert on.fire
    still = step(on.state, "pass", T0 + S, hold=0, cooldown=0)
    assert not still.fire and still.state == on.state  # still the same episode
    off = step(still.state, "fail", T0 + 2 * S, hold=0, cooldown=0)
    assert off.state.state == "inactive" and off.state.last_fired_at == T0 and off.state.fired_count == 1
    second = step(off.state, "pass", T0 + 3 * S, hold=0, cooldown=0)
    assert second.fire and second.state.fired_count == 2 and second.state.last_fired_at == T0 + 3 * S


def test_cooldown_suppresses_and_wakes_at_its_end() -> None:
    first = step(INACTIVE, "pass", T0, hold=0, cooldown=600)
    off = step(first.state, "fail", T0 + 60 * S, hold=0, cooldown=600)
    held = step(off.state, "pass", T0 + 120 * S, hold=0, cooldown=600)
    assert held.suppressed and not held.fire
    assert held.state.state == "pending" and held.wake_at == T0 + 600 * S
    assert held.state.fired_count == 1
    again = step(held.state, "pass", T0 + 599 * S, hold=0, cooldown=600)
    assert again.suppressed and again.state.since == T0 + 120 * S
    free = step(again.state, "pass", T0 + 600 * S, hold=0, cooldown=600)
    assert free.fire and not free.suppressed and free.state.fired_count == 2


def test_cooldown_and_hold_together_wait_for_both() -> None:
    first = step(INACTIVE, "pass", T0, hold=0, cooldown=300)
    off = step(first.state, "fail", T0 + 10 * S, hold=60, cooldown=300)
    start = step(off.state, "pass", T0 + 20 * S, hold=60, cooldown=300)
    assert start.wake_at == T0 + 80 * S and not start.suppressed  # first the hold
    held = step(start.state, "pass", T0 + 80 * S, hold=60, cooldown=300)
    assert held.suppressed and held.wake_at == T0 + 300 * S  # then the cooldown


def test_step_never_touches_the_action_count() -> None:
    st = TriggerState("inactive", None, None, fired_count=3, acted_count=2)
    assert step(st, "pass", T0, hold=0, cooldown=0).state.acted_count == 2


@pytest.mark.parametrize(
    ("trigger", "progression", "expected"),
    [
        ("auto", None, "auto"),
        ("auto", "manual", "manual"),
        ("auto", "assisted", "assisted"),
        ("assisted", "auto", "assisted"),
        ("manual", "auto", "manual"),
        ("assisted", "manual", "manual"),
    ],
)
def test_effective_mode_is_the_more_cautious(trigger: str, progression: str | None, expected: str) -> None:
    assert effective_mode(trigger, progression) == expected  # type: ignore[arg-type]


def test_promote_after_enough_successes_and_demote_by_one_step() -> None:
    rule = {"manual": 5, "assisted": 10}
    assert promote("manual", 4, rule) == "manual"
    assert promote("manual", 5, rule) == "assisted"
    assert promote("assisted", 9, rule) == "assisted"
    assert promote("assisted", 10, rule) == "auto"
    assert promote("auto", 1000, rule) == "auto"
    assert promote("manual", 100, {}) == "manual"
    assert [demote("auto"), demote("assisted"), demote("manual")] == ["assisted", "manual", "manual"]
