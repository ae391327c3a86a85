"""The stage-14 demo venture: a technical plan, resources and a timeline that make a full stage-14 run.

`plan()` takes the base image so the demo (and the tests) can start from a plan whose Dockerfile hadolint
rejects (`python:latest`, DL3007) and fix it. Dates are relative to today: sprint 1 starts in two weeks,
the launch is twenty weeks after it.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

import yaml

from venturegate.engine.actors import Actor

if TYPE_CHECKING:
    from venturegate.engine import Engine

LEAD = Actor("demo-lead", "lead")
EXEC = Actor("demo-exec", "exec")
CHAIRMAN = Actor("demo-chairman", "chairman")


EPICS: list[dict[str, Any]] = yaml.safe_load((Path(__file__).parent / "demo_epics.yaml").read_text(encoding="utf-8"))
"""The demo plan's epics and stories (data, in `demo_epics.yaml`)."""


def plan(venture_id: str, base_image: str | None = None, epics: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    """The technical plan (approved by EXEC)."""
    service: dict[str, Any] = {
        "name": "shop-api",
        "command": ["uvicorn", "app:app", "--host", "0.0.0.0", "--port", "8000"],
        "port": 8000,
        "health_path": "/health",
    }
    if base_image:
        service["base_image"] = base_image
    return {
        "venture_id": venture_id,
        "version": "1.0",
        "architecture": {
            "summary": "A FastAPI service over PostgreSQL and Redis",
            "components": [
                {"name": "api", "responsibility": "HTTP API"},
                {"name": "worker", "responsibility": "background jobs", "depends_on": ["api"]},
            ],
        },
        "tech_stack": ["python", "fastapi", "postgresql", "redis", "docker", "terraform", "github-actions"],
        "service": service,
        "epics": EPICS if epics is None else epics,
        "approval": {"status": "approved", "approved_by": "exec", "approved_at": datetime.now(UTC).isoformat()},
    }


def resources(venture_id: str, people: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    """Budget, roles and the people available."""
    return {
        "venture_id": venture_id,
        "budget": {"required_usd_monthly": 60000, "allocated_usd_monthly": 60000, "infrastructure_usd_monthly": 2000},
        "roles": [
            {"role": "tech_lead", "count": 1, "critical": True, "skills": ["lead", "python"]},
            {"role": "backend", "count": 2, "critical": False, "skills": ["python"]},
            {"role": "devops", "count": 1, "critical": True, "skills": ["devops"]},
            {"role": "frontend", "count": 1, "critical": False, "skills": ["javascript"]},
        ],
        "infrastructure": {"environments": ["dev", "staging"]},
        "allocation_percent": 100,
        "people": people
        if people is not None
        else [
            {"id": "ana", "name": "Ana Lima", "skills": ["lead", "python"], "hours_per_week": 32},
            {"id": "bo", "name": "Bo Chen", "skills": ["python"], "hours_per_week": 32},
            {"id": "cy", "name": "Cy Okafor", "skills": ["devops", "terraform"], "hours_per_week": 32},
            {"id": "di", "name": "Di Novak", "skills": ["javascript", "design"], "hours_per_week": 32},
            {"id": "ed", "name": "Ed Park", "skills": ["python"], "hours_per_week": 24},
        ],
    }


def timeline(venture_id: str, start: date | None = None, launch_weeks: int = 20) -> dict[str, Any]:
    """Sprint 1 in two weeks, the launch `launch_weeks` later, and the team's last six sprints."""
    sprint1 = start or (date.today() + timedelta(days=14))
    return {
        "venture_id": venture_id,
        "development_start": (sprint1 - timedelta(days=14)).isoformat(),
        "sprint_1_start": sprint1.isoformat(),
        "target_launch": (sprint1 + timedelta(weeks=launch_weeks)).isoformat(),
        "milestones": [{"name": "Beta", "due": (sprint1 + timedelta(weeks=12)).isoformat()}],
        "velocity_history": [26, 29, 24, 31, 27, 28],
    }


def enter(engine: Engine, name: str, segment: str = "b2b_enterprise", **plan_kwargs: Any) -> None:
    """Create `name` at stage 14 with its inputs and pass the entry gate (allocation recorded, Chairman approves)."""
    from venturegate.engine.samples import SampleIn

    engine.create_venture(name, segment, 14, actor=LEAD)
    engine.put_artifact(name, "technical_plan", plan(name, **plan_kwargs), actor=LEAD)
    engine.put_artifact(name, "resource_requirements", resources(name), actor=LEAD)
    engine.put_artifact(name, "timeline", timeline(name), actor=LEAD)
    engine.record_samples([SampleIn(name, "resource_allocation_rate", 100.0)], actor=LEAD)
    pending = [a for a in engine.approvals(name, "pending") if a.role == "chairman"]
    if not pending:
        pending = [engine.request_approval(name, "chairman", actor=LEAD, reason="resources allocated for stage 14")]
    engine.decide_approval(pending[0].id, True, actor=CHAIRMAN, reason="resources confirmed")
