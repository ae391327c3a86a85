"""The trigger state machine: inactive → pending → firing, with Prometheus `for:` semantics and a cooldown.

A true condition makes a trigger pending; it fires only when the condition has stayed true for the
whole hold duration (any false or unknown evaluation in between resets it). It fires once per
episode: it stays `firing` while the condition holds and returns to `inactive` when it stops. A fire
that falls inside the cooldown after the previous one is suppressed (and retried when the cooldown
ends, if the condition still holds).
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Literal

from venturegate.core.conditions import Verdict

StateName = Literal["inactive", "pending", "firing"]
Mode = Literal["manual", "assisted", "auto"]
_MODES: tuple[Mode, ...] = ("manual", "assisted", "auto")


@dataclass(frozen=True)
class TriggerState:
    """What is remembered about one trigger for one venture between evaluations."""

    state: StateName = "inactive"
    since: datetime | None = None
    last_fired_at: datetime | None = None
    fired_count: int = 0
    acted_count: int = 0


@dataclass(frozen=True)
class Step:
    """The outcome of one evaluation.

    `fire` means act now; `suppressed` means it would have fired but the cooldown holds it back;
    `wake_at` is when the engine must evaluate again without new data (end of `for`, end of cooldown).
    """

    state: TriggerState
    fire: bool = False
    suppressed: bool = False
    wake_at: datetime | None = None


def step(prev: TriggerState, verdict: Verdict, now: datetime, hold: float, cooldown: float) -> Step:
    """Advance the state machine by one evaluation of the condition at `now`."""
    if verdict != "pass":
        return Step(replace(prev, state="inactive", since=None))
    if prev.state == "firing":
        return Step(prev)
    since = prev.since if prev.state == "pending" and prev.since is not None else now
    due = since + timedelta(seconds=hold)
    if now < due:
        return Step(replace(prev, state="pending", since=since), wake_at=due)
    if prev.last_fired_at is not None and cooldown > 0:
        free_at = prev.last_fired_at + timedelta(seconds=cooldown)
        if now < free_at:
            return Step(replace(prev, state="pending", since=since), suppressed=True, wake_at=free_at)
    fired = replace(prev, state="firing", since=since, last_fired_at=now, fired_count=prev.fired_count + 1)
    return Step(fired, fire=True)


FirePlan = Literal["escalate", "notify", "propose", "act"]
"""What firing a trigger does: escalate (past its retry limit), notify (manual), propose (assisted) or act (auto)."""


def fire_plan(kind: str, mode: Mode, limit: int | None, acted: int) -> FirePlan:
    """The one decision of what a firing does, given the trigger's kind, its effective mode, its retry limit and
    how many times it already acted for the venture (recursions and rollbacks count; alerts and advances don't)."""
    if kind in COUNTED_KINDS and limit is not None and acted >= limit:
        return "escalate"
    if mode == "manual":
        return "notify"
    if mode == "assisted":
        return "propose"
    return "act"


def counts_act(kind: str, plan: FirePlan) -> bool:
    """Whether carrying out `plan` counts an act of the trigger (an auto recursion or rollback)."""
    return plan == "act" and kind in COUNTED_KINDS


COUNTED_KINDS = frozenset({"recursion", "rollback"})
"""The trigger kinds whose acts count against their retry limit (`max`)."""


def effective_mode(trigger_mode: Mode, progression_mode: Mode | None) -> Mode:
    """The more cautious of a trigger's mode and the stage's progression mode (used for advances)."""
    if progression_mode is None:
        return trigger_mode
    return _MODES[min(_MODES.index(trigger_mode), _MODES.index(progression_mode))]


def promote(mode: Mode, successes: int, promote_after: dict[str, int]) -> Mode:
    """The mode after a successful run: promoted once enough successful runs were seen in this mode."""
    need = promote_after.get(mode)
    if need is not None and successes >= need and mode != "auto":
        return _MODES[_MODES.index(mode) + 1]
    return mode


def demote(mode: Mode) -> Mode:
    """The mode after a failed run: one step more cautious."""
    return _MODES[max(0, _MODES.index(mode) - 1)]
