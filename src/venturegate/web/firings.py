"""Recent trigger firings as one line each: venture, trigger, what the firing did, the value that decided it.

A `trigger.fired` event is written in the same transaction as what the firing did (a recursion, a
proposal, an escalation, a notification, an alert, a rollback), right after it; the outcome is read
from the venture's next few events once and kept, since committed events never change.
"""

from __future__ import annotations

import threading
from collections import deque
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from venturegate.definitions.model import Workflow
from venturegate.engine import Engine
from venturegate.engine.records import Event
from venturegate.web.health import short_value

RECENT = 10
_LOOKAHEAD = 12
"""How many of a venture's events after a firing are read to find what it did."""


@dataclass(frozen=True)
class Firing:
    """One firing, ready to show."""

    at: datetime
    venture_id: int | None
    trigger: str
    title: str
    outcome: str
    """acted / proposed / escalated / notified / waiting / fired (what happened is unknown)."""
    detail: str
    value: str
    """The comparison that made the condition true: `avg(cache_hit_rate, 1h) 62.1 < 70`."""


def deciding_value(explanation: Any) -> str:
    """The first comparison that held in a firing's explanation, as `text left op right`."""
    if not isinstance(explanation, dict):
        return ""
    if explanation.get("op") and explanation.get("value") is True:
        children = explanation.get("children") or [{}]
        left_text = children[0].get("text", "") if isinstance(children[0], dict) else ""
        left, right = short_value(explanation.get("left")), short_value(explanation.get("right"))
        return f"{left_text} {left} {explanation['op']} {right}".strip()
    for child in explanation.get("children") or ():
        found = deciding_value(child)
        if found:
            return found
    return ""


def _outcome(trigger: str, after: list[Event]) -> tuple[str, str]:
    """What the firing did, from the events written after it in its transaction."""
    for e in after:
        data = e.data or {}
        mine = data.get("trigger") == trigger or e.reason == trigger or e.reason.startswith(f"{trigger}:")
        if e.kind == "trigger.fired":
            break  # the next firing: nothing of this one's came before it
        if not mine:
            continue
        if e.kind == "recursion":
            return "acted", f"sent back to {data.get('to', '?')}"
        if e.kind == "rollback.decided":
            return "acted", f"rolled back to {data.get('to') or 'the previous configuration'}"
        if e.kind == "approval.requested":
            return "proposed", f"asked {data.get('role', '?')} (approval #{data.get('approval', '?')})"
        if e.kind == "escalation.opened":
            return "escalated", f"{data.get('code', '')} to {data.get('role', '?')}"
        if e.kind == "trigger.notified":
            return "notified", ", ".join(str(n) for n in data.get("notify") or [])
        if e.kind == "alert":
            return "notified", f"{data.get('severity', '')} alert".strip()
        if e.kind == "trigger.waiting":
            return "waiting", "exit gate not passed yet"
    return "fired", ""


def _title(workflow: Workflow, stage: int | None, trigger: str) -> str:
    st = workflow.stage(stage) if stage is not None else None
    trig = next((t for t in st.triggers if t.id == trigger), None) if st else None
    if trig is None or not trig.description:
        return ""
    first = trig.description.strip().split(". ")[0].rstrip(".")
    return first if len(first) <= 90 else first[:89] + "…"


class RecentFirings:
    """The newest `trigger.fired` events, read incrementally, each with what it did (kept once known)."""

    def __init__(self, keep: int = RECENT) -> None:
        self._last_id = 0
        self._events: deque[Event] = deque(maxlen=keep)
        self._lines: dict[int, Firing] = {}
        self._lock = threading.Lock()

    def read(self, engine: Engine, workflow: Workflow) -> list[Firing]:
        """The newest firings, newest first."""
        with self._lock:
            while True:
                page = engine.events(kind="trigger.fired", after_id=self._last_id, limit=1000)
                self._events.extend(e for e in page if e.kind == "trigger.fired")
                if page:
                    self._last_id = page[-1].id
                if len(page) < 1000:
                    break
            kept = {e.id for e in self._events}
            self._lines = {k: v for k, v in self._lines.items() if k in kept}
            return [self._line(engine, workflow, e) for e in reversed(self._events)]

    def _line(self, engine: Engine, workflow: Workflow, event: Event) -> Firing:
        line = self._lines.get(event.id)
        if line is None:
            data = event.data or {}
            trigger = str(data.get("trigger") or event.reason.split(":")[0])
            after = engine.events(event.venture_id, after_id=event.id, limit=_LOOKAHEAD) if event.venture_id else []
            outcome, detail = _outcome(trigger, after)
            line = self._lines[event.id] = Firing(
                event.at,
                event.venture_id,
                trigger,
                _title(workflow, event.stage, trigger),
                outcome,
                detail,
                deciding_value(data.get("explanation")),
            )
        return line
