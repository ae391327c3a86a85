"""14.3's backlog: the technical plan's epics become stories with acceptance criteria, checked by rules, and
their dependencies form a graph that must be acyclic.

Transformation (docs/crews.md, "Stage 14"): each story of an epic becomes a backlog item `<epic>-<n>`
(or its own `id`), with the epic's priority unless it sets one, its points, criteria and dependencies; a
dependency on an epic means a dependency on every story of that epic. An epic without stories is not
decomposed (it lowers `story_decomposition_rate`).

A criterion is ambiguous when it is shorter than four words, uses a vague word with no measure
(`fast`, `easy`, `user-friendly`, `etc`, `TBD`, ...), or contradicts another criterion of the same story
(`must X` and `must not X`). A story with no criteria is ambiguous too.
"""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass, field
from graphlib import CycleError, TopologicalSorter
from typing import Any

PRIORITIES = ("must", "should", "could", "wont")
VAGUE = re.compile(
    r"\b(fast|quick(ly)?|easy|easily|simple|user[- ]friendly|intuitive|nice|good|better|robust|seamless(ly)?|"
    r"etc|tbd|tbc|asap|appropriate(ly)?|as needed|and/or|some|several|many)\b",
    re.IGNORECASE,
)
MEASURE = re.compile(r"\d")


class CyclicDependencies(ValueError):
    """The stories' dependencies contain a cycle (named in the message)."""

    def __init__(self, cycle: list[str]) -> None:
        self.cycle = cycle
        super().__init__("cyclic story dependencies: " + " -> ".join(cycle))


@dataclass(frozen=True)
class Story:
    """One backlog item."""

    id: str
    title: str
    points: float
    priority: str
    acceptance_criteria: tuple[str, ...]
    depends_on: tuple[str, ...]
    epic: str
    skill: str | None = None

    def as_dict(self) -> dict[str, Any]:
        """The `sprint_plan.backlog` item."""
        out: dict[str, Any] = {
            "id": self.id,
            "title": self.title,
            "story_points": self.points,
            "priority": self.priority,
            "acceptance_criteria": list(self.acceptance_criteria) or ["(none given)"],
        }
        if self.depends_on:
            out["depends_on"] = list(self.depends_on)
        return out


@dataclass
class Backlog:
    """The stories, what the rules found, and the dependency graph's facts."""

    stories: list[Story] = field(default_factory=list)
    epics: int = 0
    decomposed: int = 0
    ambiguous: dict[str, list[str]] = field(default_factory=dict)
    """Story id → why its criteria are ambiguous."""
    unresolved: list[tuple[str, str]] = field(default_factory=list)
    """(story, dependency) pairs naming nothing in the plan."""

    @property
    def story_decomposition_rate(self) -> float:
        """Epics with at least one story, percent."""
        return round(100.0 * self.decomposed / self.epics, 2) if self.epics else 0.0

    def by_id(self) -> dict[str, Story]:
        """Stories by id."""
        return {s.id: s for s in self.stories}

    def as_dict(self) -> dict[str, Any]:
        """JSON form."""
        return {
            "stories": len(self.stories),
            "epics": self.epics,
            "decomposed": self.decomposed,
            "ambiguous": self.ambiguous,
            "unresolved": [list(p) for p in self.unresolved],
            "points": sum(s.points for s in self.stories),
            "stories_detail": [asdict(s) for s in self.stories],
        }


def ambiguity(criteria: list[str]) -> list[str]:
    """Why a story's criteria are ambiguous (empty when they are clear)."""
    if not criteria:
        return ["no acceptance criteria"]
    why = []
    for c in criteria:
        text = c.strip()
        if len(text.split()) < 4:
            why.append(f"too short to test: {text!r}")
        vague = VAGUE.search(text)
        if vague and not MEASURE.search(text):
            why.append(f"vague {vague.group(0)!r} without a measure: {text!r}")
    norm = [" ".join(c.lower().split()) for c in criteria]
    for c in norm:
        if " must " in f" {c} " and not c.startswith("must not") and " must not " not in f" {c} ":
            negated = c.replace("must ", "must not ", 1)
            if negated in norm:
                why.append(f"conflicting criteria: {c!r} and {negated!r}")
    return why


def build(epics: list[dict[str, Any]]) -> Backlog:
    """Stories from the plan's epics, checked; raises `CyclicDependencies` naming a cycle."""
    out = Backlog(epics=len(epics))
    members: dict[str, list[str]] = {}
    for epic in epics:
        eid = str(epic["id"])
        stories = list(epic.get("stories") or [])
        if stories:
            out.decomposed += 1
        ids = []
        for n, raw in enumerate(stories, 1):
            sid = str(raw.get("id") or f"{eid}-{n}")
            priority = str(raw.get("priority") or epic.get("priority") or "should")
            criteria = [str(c) for c in raw.get("acceptance_criteria") or []]
            deps = tuple(str(d) for d in (raw.get("depends_on") or []))
            deps += tuple(str(d) for d in (epic.get("depends_on") or []) if str(d) not in deps)
            story = Story(sid, str(raw["title"]), float(raw["points"]), priority, tuple(criteria), deps, eid,
                          raw.get("skill"))  # fmt: skip
            out.stories.append(story)
            ids.append(sid)
            why = ambiguity(criteria)
            if why:
                out.ambiguous[sid] = why
        members[eid] = ids
    known = {s.id for s in out.stories}
    expanded = []
    for s in out.stories:
        resolved: list[str] = []
        for d in s.depends_on:
            if d in known:
                resolved.append(d)
            elif d in members:
                resolved += [m for m in members[d] if m != s.id]
            else:
                out.unresolved.append((s.id, d))
        deps = tuple(dict.fromkeys(resolved))
        expanded.append(Story(s.id, s.title, s.points, s.priority, s.acceptance_criteria, deps, s.epic, s.skill))
    out.stories = expanded
    order(out.stories)
    return out


def order(stories: list[Story]) -> list[str]:
    """A topological order (prerequisites first); raises `CyclicDependencies` with the cycle."""
    graph = TopologicalSorter({s.id: set(s.depends_on) for s in stories})
    try:
        return list(graph.static_order())
    except CycleError as exc:
        cycle = [str(n) for n in exc.args[1]]
        raise CyclicDependencies(list(reversed(cycle))) from None
