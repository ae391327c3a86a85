"""Which channels an event notifies, at which severity, in which group: pure, compiled once per workflow.

`RoutingPlan.route` runs for every event the engine appends, so it is built to be cheap when nothing
matches: the routes that could match a kind are computed once per kind and cached, and severity and
group keys are only worked out for events that do go somewhere.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from fnmatch import translate
from typing import Any, Literal

from venturegate.definitions.model import Notifications, Route, Severity, Workflow

SEVERITIES: tuple[Severity, ...] = ("P0", "P1", "P2", "P3")
FROM_TRIGGER = "trigger"
"""Marker in the built-in table: the severity comes from the event's data or the trigger that caused it."""

BUILTIN_SEVERITY: tuple[tuple[str, str], ...] = (
    ("rollback.failed", "P0"),
    ("rollback.*", "P1"),
    ("escalation.opened", "P1"),
    ("approval.bypassed", "P1"),
    ("approval.requested", "P2"),
    ("approval.expired", "P2"),
    ("trigger.*", FROM_TRIGGER),
    ("recursion", FROM_TRIGGER),
    ("alert", FROM_TRIGGER),
)
"""Event kind (glob) → severity, first match wins; a workflow's `notifications.severities` come first."""
FALLBACK_SEVERITY: Severity = "P3"
TRIGGER_FALLBACK: Severity = "P2"
"""Severity of a trigger-caused event whose trigger is unknown to the routing workflow."""
SILENT_PREFIXES = ("outbox.",)
"""Kinds that never notify: the outbox's own bookkeeping must not feed itself."""


@dataclass(frozen=True)
class Routed:
    """One notification to write: the channel, the event's severity and the group it is sent with."""

    channel: str
    severity: Severity
    group_key: str


@dataclass(frozen=True)
class _Compiled:
    kinds: re.Pattern[str]
    severities: frozenset[str]
    stages: frozenset[int]
    channels: tuple[str, ...]

    def admits(self, severity: str, stage: int | None) -> bool:
        if self.severities and severity not in self.severities:
            return False
        return not self.stages or (stage is not None and stage in self.stages)


def _glob(patterns: Iterable[str]) -> re.Pattern[str]:
    return re.compile("|".join(f"(?:{translate(p)})" for p in patterns) or r"(?!)")


def _compile(route: Route) -> _Compiled:
    return _Compiled(_glob(route.kinds), frozenset(route.severity), frozenset(route.stages), tuple(route.channels))


def trigger_severities(workflow: Workflow) -> dict[str, Severity]:
    """Each trigger's notification severity (its action's `severity`), by trigger id."""
    return {t.id: t.action.severity for s in workflow.stages for t in s.triggers}


class RoutingPlan:
    """A workflow's `notifications` section compiled for matching events."""

    def __init__(self, config: Notifications | None, triggers: Mapping[str, Severity] | None = None) -> None:
        self.config = config or Notifications()
        self._routes = tuple(_compile(r) for r in self.config.routes)
        self._triggers = dict(triggers or {})
        table = [(re.compile(translate(k)), v) for k, v in self.config.severities.items()]
        self._severity_table = table + [(re.compile(translate(k)), v) for k, v in BUILTIN_SEVERITY]
        self._by_kind: dict[str, tuple[_Compiled, ...]] = {}
        self._by_kind_severity: dict[str, Severity | Literal[""] | None] = {}

    @classmethod
    def for_workflow(cls, workflow: Workflow) -> RoutingPlan:
        """The plan of a workflow's `notifications` section (empty when it has none)."""
        return cls(workflow.notifications, trigger_severities(workflow))

    @property
    def empty(self) -> bool:
        """True when no event can notify anything."""
        return not self._routes

    def _candidates(self, kind: str) -> tuple[_Compiled, ...]:
        found = self._by_kind.get(kind)
        if found is None:
            silent = kind.startswith(SILENT_PREFIXES)
            found = () if silent else tuple(r for r in self._routes if r.kinds.fullmatch(kind))
            self._by_kind[kind] = found
        return found

    def severity(self, kind: str, data: Mapping[str, Any] | None) -> Severity:
        """The severity of an event (README, "Notifications", lists the mapping)."""
        fixed = self._by_kind_severity.get(kind, "")
        if fixed == "":
            fixed = self._by_kind_severity[kind] = self._table_severity(kind)
        return self._from_trigger(data) if fixed is None else fixed

    def _table_severity(self, kind: str) -> Severity | None:
        """The kind's severity from the tables; None when it comes from the event's trigger."""
        for pattern, value in self._severity_table:
            if pattern.fullmatch(kind):
                return None if value == FROM_TRIGGER else _as_severity(value)
        return FALLBACK_SEVERITY

    def _from_trigger(self, data: Mapping[str, Any] | None) -> Severity:
        data = data or {}
        own = data.get("severity")
        if own in SEVERITIES:
            return _as_severity(own)
        return self._triggers.get(str(data.get("trigger")), TRIGGER_FALLBACK)

    def route(
        self, kind: str, venture_id: int | None, stage: int | None, data: Mapping[str, Any] | None
    ) -> list[Routed]:
        """The notifications an event makes, one per channel (empty, and cheap, when no route matches)."""
        candidates = self._candidates(kind)
        if not candidates:
            return []
        severity = self.severity(kind, data)
        channels: dict[str, None] = {}
        for r in candidates:
            if r.admits(severity, stage):
                channels.update(dict.fromkeys(r.channels))
        return [Routed(c, severity, self.group_key(c, kind, venture_id, stage, severity)) for c in channels]

    def group_key(self, channel: str, kind: str, venture_id: int | None, stage: int | None, severity: str) -> str:
        """Notifications with equal keys that arrive within `group_wait` go out as one message."""
        parts = {
            "venture": f"v{venture_id if venture_id is not None else '-'}",
            "kind": kind,
            "kind_prefix": kind.split(".", 1)[0],
            "stage": f"s{stage if stage is not None else '-'}",
            "severity": severity,
        }
        return "|".join([channel, *(parts[g] for g in self.config.group_by)])[:300]


def _as_severity(value: str) -> Severity:
    for s in SEVERITIES:
        if s == value:
            return s
    return FALLBACK_SEVERITY
