"""Who may do what through the API: the permission matrix as data (documented in docs/api.md).

The matrix says which roles may attempt an operation at all. Some decisions also depend on the
thing acted on, and the engine makes them: an approval is decided only by the role it asks for,
a bypass only by the roles its policy lists (with a reason), an escalation is resolved by its
role or the Chairman, and a parameter with an `approval_role` is changed only by that role.
"""

from __future__ import annotations

from typing import Final, Literal

Role = Literal["chairman", "lead", "plan", "exec", "agent", "viewer"]
ROLES: Final[tuple[Role, ...]] = ("chairman", "lead", "plan", "exec", "agent", "viewer")

Permission = Literal[
    "read",
    "write_samples",
    "write_artifacts",
    "complete_substages",
    "report_errors",
    "run_crews",
    "attest",
    "advance",
    "request_approvals",
    "decide_approvals",
    "bypass_approvals",
    "manage_ventures",
    "change_config",
    "resolve_escalations",
    "operate",
]

PERMISSIONS: Final[dict[Permission, str]] = {
    "read": "read everything: ventures, gates, events, configuration, figures, the workflow",
    "write_samples": "record metric samples (`POST /api/metrics`)",
    "write_artifacts": "store artifact versions",
    "complete_substages": "complete substages of the current stage",
    "report_errors": "report an error to the error policy",
    "run_crews": "start a stage's crew for a venture as a job, and cancel crew jobs",
    "attest": "attest a written gate criterion (people only; a criterion may name its role)",
    "advance": "advance a venture whose exit gate passes",
    "request_approvals": "ask a role for an approval",
    "decide_approvals": "approve or reject (the engine also requires the approval's own role)",
    "bypass_approvals": "bypass an approval with a reason (the engine also requires a role its policy allows)",
    "manage_ventures": "create, pause, resume and kill ventures",
    "change_config": "change configuration (thresholds, parameters), snapshots, rollbacks, progression modes",
    "resolve_escalations": "resolve an escalation (the engine also requires its role or the Chairman)",
    "operate": "run due timers, deliver the outbox, retry dead-lettered notifications",
}

_PEOPLE: Final = frozenset({"chairman", "lead", "plan", "exec"})
_WRITERS: Final = _PEOPLE | {"agent"}
_STEERING: Final = frozenset({"chairman", "lead"})

MATRIX: Final[dict[Permission, frozenset[str]]] = {
    "read": frozenset(ROLES),
    "write_samples": _WRITERS,
    "write_artifacts": _WRITERS,
    "complete_substages": _WRITERS,
    "report_errors": _WRITERS,
    "run_crews": _WRITERS,
    "attest": _PEOPLE,
    "advance": _PEOPLE,
    "request_approvals": _PEOPLE,
    "decide_approvals": _PEOPLE,
    "bypass_approvals": _PEOPLE,
    "manage_ventures": _STEERING,
    "change_config": _STEERING,
    "resolve_escalations": _PEOPLE,
    "operate": _STEERING,
}


def allowed(role: str, permission: Permission) -> bool:
    """Whether a role holds a permission."""
    return role in MATRIX[permission]


def roles_with(permission: Permission) -> list[str]:
    """The roles holding a permission, in the order of `ROLES`."""
    return [r for r in ROLES if r in MATRIX[permission]]


def refusal(role: str, permission: Permission) -> str | None:
    """Why `role` may not do what `permission` allows, or None when it may (the API and the CLI say this)."""
    if allowed(role, permission):
        return None
    return f"role {role} may not {PERMISSIONS[permission]}; roles allowed: {', '.join(roles_with(permission))}"


def is_role(text: str) -> bool:
    """Whether `text` names one of the API's roles."""
    return text in ROLES


def render_matrix() -> str:
    """The matrix as a Markdown table (docs/api.md holds it; a test keeps the two equal)."""
    head = "| permission | " + " | ".join(ROLES) + " | what it allows |"
    rule = "|---|" + "---|" * len(ROLES) + "---|"
    rows = [
        f"| `{p}` | " + " | ".join("✓" if r in MATRIX[p] else "—" for r in ROLES) + f" | {PERMISSIONS[p]} |"
        for p in MATRIX
    ]
    return "\n".join([head, rule, *rows]) + "\n"


if __name__ == "__main__":
    print(render_matrix(), end="")
