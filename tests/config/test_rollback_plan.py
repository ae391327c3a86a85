"""The rollback decision tree as data: which branch a cause takes, and the steps it implies (pure)."""

from __future__ import annotations

import pytest

from venturegate.core.rollback_plan import UnknownCause, causes, normalize_cause, plan_rollback
from venturegate.definitions.loader import LoadedWorkflow, load_workflow
from venturegate.definitions.model import Stage


@pytest.fixture(scope="module")
def studio() -> LoadedWorkflow:
    """The bundled workflow."""
    return load_workflow()


def _stage(wf: LoadedWorkflow, n: int) -> Stage:
    stage = wf.workflow.stage(n)
    assert stage is not None
    return stage


@pytest.mark.parametrize(
    ("stage", "cause", "action", "restores", "scope", "go_to"),
    [
        (19, "transient", "wait_and_retry", False, (), None),  # transient → wait and retry
        (19, "configuration", "fix_forward", False, (), None),  # configuration error → fix forward
        (
            19,
            "systemic",
            "rollback_and_recurse",
            True,
            ("api_config", "api_version", "circuit_breakers", "integrations"),
            14,
        ),
        (30, "traffic_only", "rollback", True, ("traffic",), None),
        (30, "green_unrecoverable", "rollback_and_recurse", True, ("traffic", "database", "green"), "30.1"),
        (30, "not_switched", "abort", False, (), None),
        (28, "Stale-Cache", "rollback_and_recurse", True, ("cache", "cache_data"), "28.2"),
    ],
)
def test_each_cause_takes_its_branch(
    studio: LoadedWorkflow,
    stage: int,
    cause: str,
    action: str,
    restores: bool,
    scope: tuple[str, ...],
    go_to: int | str | None,
) -> None:
    plan = plan_rollback(_stage(studio, stage), cause)
    assert (plan.action, plan.restores, plan.scope, plan.go_to) == (action, restores, scope, go_to)
    assert plan.snapshot == (f"pre-stage-{stage}" if restores else None)
    assert plan.cause == normalize_cause(cause)
    assert plan.why.startswith(f"cause '{plan.cause}' matches branch ")


def test_steps_spell_out_the_plan(studio: LoadedWorkflow) -> None:
    systemic = plan_rollback(_stage(studio, 19), "systemic")
    assert systemic.steps == (
        "restore api_config, api_version, circuit_breakers, integrations from snapshot pre-stage-19",
        "run the rollback handlers of api_config, api_version, circuit_breakers, integrations",
        "send the venture back to stage 14",
    )
    assert plan_rollback(_stage(studio, 19), "transient").steps == (
        "wait for the cause to clear",
        "retry the failed step",
    )
    over = plan_rollback(_stage(studio, 28), "over_caching")
    assert over.steps == ("correct the setting", "re-run substage 28.2")
    assert "nothing is restored" in over.why


def test_unknown_cause_lists_the_available_ones(studio: LoadedWorkflow) -> None:
    with pytest.raises(UnknownCause) as exc:
        plan_rollback(_stage(studio, 30), "transient")
    assert exc.value.available == ("not_switched", "traffic_only", "schema_changed", "green_unrecoverable")
    assert "causes: not_switched, traffic_only" in str(exc.value)
    assert causes(_stage(studio, 1)) == ()
    with pytest.raises(UnknownCause, match="none \\(the stage has no decision tree\\)"):
        plan_rollback(_stage(studio, 1), "systemic")
