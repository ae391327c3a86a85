"""The stage-14 demo venture: a technical plan, resources and a timeline that make a full stage-14 run.

`plan()` takes the base image so the demo (and the tests) can start from a plan whose Dockerfile hadolint
rejects (`python:latest`, DL3007) and fix it. Dates are relative to today: sprint 1 starts in two weeks,
the launch is twenty weeks after it.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import TYPE_CHECKING, Any

from venturegate.engine.actors import Actor

if TYPE_CHECKING:
    from venturegate.engine import Engine

LEAD = Actor("demo-lead", "lead")
EXEC = Actor("demo-exec", "exec")
CHAIRMAN = Actor("demo-chairman", "chairman")


def _story(title: str, points: float, skill: str, criteria: list[str], **extra: Any) -> dict[str, Any]:
    return {"title": title, "points": points, "skill": skill, "acceptance_criteria": criteria, **extra}


EPICS: list[dict[str, Any]] = [
    {
        "id": "platform",
        "title": "Platform foundations",
        "priority": "must",
        "stories": [
            _story("Service skeleton with health endpoint", 3, "python", ["GET /health answers 200 within 100 ms"]),
            _story("Database schema v1 and migrations", 5, "python", ["Migrations apply to an empty database in 30 s"]),
            _story("Pipeline deploys to staging", 5, "devops", ["A merge to main reaches staging within 15 minutes"]),
            _story("Structured logs and request ids", 3, "python", ["Every log line carries its request id"]),
        ],
    },
    {
        "id": "accounts",
        "title": "Accounts",
        "priority": "must",
        "depends_on": ["platform"],
        "stories": [
            _story("Sign up with e-mail", 5, "python", ["A visitor signs up with e-mail and password in 2 steps"]),
            _story("Log in and sessions", 5, "python", ["A session expires after 30 minutes without requests"]),
            _story("Password reset", 3, "python", ["A reset link is valid for 60 minutes and for one use only"]),
            _story("Account page", 5, "javascript", ["The account page shows name, e-mail and plan for the user"]),
        ],
    },
    {
        "id": "catalog",
        "title": "Catalog",
        "priority": "must",
        "depends_on": ["platform"],
        "stories": [
            _story("Product model", 3, "python", ["A product has a name, a price in cents and a stock count"]),
            _story("Admin CSV import", 5, "python", ["An admin imports 1,000 products from CSV in under 60 s"]),
            _story("Product list page", 5, "javascript", ["The list shows 24 products per page with their prices"]),
            _story("Search by name", 5, "python", ["Searching a product name returns it first among 10 results"]),
            _story("Product detail page", 3, "javascript", ["The detail page shows price, stock and 3 images"]),
        ],
    },
    {
        "id": "checkout",
        "title": "Checkout",
        "priority": "should",
        "depends_on": ["accounts", "catalog"],
        "stories": [
            _story("Cart", 5, "python", ["The cart keeps up to 50 items for 7 days per user"]),
            _story("Cart page", 5, "javascript", ["The cart page updates the total within 200 ms of a change"]),
            _story("Place an order", 5, "python", ["Placing an order reserves the stock of its 1 to 50 items"]),
            _story("Order history", 3, "python", ["A placed order appears in the user's history within 1 s"]),
            _story("Payment sandbox integration", 5, "python", ["A sandbox payment of 10 EUR completes end to end"]),
        ],
    },
    {
        "id": "operations",
        "title": "Operations",
        "priority": "should",
        "depends_on": ["platform"],
        "stories": [
            _story("Alerting on error rate", 3, "devops", ["An error rate above 5% for 5 minutes pages the on-call"]),
            _story(
                "Nightly database backup with restore test", 5, "devops", ["The nightly backup restores in 10 minutes"]
            ),
            _story("Load test of the checkout path", 5, "devops", ["Checkout holds 50 req/s at p95 under 300 ms"]),
        ],
    },
    {
        "id": "growth",
        "title": "Growth experiments",
        "priority": "could",
        "stories": [
            _story("Referral codes", 5, "python", ["A referral code gives both users 10% off their next order"]),
            _story("Newsletter sign-up form", 2, "javascript", ["The form stores the e-mail after a double opt-in"]),
        ],
    },
]


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
