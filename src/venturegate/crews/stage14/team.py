"""14.2 Team formation: people assigned to roles by optimisation, a RACI matrix checked by rules, and
onboarding checklists generated from the environment.

Assignment is a maximum-weight matching solved with OR-Tools CP-SAT: each role is expanded into one slot
per head (`count`); a person fits a slot when they hold at least one of its skills (any person fits a
role without skills) and are available by sprint 1; the weight of a fit is 1000 for a critical role plus
100 x the share of the role's skills the person holds, so every critical slot that can be filled is
filled first, then skill coverage is maximised. Each person takes at most one slot.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import asdict, dataclass, field
from datetime import date
from typing import Any

from ortools.sat.python import cp_model


@dataclass(frozen=True)
class Person:
    """Someone available to the venture."""

    id: str
    name: str
    skills: frozenset[str]
    hours_per_week: float
    available_from: date | None = None


@dataclass(frozen=True)
class Role:
    """A role the plan needs, `count` times."""

    name: str
    count: int
    critical: bool
    skills: frozenset[str]


@dataclass(frozen=True)
class Slot:
    """One head of a role."""

    role: Role
    index: int


@dataclass
class Assignment:
    """Who fills which slot, and what could not be filled."""

    filled: dict[tuple[str, int], str] = field(default_factory=dict)
    """(role, index) → person id."""
    slots: list[Slot] = field(default_factory=list)
    unassigned_people: list[str] = field(default_factory=list)
    unavailable_skills: list[str] = field(default_factory=list)
    """Skills a role needs that nobody has."""
    late: dict[str, date] = field(default_factory=dict)
    """Critical-role holders who start after sprint 1 cannot be assigned: person id → available date."""
    status: str = ""

    @property
    def roles_filled_percent(self) -> float:
        """Filled slots over all slots."""
        return round(100.0 * len(self.filled) / len(self.slots), 2) if self.slots else 0.0

    def unfilled(self, critical_only: bool = False) -> list[Slot]:
        """Slots nobody fills."""
        return [
            s
            for s in self.slots
            if (s.role.name, s.index) not in self.filled and (s.role.critical or not critical_only)
        ]

    def role_of(self) -> dict[str, str]:
        """Person id → role name."""
        return {pid: role for (role, _), pid in self.filled.items()}


def fits(person: Person, role: Role, start: date | None) -> bool:
    """Whether `person` may take `role`: a matching skill (or a role without skills) and available by `start`."""
    if start is not None and person.available_from is not None and person.available_from > start:
        return False
    return not role.skills or bool(person.skills & role.skills)


def assign(roles: list[Role], people: list[Person], start: date | None, *, seconds: float = 5.0) -> Assignment:
    """Solve the assignment (CP-SAT, optimal within `seconds` for any realistic team)."""
    slots = [Slot(r, i) for r in roles for i in range(r.count)]
    out = Assignment(slots=slots)
    have = set().union(*(p.skills for p in people)) if people else set()
    out.unavailable_skills = sorted({s for r in roles for s in r.skills} - have)
    model = cp_model.CpModel()
    x: dict[tuple[int, int], cp_model.IntVar] = {}
    for si, slot in enumerate(slots):
        for pi, person in enumerate(people):
            if fits(person, slot.role, start):
                x[si, pi] = model.new_bool_var(f"x_{si}_{pi}")
    for si in range(len(slots)):
        model.add_at_most_one(v for (s, _), v in x.items() if s == si)
    for pi in range(len(people)):
        model.add_at_most_one(v for (_, p), v in x.items() if p == pi)
    weight = {}
    for si, pi in x:
        role = slots[si].role
        cover = len(people[pi].skills & role.skills) / len(role.skills) if role.skills else 1.0
        weight[si, pi] = (1000 if role.critical else 0) + 100 + round(100 * cover)
    model.maximize(sum(weight[k] * v for k, v in x.items()))
    solver = cp_model.CpSolver()
    solver.parameters.max_time_in_seconds = seconds
    solver.parameters.num_workers = 1
    status = solver.solve(model)
    out.status = solver.status_name(status)
    used: set[int] = set()
    if status in (cp_model.OPTIMAL, cp_model.FEASIBLE):
        for (si, pi), v in x.items():
            if solver.value(v):
                out.filled[slots[si].role.name, slots[si].index] = people[pi].id
                used.add(pi)
    out.unassigned_people = [p.id for i, p in enumerate(people) if i not in used]
    for slot in out.unfilled(critical_only=True):
        for p in people:
            if p.available_from and start and p.available_from > start and fits(p, slot.role, None):
                out.late[p.id] = p.available_from
    return out


# -- RACI ----------------------------------------------------------------------------------------


@dataclass
class RaciRow:
    """One activity: who is Responsible, Accountable, Consulted, Informed."""

    activity: str
    responsible: list[str]
    accountable: str
    consulted: list[str] = field(default_factory=list)
    informed: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        """The `team_structure.raci` item."""
        return asdict(self)


def build_raci(
    activities: list[tuple[str, frozenset[str]]],
    members: dict[str, Person],
    role_of: dict[str, str],
    critical_roles: set[str],
    *,
    max_share: float,
) -> list[RaciRow]:
    """A RACI row per activity (name, skills it needs).

    Responsible: members holding one of the activity's skills (every member when none do). Accountable:
    among members in critical roles (everyone when there are none), the one with the fewest
    accountabilities so far that holds the most of the activity's skills — spreading accountability so
    no one exceeds `max_share` of the activities when the team allows it. Consulted: other critical-role
    members; informed: everyone else.
    """
    leads = sorted(m for m in members if role_of.get(m) in critical_roles) or sorted(members)
    count: Counter[str] = Counter()
    rows = []
    for name, skills in activities:
        responsible = sorted(m for m, p in members.items() if p.skills & skills) or sorted(members)
        limit = max(1, int(max_share * len(activities) + 1e-9))
        candidates = [m for m in leads if count[m] < limit] or leads
        accountable = min(candidates, key=lambda m: (count[m], -len(members[m].skills & skills), m))
        count[accountable] += 1
        consulted = [m for m in leads if m != accountable and m not in responsible]
        informed = [m for m in sorted(members) if m not in responsible and m != accountable and m not in consulted]
        rows.append(RaciRow(name, responsible, accountable, consulted, informed))
    return rows


def validate_raci(rows: list[RaciRow], members: set[str], *, max_share: float) -> list[str]:
    """Rule violations: exactly one Accountable (a member), at least one Responsible, no one Accountable for
    more than `max_share` of the activities, everyone named is a member."""
    problems = []
    count: Counter[str] = Counter()
    for row in rows:
        if not row.accountable or row.accountable not in members:
            problems.append(f"{row.activity}: needs exactly one Accountable who is a team member")
        if not row.responsible:
            problems.append(f"{row.activity}: needs at least one Responsible")
        strangers = [m for m in (*row.responsible, *row.consulted, *row.informed) if m not in members]
        if strangers:
            problems.append(f"{row.activity}: not team members: {', '.join(sorted(set(strangers)))}")
        count[row.accountable] += 1
    for who, n in sorted(count.items()):
        if rows and n / len(rows) > max_share + 1e-9:
            problems.append(
                f"{who} is Accountable for {n} of {len(rows)} activities ({100 * n / len(rows):.0f}% > "
                f"{100 * max_share:.0f}%)"
            )
    return problems


# -- onboarding ----------------------------------------------------------------------------------


def checklist(environments: list[str], repository: str, tools: list[str]) -> list[dict[str, Any]]:
    """One person's onboarding items, generated from what 14.1 provisioned."""
    items = [{"id": f"env-{e}", "text": f"Log in to the {e} environment and its database", "done": False}
             for e in environments]  # fmt: skip
    items.append({"id": "repo", "text": f"Clone {repository}, build and run it locally", "done": False})
    items += [{"id": f"tool-{t}", "text": f"Run {t} on your machine", "done": False} for t in tools]
    items.append({"id": "raci", "text": "Read the RACI matrix and approve it", "done": False})
    return items
