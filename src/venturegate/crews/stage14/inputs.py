"""Reading stage 14's inputs: the `technical_plan`, `resource_requirements` and `timeline` artifacts.

Transformation rules (docs/crews.md, "Stage 14"):

- `technical_plan.tech_stack` → the stack (language, backing services) of every generated file;
  `technical_plan.service` → the Dockerfile's and compose file's command, port and health path;
  `technical_plan.epics` → the backlog (14.3).
- `resource_requirements.roles` and `.people` → the assignment and RACI (14.2);
  `.infrastructure.environments` together with config `required_environments` → the environments (14.1).
- `timeline.sprint_1_start` → sprint dates and `days_to_sprint_start`; `target_launch` (else the last
  milestone) → the forecast's deadline; `velocity_history` → the velocity estimate and Monte Carlo draws;
  `required_velocity_points` → `velocity_capacity_coverage`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import date
from typing import TYPE_CHECKING, Any

from venturegate.crews.stage14.generate import Service
from venturegate.crews.stage14.stacks import Stack, resolve
from venturegate.crews.stage14.team import Person, Role
from venturegate.engine.exceptions import BadInput, NotFound

if TYPE_CHECKING:
    from venturegate.engine import Engine

INPUTS = ("technical_plan", "resource_requirements", "timeline")
DEFAULT_COMMAND = {
    "python": ["python", "-m", "app"],
    "node": ["node", "server.js"],
    "go": ["/app/server"],
}


def _slug(text: str) -> str:
    slug = re.sub(r"[^a-z0-9-]+", "-", text.lower()).strip("-")[:40].strip("-")
    return slug if slug and slug[0].isalnum() else "service"


def _date(value: Any, where: str) -> date:
    try:
        return date.fromisoformat(str(value))
    except ValueError:
        raise BadInput(f"{where} is not a date: {value!r}", where=where, hint="YYYY-MM-DD") from None


@dataclass
class Inputs:
    """The three inputs, read and resolved."""

    venture_id: int
    venture_name: str
    plan: dict[str, Any]
    resources: dict[str, Any]
    timeline: dict[str, Any]
    refs: list[str]
    """`name@version` of each input (the lineage of every output)."""
    environments: list[str]
    roles: list[Role]
    people: list[Person]
    epics: list[dict[str, Any]]
    sprint_1_start: date
    deadline: date | None
    velocity_history: list[float]
    required_velocity: float | None
    repository: str
    service_raw: dict[str, Any] = field(default_factory=dict)

    def stack(self) -> Stack:
        """The plan's stack (raises `UnsupportedStack`)."""
        return resolve([str(w) for w in self.plan.get("tech_stack", [])])

    def service(self, stack: Stack) -> Service:
        """The plan's service, with defaults from the stack."""
        raw = self.service_raw
        command = raw.get("command") or DEFAULT_COMMAND[stack.language.name]
        return Service(
            name=str(raw.get("name") or _slug(self.venture_name)),
            command=tuple(str(c) for c in command),
            port=int(raw.get("port", 8080)),
            health_path=str(raw.get("health_path", "/health")),
            base_image=str(raw["base_image"]) if raw.get("base_image") else None,
        )


def read(engine: Engine, venture: str | int, required_environments: list[str]) -> Inputs:
    """The inputs of `venture`; raises `BadInput` naming a missing one."""
    contents: dict[str, dict[str, Any]] = {}
    refs = []
    for name in INPUTS:
        try:
            art = engine.artifact(venture, name)
        except NotFound:
            raise BadInput(
                f"stage 14 needs the {name} artifact", where=name, hint=f"`venturegate artifact put V {name} FILE`"
            ) from None
        contents[name] = dict(art.content)
        refs.append(f"{art.name}@{art.version}")
    plan, resources, timeline = contents["technical_plan"], contents["resource_requirements"], contents["timeline"]
    v = engine.venture(venture)
    declared = [str(e) for e in resources.get("infrastructure", {}).get("environments", [])]
    environments = list(dict.fromkeys([*required_environments, *declared]))
    roles = [
        Role(
            str(r["role"]), int(r["count"]), bool(r["critical"]), frozenset(str(s).lower() for s in r.get("skills", []))
        )
        for r in resources.get("roles", [])
    ]
    people = [
        Person(
            str(p["id"]), str(p.get("name") or p["id"]), frozenset(str(s).lower() for s in p.get("skills", [])),
            float(p["hours_per_week"]),
            _date(p["available_from"], f"resource_requirements.people.{p['id']}.available_from")
            if p.get("available_from") else None,
        )
        for p in resources.get("people", [])
    ]  # fmt: skip
    deadline = None
    if timeline.get("target_launch"):
        deadline = _date(timeline["target_launch"], "timeline.target_launch")
    elif timeline.get("milestones"):
        deadline = max(_date(m["due"], "timeline.milestones.due") for m in timeline["milestones"])
    required = timeline.get("required_velocity_points")
    service_raw = dict(plan.get("service") or {})
    return Inputs(
        venture_id=v.id,
        venture_name=v.name,
        plan=plan,
        resources=resources,
        timeline=timeline,
        refs=refs,
        environments=environments,
        roles=roles,
        people=people,
        epics=list(plan.get("epics") or []),
        sprint_1_start=_date(timeline["sprint_1_start"], "timeline.sprint_1_start"),
        deadline=deadline,
        velocity_history=[float(x) for x in timeline.get("velocity_history") or []],
        required_velocity=float(required) if required is not None else None,
        repository=str(service_raw.get("repository") or f"git@example.invalid:{_slug(str(v.name))}.git"),
        service_raw=service_raw,
    )
