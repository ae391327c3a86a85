"""14.3 Sprint planning: backlog from the epics, packing within capacity and dependencies, velocity and the
Monte Carlo forecast, exports, `sprint_plan`."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any

from venturegate.crews.runtime import CrewRun
from venturegate.crews.stage14 import backlog as bl
from venturegate.crews.stage14 import exports
from venturegate.crews.stage14 import forecast as fc
from venturegate.crews.stage14._steps import fail, record
from venturegate.crews.stage14.inputs import Inputs
from venturegate.crews.stage14.packing import Member, Plan, optimise
from venturegate.crews.stage14.team import Person

CEREMONIES = (
    ("planning", "first Monday of each sprint, 2 h"),
    ("standup", "every working day, 15 min"),
    ("refinement", "Wednesday of each sprint's first week, 1 h"),
    ("review", "last Friday of each sprint, 1 h"),
    ("retrospective", "last Friday of each sprint, 45 min"),
)


@dataclass
class SprintOutcome:
    """What 14.3 planned."""

    backlog: dict[str, Any] = field(default_factory=dict)
    plan: dict[str, Any] = field(default_factory=dict)
    velocity: dict[str, Any] = field(default_factory=dict)
    forecast: dict[str, Any] = field(default_factory=dict)
    figures: dict[str, float] = field(default_factory=dict)


def members(people: dict[str, Person], sprint_weeks: int) -> list[Member]:
    """Packing members: each person's points per sprint by the studio's capacity rule."""
    return [
        Member(p.id, fc.capacity_points(p.hours_per_week, sprint_weeks), p.skills) for _, p in sorted(people.items())
    ]


def velocity(inputs: Inputs, team: list[Member], sprint_weeks: int) -> dict[str, Any]:
    """The estimate, its source, the benchmark band and (with a history) the back-tested error."""
    history = inputs.velocity_history
    capacity = round(sum(m.capacity for m in team), 2)
    if history:
        recent = history[-6:]
        estimate = round(sum(recent) / len(recent), 2)
        source = f"mean of the last {len(recent)} sprints of the team's history"
    else:
        estimate, source = capacity, "benchmark per person: hours x 0.75 utilisation x 0.2 points/hour"
    band = fc.benchmark_band(len(team))
    out: dict[str, Any] = {
        "story_points": estimate, "source": source, "capacity_points": capacity, "benchmark_band": list(band),
        "benchmark_deviation": fc.deviation(estimate, band, sprint_weeks),
    }  # fmt: skip
    if len(history) >= 2:
        back = history[-7:-1]
        predicted = sum(back) / len(back)
        out["backtest_error_percent"] = round(100.0 * abs(predicted - history[-1]) / predicted, 2) if predicted else 0.0
    return out


def plan(run: CrewRun, inputs: Inputs, people: dict[str, Person], out: SprintOutcome | None = None) -> SprintOutcome:
    """All of 14.3, filling `out` as it goes (errors go to the error policy)."""
    out = SprintOutcome() if out is None else out
    weeks = int(run.setting("sprint_duration_weeks"))
    run.step("14.3 SprintPlanner", 0, 3, "backlog and dependency graph")
    try:
        backlog = bl.build(inputs.epics)
    except bl.CyclicDependencies as exc:
        fail(run, f"technical_plan.epics: {exc}")
    out.backlog = {k: v for k, v in backlog.as_dict().items() if k != "stories_detail"}
    stories = {s.id: s for s in backlog.stories}
    team = members(people, weeks)
    vel = velocity(inputs, team, weeks)
    out.velocity = vel
    if vel["capacity_points"] > 0 and inputs.velocity_history:
        # Pack to the velocity the team has shown: each person's share of it, by their capacity.
        scale = vel["story_points"] / vel["capacity_points"]
        team = [Member(m.id, round(m.capacity * scale, 2), m.skills) for m in team]
    run.step("14.3 SprintPlanner", 1, 3, f"packing {len(stories)} stories into sprints (CP-SAT)")
    packed: Plan = optimise(backlog.stories, team, seconds=float(run.ctx.option("solver_seconds", 5.0)))
    out.plan = packed.as_dict(stories, team)
    run.step("14.3 SprintPlanner", 2, 3, "velocity and Monte Carlo forecast")
    committed = [s for s in backlog.stories if s.priority in ("must", "should")]
    points = sum(s.points for s in committed)
    start = inputs.sprint_1_start
    forecast = fc.forecast(points, inputs.velocity_history, vel["story_points"], start=start, sprint_weeks=weeks,
                           deadline=inputs.deadline, trials=int(run.ctx.option("trials", 10000)))  # fmt: skip
    out.forecast = forecast.as_dict()
    run.write("forecast.svg", fc.chart_svg(forecast, start, weeks))
    sprint_of = packed.sprint
    run.write("backlog-jira.csv", exports.jira_csv(backlog.stories, sprint_of, venture=inputs.venture_name))
    run.write("backlog-github-issues.json", exports.github_json(backlog.stories, sprint_of))
    run.write("sprint-plan.json", json.dumps({"plan": out.plan, "velocity": vel, "forecast": out.forecast}, indent=2))
    # Required velocity: the timeline's, else committed points over the sprints before the deadline.
    sprints_available = None
    if inputs.deadline is not None:
        sprints_available = max(1, ((inputs.deadline - start).days + 1) // (7 * weeks))
    required = inputs.required_velocity
    if required is None and sprints_available:
        required = points / sprints_available
    prioritized = sum(s.points for s in backlog.stories if s.priority != "wont" and s.id not in backlog.ambiguous)
    late_must = 0
    if sprints_available is not None:
        late_must = sum(
            1
            for s in backlog.stories
            if s.priority == "must"
            and sprint_of.get(s.id, 10**6) >= sprints_available
            and any(d in sprint_of for d in s.depends_on)
        )
    figures = {
        # An epic counts as decomposed when it has stories and each fits one person's sprint.
        "story_decomposition_rate": _decomposed(inputs, backlog, packed),
        "ambiguous_acceptance_criteria": float(len(backlog.ambiguous)),
        "team_velocity": vel["story_points"],
        "velocity_benchmark_deviation": vel["benchmark_deviation"],
        "prioritized_backlog_sprints": round(prioritized / vel["story_points"], 2) if vel["story_points"] else 0.0,
        "blocking_dependencies": float(len(backlog.unresolved) + late_must),
        "days_to_sprint_start": float((start - datetime.now(UTC).date()).days),
        "sprint_planning_efficiency": 0.0,
    }
    if required:
        # a percent metric: 100 means the timeline is met; above is capped (the surplus is in the summary)
        figures["velocity_capacity_coverage"] = min(100.0, round(100.0 * vel["story_points"] / required, 2))
    if "backtest_error_percent" in vel:
        figures["velocity_estimate_error"] = vel["backtest_error_percent"]
    out.figures = figures
    first = packed.sprints()[0] if packed.sprints_used else []
    epics = {s.epic for s in backlog.stories if s.id in first}
    titles = [str(e["title"]) for e in inputs.epics if str(e["id"]) in epics]
    content = {
        "venture_id": str(inputs.venture_id),
        "sprint_duration_weeks": weeks,
        "backlog_depth_sprints": figures["prioritized_backlog_sprints"],
        "backlog": [s.as_dict() for s in sorted(backlog.stories, key=lambda s: (sprint_of.get(s.id, 10**6), s.id))]
        or [{"id": "-", "title": "(empty)", "story_points": 0, "priority": "wont", "acceptance_criteria": ["-"]}],
        "first_sprint": {
            "goal": ("Sprint 1: " + "; ".join(titles)) if titles else "(no story fits sprint 1)",
            "start": start.isoformat(),
            "end": (start + timedelta(weeks=weeks) - timedelta(days=1)).isoformat(),
            "story_ids": first or ["-"],
            "committed": True,
        },
        "velocity_estimate": {
            "story_points": vel["story_points"],
            "capacity_hours": round(sum(p.hours_per_week for p in people.values()) * weeks, 2),
            "utilization": fc.UTILISATION,
            "benchmark_points": round(sum(vel["benchmark_band"]) / 2 * weeks / 2, 2),
        },
        "ceremonies": [{"kind": k, "schedule": s} for k, s in CEREMONIES],
    }
    derived = [r for r in inputs.refs if r.startswith(("technical_plan@", "timeline@"))] + [
        a for a in run.artifacts if a.startswith("team_structure@")
    ]
    run.put("sprint_plan", content, derived=derived)
    record(run, figures)
    if inputs.deadline is not None and date.fromisoformat(forecast.dates["p85"]) > inputs.deadline:
        fail(
            run,
            f"more work than capacity before the deadline: {points:g} committed points need "
            f"{forecast.p85} sprints at P85 (until {forecast.dates['p85']}), the deadline is {inputs.deadline}",
        )
    return out


def _decomposed(inputs: Inputs, backlog: bl.Backlog, packed: Plan) -> float:
    if not inputs.epics:
        return 0.0
    ok = 0
    for epic in inputs.epics:
        mine = [s for s in backlog.stories if s.epic == str(epic["id"])]
        ok += bool(mine) and not any(s.id in packed.unplaceable for s in mine)
    return round(100.0 * ok / len(inputs.epics), 2)
