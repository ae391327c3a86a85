"""A stage's rollback decision tree, applied to a cause: which branch, what it does, and why.

Pure: the tree is data from the stage definition; the engine carries the plan out.
"""

from __future__ import annotations

from dataclasses import dataclass

from venturegate.definitions.model import RollbackAction, RollbackBranch, Stage

RESTORING: frozenset[str] = frozenset({"rollback", "rollback_and_recurse"})
"""Actions that restore configuration from a snapshot."""

_MEANING: dict[str, str] = {
    "wait_and_retry": "the cause clears by itself: wait, then retry the failed step; nothing is restored",
    "fix_forward": "a setting is wrong: correct it in place (`config set`); nothing is restored",
    "rollback": "restore the configuration from the snapshot",
    "rollback_and_recurse": "restore the configuration from the snapshot, then send the venture back",
    "abort": "stop the change; nothing is restored",
}


class UnknownCause(ValueError):
    """The cause is not in the stage's decision tree; `available` lists the causes that are."""

    def __init__(self, stage: int, cause: str, available: tuple[str, ...]) -> None:
        self.stage = stage
        self.cause = cause
        self.available = available
        listed = ", ".join(available) if available else "none (the stage has no decision tree)"
        super().__init__(f"stage {stage} has no rollback branch for cause '{cause}'; causes: {listed}")


@dataclass(frozen=True)
class RollbackPlan:
    """The branch chosen for a cause and the steps it implies."""

    stage: int
    cause: str
    action: RollbackAction
    restores: bool
    snapshot: str | None
    scope: tuple[str, ...]
    go_to: int | str | None
    description: str
    why: str
    steps: tuple[str, ...]


def normalize_cause(cause: str) -> str:
    """Causes compare case-insensitively, with `-` and spaces read as `_`."""
    return "_".join(cause.strip().lower().replace("-", " ").split())


def causes(stage: Stage) -> tuple[str, ...]:
    """The causes a stage's decision tree knows, in the order they are tried."""
    return tuple(b.cause for b in stage.rollback.decision_tree)


def choose_branch(stage: Stage, cause: str) -> RollbackBranch:
    """The first branch whose cause matches; `UnknownCause` when none does."""
    wanted = normalize_cause(cause)
    for branch in stage.rollback.decision_tree:
        if normalize_cause(branch.cause) == wanted:
            return branch
    raise UnknownCause(stage.id, cause, causes(stage))


def plan_rollback(stage: Stage, cause: str) -> RollbackPlan:
    """Apply the stage's decision tree to a cause and explain the result."""
    branch = choose_branch(stage, cause)
    restores = branch.action in RESTORING
    snapshot = f"pre-stage-{stage.id}" if restores else None
    scope = tuple(branch.scope) if restores else ()
    go_to = branch.go_to
    order = causes(stage).index(branch.cause) + 1
    why = (
        f"cause '{branch.cause}' matches branch {order} of {len(stage.rollback.decision_tree)} "
        f"of stage {stage.id}'s decision tree: {_MEANING[branch.action]}"
    )
    return RollbackPlan(
        stage=stage.id,
        cause=branch.cause,
        action=branch.action,
        restores=restores,
        snapshot=snapshot,
        scope=scope,
        go_to=go_to,
        description=branch.description,
        why=why,
        steps=_steps(branch, snapshot, scope),
    )


def _steps(branch: RollbackBranch, snapshot: str | None, scope: tuple[str, ...]) -> tuple[str, ...]:
    where = _target_text(branch.go_to)
    scopes = ", ".join(scope) if scope else "every scope"
    if branch.action == "wait_and_retry":
        return ("wait for the cause to clear", f"retry {where}" if where else "retry the failed step")
    if branch.action == "fix_forward":
        first = f"correct the {', '.join(branch.scope)} settings in place" if branch.scope else "correct the setting"
        return (first, f"re-run {where}") if where else (first,)
    if branch.action == "abort":
        parts = [f"stop; run the rollback handlers of {', '.join(branch.scope)}" if branch.scope else "stop"]
        return (*parts, "do not restore configuration")
    steps = [f"restore {scopes} from snapshot {snapshot}", f"run the rollback handlers of {scopes}"]
    if branch.action == "rollback_and_recurse" or where:
        steps.append(f"send the venture back to {where}" if where else "send the venture back")
    return tuple(steps)


def _target_text(target: int | str | None) -> str:
    if target is None:
        return ""
    return f"stage {target}" if isinstance(target, int) else f"substage {target}"
