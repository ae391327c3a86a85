"""Automation workflows as data (trigger → delay → condition → action, like HubSpot or Customer.io) and their
validation: a rate-limited trigger, known steps and channels, nothing unreachable, no cycle without a delay.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

KINDS = ("trigger", "delay", "condition", "action")
CHANNELS = {"email": ("send_email",), "crm": ("upsert_contact",), "ads": ("add_to_audience",)}
"""The channels the workflow adapters serve and their operations."""
OPS = ("==", "!=", ">=", "<=", ">", "<")
TRIGGER_TYPES = ("database_insert", "webhook", "schedule", "conditional", "manual")


class WorkflowError(ValueError):
    """A workflow definition that cannot run as written (the message names the workflow and step)."""


def _next(step: Mapping[str, Any]) -> list[str]:
    if step.get("kind") == "condition":
        return [str(x) for x in (step.get("then"), step.get("else")) if x]
    return [str(x) for x in step.get("next", [])]


def validate(wf: Mapping[str, Any]) -> None:
    """Raise `WorkflowError` saying what is wrong; return quietly for a runnable workflow."""
    wid = str(wf.get("id", "?"))
    triggers = wf.get("triggers") or []
    if not triggers:
        raise WorkflowError(f"workflow {wid}: no trigger (every workflow needs at least one, with a rate limit)")
    for k, t in enumerate(triggers):
        if t.get("type") not in TRIGGER_TYPES:
            raise WorkflowError(f"workflow {wid}: trigger {k} type {t.get('type')!r} is not one of {TRIGGER_TYPES}")
        rate = t.get("rate_limit_per_minute")
        if not isinstance(rate, int) or rate < 1:
            raise WorkflowError(f"workflow {wid}: trigger {k} has no rate limit (rate_limit_per_minute >= 1)")
    steps = {str(s.get("id")): s for s in wf.get("steps", [])}
    if len(steps) != len(wf.get("steps", [])):
        raise WorkflowError(f"workflow {wid}: step ids must be unique")
    entries = [sid for sid, s in steps.items() if s.get("kind") == "trigger"]
    if len(entries) != 1:
        raise WorkflowError(f"workflow {wid}: needs exactly one trigger step, has {len(entries)}")
    for sid, s in steps.items():
        kind = s.get("kind")
        if kind not in KINDS:
            raise WorkflowError(f"workflow {wid} step {sid}: kind {kind!r} is not one of {KINDS}")
        if kind != "condition" and len(_next(s)) > 1:
            raise WorkflowError(f"workflow {wid} step {sid}: only a condition branches (one next step otherwise)")
        for target in _next(s):
            if target not in steps:
                raise WorkflowError(f"workflow {wid} step {sid}: goes to unknown step {target!r}")
        if kind == "action":
            channel = s.get("channel")
            if channel not in CHANNELS:
                raise WorkflowError(
                    f"workflow {wid} step {sid}: channel {channel!r} has no adapter (known: {', '.join(CHANNELS)})"
                )
            if s.get("op") not in CHANNELS[str(channel)]:
                raise WorkflowError(f"workflow {wid} step {sid}: {channel} cannot {s.get('op')!r}")
        if kind == "delay" and not (isinstance(s.get("hours"), int | float) and 0 <= float(s["hours"]) <= 720):
            raise WorkflowError(f"workflow {wid} step {sid}: delay hours must be between 0 and 720")
        if kind == "condition" and (s.get("op") not in OPS or not s.get("field") or not s.get("then")):
            raise WorkflowError(f"workflow {wid} step {sid}: a condition needs field, op in {OPS} and then")
    seen = _reachable(entries[0], steps)
    lost = sorted(set(steps) - seen)
    if lost:
        raise WorkflowError(f"workflow {wid}: steps {', '.join(lost)} cannot be reached from the trigger")
    cycle = _cycle_without_delay(steps)
    if cycle:
        raise WorkflowError(f"workflow {wid}: cycle without a delay: {' → '.join(cycle)}")


def _reachable(start: str, steps: Mapping[str, Mapping[str, Any]]) -> set[str]:
    seen, todo = {start}, [start]
    while todo:
        for nxt in _next(steps[todo.pop()]):
            if nxt not in seen:
                seen.add(nxt)
                todo.append(nxt)
    return seen


def _cycle_without_delay(steps: Mapping[str, Mapping[str, Any]]) -> list[str]:
    """A cycle among the non-delay steps (a loop through a delay is a legitimate re-check), as a path."""
    graph = {sid: [n for n in _next(s) if steps[n].get("kind") != "delay"] for sid, s in steps.items()}
    graph = {sid: nxt for sid, nxt in graph.items() if steps[sid].get("kind") != "delay"}
    colour: dict[str, int] = {}
    path: list[str] = []

    def visit(node: str) -> list[str]:
        colour[node] = 1
        path.append(node)
        for nxt in graph.get(node, []):
            if colour.get(nxt) == 1:
                return [*path[path.index(nxt) :], nxt]
            if nxt not in colour:
                found = visit(nxt)
                if found:
                    return found
        colour[node] = 2
        path.pop()
        return []

    for node in graph:
        if node not in colour:
            found = visit(node)
            if found:
                return found
    return []


def compare(value: Any, op: str, expected: Any) -> bool:
    """A condition step's comparison (a fixed whitelist, never eval)."""
    if op == "==":
        return bool(value == expected)
    if op == "!=":
        return bool(value != expected)
    try:
        a, b = float(value), float(expected)
    except (TypeError, ValueError):
        return False
    return {">=": a >= b, "<=": a <= b, ">": a > b, "<": a < b}[op]


def nurture_workflow(
    delay_hours: int, rate_limit: int, trigger: str, attempts: int, version: int = 1
) -> dict[str, Any]:
    """The default lead-nurture workflow: CRM upsert, wait, then email qualified leads or retarget the rest."""
    return {
        "id": "wf-lead-nurture",
        "name": "New lead nurture",
        "platform": "native",
        "status": "configured",
        "priority": "normal",
        "version": version,
        "triggers": [{"type": trigger, "rate_limit_per_minute": rate_limit, "filter": "new lead in the CRM"}],
        "steps": [
            {"id": "new-lead", "kind": "trigger", "next": ["crm"]},
            {"id": "crm", "kind": "action", "channel": "crm", "op": "upsert_contact", "next": ["wait"]},
            {"id": "wait", "kind": "delay", "hours": delay_hours, "next": ["qualified"]},
            {
                "id": "qualified",
                "kind": "condition",
                "field": "score",
                "op": ">=",
                "value": 70,
                "then": "email",
                "else": "retarget",
            },
            {"id": "email", "kind": "action", "channel": "email", "op": "send_email", "template": "email_1"},
            {"id": "retarget", "kind": "action", "channel": "ads", "op": "add_to_audience"},
        ],
        "retry": {"attempts": attempts, "delays": ["30s", "2m", "10m"][:attempts]},
        "test_execution_count": 0,
    }


def steps_of(wf: Mapping[str, Any]) -> dict[str, Mapping[str, Any]]:
    return {str(s["id"]): s for s in wf["steps"]}


def entry_of(wf: Mapping[str, Any]) -> str:
    return next(str(s["id"]) for s in wf["steps"] if s["kind"] == "trigger")


def next_of(step: Mapping[str, Any], lead: Mapping[str, Any]) -> str | None:
    if step["kind"] == "condition":
        branch = "then" if compare(lead.get(str(step["field"])), str(step["op"]), step.get("value")) else "else"
        got = step.get(branch)
        return str(got) if got else None
    nxt: Sequence[Any] = step.get("next", [])
    return str(nxt[0]) if nxt else None
