"""Packing stories into sprints within each person's capacity and the dependency order.

Two packers with one result type:

- `first_fit`: the greedy peer. Stories in priority-topological order (among stories whose prerequisites
  are placed: must before should before could, then backlog order), each into the earliest sprint after
  its prerequisites' in which the first eligible person still has room.
- `optimise`: OR-Tools CP-SAT. A boolean per (story, eligible person, sprint) with at most the greedy's
  number of sprints; one placement per story; each person's points per sprint within capacity; a story
  in a later sprint than each prerequisite. It minimises the sprints used first, then the
  priority-weighted sprint numbers (must-stories early). The greedy plan is its starting hint, so it is
  never worse; the optimality gap is (objective - best bound) / objective, from the solver.

Points are scaled by 10 to integers. A story larger than every eligible person's capacity, or needing a
skill nobody has, cannot be placed: it is reported (`unplaceable`) and left out of both plans.
"""

from __future__ import annotations

import heapq
from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any

from ortools.sat.python import cp_model

from venturegate.crews.stage14.backlog import PRIORITIES, Story

WEIGHT = {"must": 8, "should": 4, "could": 2, "wont": 1}


@dataclass(frozen=True)
class Member:
    """A person's capacity per sprint (points) and skills."""

    id: str
    capacity: float
    skills: frozenset[str]


@dataclass
class Plan:
    """Where every story went."""

    method: str
    sprint: dict[str, int] = field(default_factory=dict)
    """Story id → sprint number (0 = sprint 1)."""
    person: dict[str, str] = field(default_factory=dict)
    unplaceable: dict[str, str] = field(default_factory=dict)
    status: str = ""
    gap: float | None = None
    """CP-SAT's relative optimality gap (0 when proven optimal); None for the greedy."""
    seconds: float = 0.0

    @property
    def sprints_used(self) -> int:
        """Sprints holding at least one story."""
        return max(self.sprint.values()) + 1 if self.sprint else 0

    def utilisation(self, stories: dict[str, Story], members: list[Member]) -> float:
        """Scheduled points over the team's capacity in the sprints used, percent."""
        cap = sum(m.capacity for m in members) * self.sprints_used
        done = sum(stories[s].points for s in self.sprint)
        return round(100.0 * done / cap, 2) if cap else 0.0

    def sprints(self) -> list[list[str]]:
        """Story ids per sprint."""
        out: list[list[str]] = [[] for _ in range(self.sprints_used)]
        for sid, k in self.sprint.items():
            out[k].append(sid)
        return out

    def as_dict(self, stories: dict[str, Story], members: list[Member]) -> dict[str, Any]:
        """JSON form."""
        return {
            "method": self.method,
            "status": self.status,
            "sprints_used": self.sprints_used,
            "utilisation_percent": self.utilisation(stories, members),
            "gap": self.gap,
            "seconds": round(self.seconds, 3),
            "unplaceable": self.unplaceable,
            "sprints": self.sprints(),
        }


def _eligible(story: Story, members: list[Member]) -> list[int]:
    return [
        i
        for i, m in enumerate(members)
        if (story.skill is None or story.skill in m.skills) and m.capacity >= story.points
    ]


def _order(stories: list[Story]) -> list[Story]:
    by_id = {s.id: s for s in stories}
    pos = {s.id: i for i, s in enumerate(stories)}
    waiting = {s.id: {d for d in s.depends_on if d in by_id} for s in stories}
    users: dict[str, list[str]] = defaultdict(list)
    for s in stories:
        for d in waiting[s.id]:
            users[d].append(s.id)
    ready = [(PRIORITIES.index(s.priority), pos[s.id], s.id) for s in stories if not waiting[s.id]]
    heapq.heapify(ready)
    out = []
    while ready:
        _, _, sid = heapq.heappop(ready)
        out.append(by_id[sid])
        for u in users[sid]:
            waiting[u].discard(sid)
            if not waiting[u]:
                heapq.heappush(ready, (PRIORITIES.index(by_id[u].priority), pos[u], u))
    return out


def _unplaceable(stories: list[Story], members: list[Member]) -> dict[str, str]:
    out: dict[str, str] = {}
    for s in _order(stories):
        if not _eligible(s, members):
            who = f"nobody with skill {s.skill!r}" if s.skill and not any(s.skill in m.skills for m in members) else ""
            out[s.id] = who or f"{s.points:g} points exceed every eligible person's sprint capacity"
        elif any(d in out for d in s.depends_on):
            out[s.id] = "depends on an unplaceable story"
    return out


def first_fit(stories: list[Story], members: list[Member]) -> Plan:
    """The greedy peer (see the module doc)."""
    import time

    t0 = time.perf_counter()
    plan = Plan("first_fit", status="FEASIBLE", unplaceable=_unplaceable(stories, members))
    left: dict[tuple[int, int], float] = {}
    for s in _order(stories):
        if s.id in plan.unplaceable:
            continue
        k = max((plan.sprint[d] + 1 for d in s.depends_on if d in plan.sprint), default=0)
        eligible = _eligible(s, members)
        while True:
            who = next((i for i in eligible if left.get((i, k), members[i].capacity) >= s.points - 1e-9), None)
            if who is not None:
                left[who, k] = left.get((who, k), members[who].capacity) - s.points
                plan.sprint[s.id], plan.person[s.id] = k, members[who].id
                break
            k += 1
    plan.seconds = time.perf_counter() - t0
    return plan


def optimise(stories: list[Story], members: list[Member], *, seconds: float = 10.0, workers: int = 1) -> Plan:
    """CP-SAT packing, hinted with the greedy plan (see the module doc)."""
    import time

    t0 = time.perf_counter()
    greedy = first_fit(stories, members)
    placeable = [s for s in stories if s.id not in greedy.unplaceable]
    horizon = greedy.sprints_used
    if not placeable:
        greedy.method = "cp_sat"
        return greedy
    model = cp_model.CpModel()
    z: dict[tuple[int, int, int], cp_model.IntVar] = {}
    index = {s.id: i for i, s in enumerate(placeable)}
    sprint_of = []
    for si, s in enumerate(placeable):
        choices = []
        terms = []
        for mi in _eligible(s, members):
            for k in range(horizon):
                v = model.new_bool_var(f"z{si}_{mi}_{k}")
                z[si, mi, k] = v
                choices.append(v)
                terms.append(k * v)
        model.add_exactly_one(choices)
        var = model.new_int_var(0, horizon - 1, f"k{si}")
        model.add(var == sum(terms))
        sprint_of.append(var)
    load: dict[tuple[int, int], list[Any]] = defaultdict(list)
    for (si, mi, k), v in z.items():
        load[mi, k].append(round(placeable[si].points * 10) * v)
    for (mi, _k), terms in load.items():
        model.add(sum(terms) <= round(members[mi].capacity * 10))
    for si, s in enumerate(placeable):
        for d in s.depends_on:
            if d in index:
                model.add(sprint_of[si] >= sprint_of[index[d]] + 1)
    used = model.new_int_var(1, horizon, "sprints")
    for var in sprint_of:
        model.add(used >= var + 1)
    spread = sum(WEIGHT[s.priority] * sprint_of[i] for i, s in enumerate(placeable))
    big = sum(WEIGHT[s.priority] for s in placeable) * horizon + 1
    model.minimize(big * used + spread)
    member_index = {m.id: i for i, m in enumerate(members)}
    for (si, mi, k), v in z.items():
        s = placeable[si]
        model.add_hint(v, int(member_index[greedy.person[s.id]] == mi and greedy.sprint[s.id] == k))
    for si, s in enumerate(placeable):
        model.add_hint(sprint_of[si], greedy.sprint[s.id])
    model.add_hint(used, horizon)
    solver = cp_model.CpSolver()
    solver.parameters.max_time_in_seconds = seconds
    solver.parameters.num_workers = workers
    # On large models presolve spends the whole budget and loses the hint; without it the hint is the
    # first solution and the search improves on it.
    solver.parameters.cp_model_presolve = len(z) <= 4000
    status = solver.solve(model)
    plan = Plan("cp_sat", status=solver.status_name(status), unplaceable=dict(greedy.unplaceable))
    if status not in (cp_model.OPTIMAL, cp_model.FEASIBLE):
        greedy.method, greedy.status = "first_fit (CP-SAT found nothing in time)", plan.status
        return greedy
    for (si, mi, k), v in z.items():
        if solver.value(v):
            plan.sprint[placeable[si].id], plan.person[placeable[si].id] = k, members[mi].id
    obj, bound = solver.objective_value, solver.best_objective_bound
    plan.gap = 0.0 if status == cp_model.OPTIMAL else round(abs(obj - bound) / max(abs(obj), 1e-9), 4)
    plan.seconds = time.perf_counter() - t0
    return plan
