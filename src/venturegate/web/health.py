"""A venture's health and the one line that says why, from everything that can hold it up.

The inputs are the venture's status, its open escalation, approvals and bypasses waiting on people,
its current stage's pending and firing triggers, and its exit gate's verdict (failing metric checks
and stale data). `derive` is pure: the portfolio gathers the signals, this module judges them.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import datetime
from typing import Literal

from venturegate.core.conditions.explanation import format_value
from venturegate.core.gates import CheckResult, GateResult
from venturegate.definitions.model import Trigger
from venturegate.engine import Escalation
from venturegate.engine.records import Venture

Health = Literal["red", "amber", "green", "grey"]
HEALTHS: tuple[Health, ...] = ("red", "amber", "green", "grey")
LABELS: dict[Health, str] = {"red": "stuck", "amber": "needs attention", "green": "on track", "grey": "closed"}
_ISO = re.compile(r"(\d{4}-\d\d-\d\d)T(\d\d:\d\d:\d\d)(?:\.\d+)?(?:\+00:00|Z)?")
"""An ISO 8601 timestamp in an engine message, to be shown to the second without its UTC offset."""
SEVERITY: dict[Health, int] = {"red": 0, "amber": 1, "green": 2, "grey": 3}
STALE_MARK = " is stale: "
"""How a condition's explanation says that its latest sample is older than the metric's cadence allows."""


@dataclass(frozen=True)
class RaisedState:
    """A pending or firing trigger of the venture's current stage, with its definition."""

    trigger: Trigger
    state: str
    since: datetime | None
    last_fired_at: datetime | None


@dataclass
class Signals:
    """Everything a venture's health is derived from."""

    venture: Venture
    escalation: Escalation | None = None
    approvals: list[str] = field(default_factory=list)
    """Roles whose decision the venture waits for."""
    bypass: bool = False
    raised: list[RaisedState] = field(default_factory=list)
    gate: GateResult | None = None
    """The exit gate's verdict, when it was judged."""


def _hm(at: datetime | None) -> str:
    return "" if at is None else at.strftime("%Y-%m-%d %H:%M:%S")


def short_value(value: object) -> str:
    """A number as people read it (`92.3`, `1,200`), anything else as text."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return "—" if value is None else str(value)
    if float(value).is_integer() and abs(value) < 1e15:
        return f"{int(value):,}"
    return f"{value:,.4g}" if abs(value) < 1e6 else f"{value:,.0f}"


def what_it_did(raised: RaisedState) -> str:
    """What a firing trigger did, in words: `INTEGRATION-001 sent it back to 19.1 at …`."""
    trig, at = raised.trigger, _hm(raised.last_fired_at or raised.since)
    when = f" at {at}" if at else ""
    if raised.state == "pending":
        return f"{trig.id} pending since {_hm(raised.since)}" if raised.since else f"{trig.id} pending"
    target = trig.action.go_to
    if trig.kind == "alert":
        return f"{trig.id} alert ({trig.action.severity}) firing since {_hm(raised.since) or '?'}"
    if trig.kind == "advance":
        return f"{trig.id} ready to advance{when}"
    if trig.mode == "manual":
        return f"{trig.id} notified {trig.role}{when}"
    if trig.mode == "assisted":
        goal = f"going back to {target}" if target is not None else "a rollback"
        return f"{trig.id} proposed {goal} to {trig.role}{when}"
    if trig.kind == "rollback":
        return f"{trig.id} rolled the configuration back{when}"
    return f"{trig.id} sent it back to {target}{when}"


def _failing_metric(check: CheckResult) -> str | None:
    """`integration success 92.3, needs >= 95` for a condition that failed on a known value."""
    if check.kind != "condition" or check.verdict != "fail" or check.observed is None:
        return None
    observed = check.observed
    shown = short_value(observed) if isinstance(observed, int | float) else format_value(str(observed))
    expected = check.expected
    need = f", needs {expected}" if isinstance(expected, str) and expected else ""
    return f"{check.name} {shown}{need}"


def _stale(check: CheckResult) -> str | None:
    if check.verdict != "unknown" or STALE_MARK not in check.reason:
        return None
    metric, _, rest = check.reason.partition(STALE_MARK)
    return f"stale data: {metric} " + _ISO.sub(r"\1 \2", rest)


def gate_findings(gate: GateResult | None) -> tuple[list[str], list[str]]:
    """The exit gate's failing metric checks and stale metrics, each as one phrase."""
    if gate is None or gate.passed:
        return [], []
    failing = [f for c in gate.checks if (f := _failing_metric(c)) is not None]
    stale = [s for c in gate.checks if (s := _stale(c)) is not None]
    return failing, stale


def derive(s: Signals) -> tuple[Health, str]:
    """The venture's colour and one line of why, most important reason first.

    red (stuck): an open escalation, paused, blocked at the entry gate, or a firing trigger that sends the
    venture back, rolls it back or raises an alert. amber (needs attention): a pending trigger, an
    approval or bypass review waiting, an exit-gate metric below its level, stale data. Closed ventures
    are grey; the rest green.
    """
    v = s.venture
    if v.status in ("completed", "killed"):
        return "grey", v.status
    red: list[str] = []
    amber: list[str] = []
    if s.escalation is not None:
        e = s.escalation
        red.append(f"escalated to {e.role} ({e.code}): {e.reason}")
    elif v.status == "paused":
        detail = (v.status_detail or {}).get("reason")
        red.append(f"paused: {detail}" if detail else "paused")
    if v.status == "blocked":
        red.append("blocked: entry gate not passed")
    firing = [r for r in s.raised if r.state == "firing" and r.trigger.kind != "advance"]
    failing, stale = gate_findings(s.gate)
    if failing:
        (red if firing else amber).append("exit gate: " + "; ".join(failing[:2]))
    red.extend(what_it_did(r) for r in firing)
    amber.extend(what_it_did(r) for r in s.raised if r.state == "pending")
    amber.extend(f"awaiting {role} approval" for role in s.approvals)
    if s.bypass:
        amber.append("gate bypass awaiting review")
    amber.extend(stale[:1])
    ready = [what_it_did(r) for r in s.raised if r.state == "firing" and r.trigger.kind == "advance"]
    if red:
        return "red", "; ".join(red + amber)
    if amber:
        return "amber", "; ".join(amber + ready)
    if ready:
        return "green", "; ".join(ready)
    if s.gate is not None and s.gate.passed:
        return "green", "exit gate passes"
    return "green", "on track"
