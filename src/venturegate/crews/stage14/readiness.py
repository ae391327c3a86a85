"""The readiness score: a documented weighted function of what the crew measured, never a typed number.

score = (environment + team + sprint) / 3, each section 0-100 as the sum of weight x fraction (the
studio's weights, stage-14 fact sheet):

| section | part (weight) | fraction |
|---|---|---|
| environment | dev access (25) | `dev_environment_access_rate` / 100 |
| | CI/CD passing (30) | 1 when `ci_cd_critical_test_failures` is 0, x min(1, cover / `ci_cd_pipeline_coverage_min`) |
| | staging and other environments (20) | `required_environments_ready` / 100 |
| | monitoring (15) | min(1, `infrastructure_stability` / `infrastructure_uptime_min`) |
| | tools (10) | `tool_access_rate` / 100 |
| team | roles filled (40) | `roles_filled_percent` / 100 |
| | onboarding (30) | `onboarding_completion_rate` / 100 |
| | RACI (20) | `raci_approval_rate` / 100 when the matrix passes its rules, else 0 |
| | kickoff (10) | 1 when a kickoff date on or before sprint 1 is set |
| sprint | backlog (30) | min(1, `prioritized_backlog_sprints` / `backlog_depth_sprints`) |
| | sprint 1 planned (25) | 1 when sprint 1 holds stories and `blocking_dependencies` is 0; 0.5 when blocked |
| | velocity (20) | min(1, `team_velocity` / `team_velocity_min`), halved when the benchmark deviation > 20 |
| | ceremonies (15) | ceremony kinds scheduled / 5 |
| | sprint goal (10) | 1 when sprint 1 has a goal |

A metric not measured counts 0 and is listed as unknown in the breakdown.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

INPUTS = (
    "dev_environment_access_rate", "ci_cd_critical_test_failures", "ci_cd_pipeline_coverage",
    "required_environments_ready", "infrastructure_stability", "tool_access_rate", "roles_filled_percent",
    "onboarding_completion_rate", "raci_approval_rate", "prioritized_backlog_sprints", "blocking_dependencies",
    "team_velocity", "velocity_benchmark_deviation",
)  # fmt: skip
"""The metrics the score reads (their latest samples)."""


@dataclass(frozen=True)
class Settings:
    """The configuration the score compares with."""

    coverage_min: float = 80.0
    uptime_min: float = 99.5
    backlog_depth: float = 3.0
    velocity_min: float = 20.0


@dataclass(frozen=True)
class Flags:
    """Facts that are not metrics: read from the team structure and sprint plan."""

    raci_valid: bool = False
    kickoff_scheduled: bool = False
    sprint1_stories: int = 0
    ceremonies: int = 0
    goal: bool = False


@dataclass
class Score:
    """The score and how it was made."""

    score: float
    sections: dict[str, float]
    parts: list[dict[str, Any]] = field(default_factory=list)
    unknown: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        """JSON form (the crew's report)."""
        return {"score": self.score, "sections": self.sections, "parts": self.parts, "unknown": self.unknown}

    def breakdown(self, sample_key: str | None = None) -> dict[str, Any]:
        """The `readiness_breakdown` artifact of this reading: each component's measured facts, its weight in
        its section, and its contribution to the score (points / 3, so the contributions add up to it)."""
        components = [
            {
                "name": f"{p['section']}: {p['part']}",
                "measured": p["measured"],
                "weight": p["weight"],
                "fraction": p["fraction"],
                "contribution": round(p["points"] / 3, 3),
            }
            for p in self.parts
        ]
        out = {"value": self.score, "sections": self.sections, "components": components, "unknown": self.unknown}
        return out | ({"sample_key": sample_key} if sample_key else {})


def compute(values: Mapping[str, float | None], settings: Settings, flags: Flags) -> Score:
    """The score from the latest values of `INPUTS` (None: not measured) and the flags."""
    unknown = sorted(m for m in INPUTS if values.get(m) is None)

    def v(metric: str) -> float:
        got = values.get(metric)
        return 0.0 if got is None else float(got)

    def clamp(x: float) -> float:
        return max(0.0, min(1.0, x))

    ci_ok = values.get("ci_cd_critical_test_failures") is not None and v("ci_cd_critical_test_failures") == 0
    velocity = clamp(v("team_velocity") / settings.velocity_min) if settings.velocity_min > 0 else 1.0
    if v("velocity_benchmark_deviation") > 20:
        velocity /= 2
    sprint1 = 0.0
    if flags.sprint1_stories > 0:
        sprint1 = 1.0 if values.get("blocking_dependencies") is not None and v("blocking_dependencies") == 0 else 0.5
    table: dict[str, list[tuple[str, float, float, str]]] = {
        "environment": [
            ("dev access", 25, clamp(v("dev_environment_access_rate") / 100), "dev_environment_access_rate"),
            ("CI/CD passing", 30, (1.0 if ci_ok else 0.0) * clamp(v("ci_cd_pipeline_coverage") / settings.coverage_min),
             "ci_cd_critical_test_failures, ci_cd_pipeline_coverage"),
            ("environments ready", 20, clamp(v("required_environments_ready") / 100), "required_environments_ready"),
            ("monitoring", 15, clamp(v("infrastructure_stability") / settings.uptime_min), "infrastructure_stability"),
            ("tools", 10, clamp(v("tool_access_rate") / 100), "tool_access_rate"),
        ],
        "team": [
            ("roles filled", 40, clamp(v("roles_filled_percent") / 100), "roles_filled_percent"),
            ("onboarding", 30, clamp(v("onboarding_completion_rate") / 100), "onboarding_completion_rate"),
            ("RACI", 20, clamp(v("raci_approval_rate") / 100) if flags.raci_valid else 0.0,
             "raci_approval_rate, RACI rules"),
            ("kickoff", 10, 1.0 if flags.kickoff_scheduled else 0.0, "team_structure.kickoff_date"),
        ],
        "sprint": [
            ("backlog", 30, clamp(v("prioritized_backlog_sprints") / settings.backlog_depth),
             "prioritized_backlog_sprints"),
            ("sprint 1 planned", 25, sprint1, "sprint_plan.first_sprint, blocking_dependencies"),
            ("velocity", 20, velocity, "team_velocity, velocity_benchmark_deviation"),
            ("ceremonies", 15, clamp(flags.ceremonies / 5), "sprint_plan.ceremonies"),
            ("sprint goal", 10, 1.0 if flags.goal else 0.0, "sprint_plan.first_sprint.goal"),
        ],
    }  # fmt: skip
    facts: dict[str, float | bool | None] = {m: values.get(m) for m in INPUTS}
    facts |= {
        "RACI rules": flags.raci_valid,
        "team_structure.kickoff_date": flags.kickoff_scheduled,
        "sprint_plan.first_sprint": float(flags.sprint1_stories),
        "sprint_plan.ceremonies": float(flags.ceremonies),
        "sprint_plan.first_sprint.goal": flags.goal,
    }
    parts = []
    sections = {}
    for section, rows in table.items():
        total = 0.0
        for name, weight, fraction, source in rows:
            points = round(weight * fraction, 2)
            total += points
            measured = {f: facts[f] for f in source.split(", ")}
            parts.append({"section": section, "part": name, "weight": weight, "fraction": round(fraction, 4),
                          "points": points, "from": source, "measured": measured})  # fmt: skip
        sections[section] = round(total, 2)
    score = round(sum(sections.values()) / 3, 2)
    return Score(score, sections, parts, unknown)
