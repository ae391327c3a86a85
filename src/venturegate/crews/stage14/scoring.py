"""The readiness score from the venture's stored facts: latest samples of the metrics it reads, the team
structure and the sprint plan (see `readiness` for the function). Used by the crew and by every
onboarding or RACI update, so the score follows the facts."""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any

from venturegate.crews.stage14.readiness import INPUTS, Flags, Score, Settings, compute
from venturegate.crews.stage14.team import RaciRow, validate_raci
from venturegate.engine.actors import Actor
from venturegate.engine.exceptions import NotFound
from venturegate.engine.samples import SampleIn


def _content(engine: Any, venture: str | int, name: str) -> dict[str, Any] | None:
    try:
        content = engine.artifact(venture, name).content
    except NotFound:
        return None
    return content if isinstance(content, dict) else None


def flags(engine: Any, venture: str | int) -> Flags:
    """The non-metric facts from `team_structure` and `sprint_plan`."""
    team = _content(engine, venture, "team_structure") or {}
    plan = _content(engine, venture, "sprint_plan") or {}
    members = {str(m["id"]) for m in team.get("members", []) if m.get("role")}
    rows = [
        RaciRow(r["activity"], list(r.get("responsible", [])), str(r.get("accountable", "")),
                list(r.get("consulted", [])), list(r.get("informed", [])))
        for r in team.get("raci", [])
    ]  # fmt: skip
    share = float(team.get("raci_rules", {}).get("max_accountable_percent", 100)) / 100
    valid = bool(members) and bool(rows) and not validate_raci(rows, members, max_share=share)
    first = plan.get("first_sprint") or {}
    kickoff = team.get("kickoff_date")
    scheduled = bool(
        kickoff and first.get("start") and date.fromisoformat(kickoff) <= date.fromisoformat(first["start"])
    )
    return Flags(
        raci_valid=valid,
        kickoff_scheduled=scheduled,
        sprint1_stories=len(first.get("story_ids", [])),
        ceremonies=len({c.get("kind") for c in plan.get("ceremonies", [])}),
        goal=bool(str(first.get("goal", "")).strip()),
    )


def latest(engine: Any, venture: str | int) -> dict[str, float | None]:
    """The latest sample of each metric the score reads, in the current visit (None when not measured)."""
    entered = engine.visits(venture)[-1].entered_at
    now = datetime.now(UTC)
    out: dict[str, float | None] = {}
    for metric in INPUTS:
        got = engine.samples(venture, metric, since=entered, until=now, limit=1)
        out[metric] = float(got[-1].value) if got else None
    return out


def settings(engine: Any, venture: str | int) -> Settings:
    """The configuration the score compares with."""

    def value(key: str) -> float:
        return float(engine.setting(venture, key).value)

    return Settings(
        coverage_min=value("ci_cd_pipeline_coverage_min"),
        uptime_min=value("infrastructure_uptime_min"),
        backlog_depth=value("backlog_depth_sprints"),
        velocity_min=value("team_velocity_min"),
    )


def refresh(engine: Any, venture: str | int, *, actor: Actor, key: str | None = None) -> tuple[Score, list[Any]]:
    """Compute the score from the stored facts and record it; returns the score and the triggers that fired."""
    score = compute(latest(engine, venture), settings(engine, venture), flags(engine, venture))
    # The breakdown first: the gate judged when the reading arrives shows the breakdown of that reading.
    engine.put_artifact(venture, "readiness_breakdown", score.breakdown(key), actor=actor)
    got = engine.record_samples([SampleIn(venture, "readiness_score", score.score, key=key)], actor=actor)
    return score, list(got.fired)
