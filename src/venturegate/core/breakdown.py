"""A metric's recorded breakdown as the gate explanation shows it (CLI, API and dashboard alike).

The artifact a metric names in `explained_by` holds `value` (the reading it explains) and `components`,
each with a `name`, what was `measured`, its `weight` and its `contribution` to the value; other
fields are kept but not shown. A missing or differently shaped artifact is said, never guessed at.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class Component:
    """One weighted part of a metric's value."""

    name: str
    measured: Any
    weight: Any
    contribution: Any


@dataclass(frozen=True)
class Breakdown:
    """How a metric's latest value was made, from the artifact that records it."""

    metric: str
    source: str
    """`ARTIFACT@VERSION`, or `ARTIFACT (none stored)`."""
    value: Any = None
    components: tuple[Component, ...] = field(default_factory=tuple)
    note: str = ""
    """Why no components are shown, when none are."""


def breakdowns(evidence: Mapping[str, Any] | None) -> list[Breakdown]:
    """A check's `evidence` (metric → `{artifact, version, content}`) as breakdowns to show."""
    out = []
    for metric, ev in (evidence or {}).items():
        if not isinstance(ev, Mapping):
            continue
        name, version, content = ev.get("artifact"), ev.get("version"), ev.get("content")
        if version is None or not isinstance(content, Mapping):
            out.append(Breakdown(metric, f"{name} (none stored)", note=f"no {name} is stored yet"))
            continue
        rows = content.get("components")
        parts = tuple(
            Component(str(r.get("name", "")), r.get("measured"), r.get("weight"), r.get("contribution"))
            for r in (rows if isinstance(rows, list) else [])
            if isinstance(r, Mapping)
        )
        note = "" if parts else f"{name}@{version} lists no components"
        out.append(Breakdown(metric, f"{name}@{version}", content.get("value"), parts, note))
    return out
