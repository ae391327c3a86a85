"""14.2 Team formation: assignment, RACI, onboarding checklists, `team_structure`, notifications.

Approvals and checked-off items of an earlier `team_structure` are kept for the same person and item, so
re-running the crew never erases what people already did.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any

from venturegate.crews.runtime import CrewRun
from venturegate.crews.stage14 import team as t
from venturegate.crews.stage14._steps import record
from venturegate.crews.stage14.inputs import Inputs
from venturegate.crews.stage14.onboarding import completion, raci_rate
from venturegate.engine.exceptions import NotFound

TOOLS = ("git", "docker", "terraform", "actionlint", "hadolint")


@dataclass
class TeamOutcome:
    """What 14.2 decided."""

    assignment: t.Assignment
    members: dict[str, t.Person]
    raci: list[t.RaciRow]
    problems: list[str]
    content: dict[str, Any] = field(default_factory=dict)


def activities(inputs: Inputs) -> list[tuple[str, frozenset[str]]]:
    """RACI activities: the environments and pipeline, each epic, planning and release."""
    rows = [("Environments and infrastructure", frozenset({"devops", "terraform", "infrastructure"})),
            ("CI/CD pipeline", frozenset({"devops", "ci", "github-actions"}))]  # fmt: skip
    for epic in inputs.epics:
        skills = frozenset(str(s.get("skill")).lower() for s in epic.get("stories", []) if s.get("skill"))
        rows.append((f"Epic {epic['id']}: {epic['title']}", skills))
    rows += [("Sprint planning and backlog", frozenset({"product", "lead"})),
             ("Release and on-call", frozenset({"devops", "lead"}))]  # fmt: skip
    return rows


def _previous(run: CrewRun) -> dict[str, dict[str, Any]]:
    try:
        content = run.engine.artifact(run.ctx.venture, "team_structure").content
    except NotFound:
        return {}
    return {str(m["id"]): m for m in content.get("members", [])}


def form(run: CrewRun, inputs: Inputs, environments: list[str]) -> TeamOutcome:
    """Assign, build the RACI, generate checklists, store `team_structure`, record the metrics."""
    run.step("14.2 TeamFormer", 0, 2, "assigning people to roles (CP-SAT)")
    assignment = t.assign(inputs.roles, inputs.people, inputs.sprint_1_start)
    role_of = assignment.role_of()
    people = {p.id: p for p in inputs.people}
    members = {pid: people[pid] for pid in role_of}
    critical = {r.name for r in inputs.roles if r.critical}
    share = int(run.setting("raci_accountable_max_percent")) / 100
    raci = t.build_raci(activities(inputs), members, role_of, critical, max_share=share) if members else []
    problems = t.validate_raci(raci, set(members), max_share=share) if members else ["no team members"]
    run.step("14.2 TeamFormer", 1, 2, "RACI and onboarding checklists")
    before = _previous(run)
    matrix = [r.as_dict() for r in raci]
    out_members: list[dict[str, Any]] = []
    for pid, person in sorted(members.items()):
        items = t.checklist(environments, inputs.repository, list(TOOLS))
        old = before.get(pid, {})
        done = {i["id"] for i in old.get("onboarding", []) if i.get("done")}
        for item in items:
            item["done"] = item["id"] in done
        same_raci = old.get("raci_matrix_digest") == _digest(matrix)
        out_members.append({
            "id": pid, "name": person.name, "role": role_of[pid],
            "responsibilities": [r.activity for r in raci if pid in r.responsible or r.accountable == pid],
            "onboarding": items,
            "onboarding_complete": all(i["done"] for i in items),
            "raci_approved": bool(old.get("raci_approved")) and same_raci,
            "raci_matrix_digest": _digest(matrix),
        })  # fmt: skip
    roles = []
    for role in inputs.roles:
        for i in range(role.count):
            holder = assignment.filled.get((role.name, i))
            roles.append({"name": role.name if role.count == 1 else f"{role.name} #{i + 1}", "critical": role.critical,
                          "filled": holder is not None, **({"authority": holder} if holder else {})})  # fmt: skip
    content: dict[str, Any] = {
        "venture_id": str(inputs.venture_id),
        "roles": roles,
        "members": out_members or [{"id": "(nobody)", "onboarding_complete": False, "raci_approved": False}],
        "raci": matrix or [{"activity": "(none)", "responsible": ["(nobody)"], "accountable": "(nobody)"}],
        "escalation_path": sorted({r.accountable for r in raci}),
        "on_call": sorted(m for m in members if role_of[m] in critical),
        "kickoff_date": max(date.today(), inputs.sprint_1_start - timedelta(days=3)).isoformat(),
        "raci_rules": {"max_accountable_percent": round(100 * share), "violations": problems},
    }
    derived = [r for r in inputs.refs if r.startswith("resource_requirements@")] + [
        a for a in run.artifacts if a.startswith("development_environment@")
    ]
    run.put("team_structure", content, derived=derived)
    entered = run.engine.visits(run.ctx.venture)[-1].entered_at
    days_open = (datetime.now(UTC) - entered).days
    unfilled_days = 0.0
    if assignment.unfilled(critical_only=True):
        # A critical role nobody can fill stays open at least until sprint 1 starts.
        unfilled_days = float(max(days_open, (inputs.sprint_1_start - entered.date()).days))
    budget = inputs.resources.get("budget", {})
    required = float(budget.get("required_usd_monthly", 0) or 0)
    values = {
        "roles_filled_percent": assignment.roles_filled_percent,
        "critical_role_unfilled_days": unfilled_days,
        "unavailable_skills": float(len(assignment.unavailable_skills)),
        "raci_approval_rate": raci_rate(out_members),
        "onboarding_completion_rate": completion(out_members),
        "team_assembly_time": 0.0,
    }
    if required > 0:
        values["budget_coverage"] = round(100.0 * float(budget.get("allocated_usd_monthly", 0)) / required, 2)
    run.summary["team"] = {
        "roles_filled_percent": assignment.roles_filled_percent,
        "solver": assignment.status,
        "assignment": {f"{r} #{i + 1}": p for (r, i), p in sorted(assignment.filled.items())},
        "unfilled": [f"{s.role.name} #{s.index + 1}" for s in assignment.unfilled()],
        "unavailable_skills": assignment.unavailable_skills,
        "raci": matrix,
        "raci_violations": problems,
    }
    record(run, values)
    for m in out_members:
        if not m["onboarding_complete"]:
            run.engine.crew_alert(
                run.ctx.venture,
                f"onboarding checklist for {m['id']} ({m['role']}): {len(m['onboarding'])} items, "
                f"due in {int(run.setting('onboarding_completion_days'))} days",
                severity="P2", actor=run.ctx.actor, data={"kind": "onboarding", "member": m["id"]},
            )  # fmt: skip
    return TeamOutcome(assignment, members, raci, problems, content)


def _digest(matrix: list[dict[str, Any]]) -> str:
    import hashlib
    import json

    return hashlib.sha256(json.dumps(matrix, sort_keys=True).encode()).hexdigest()[:16]
