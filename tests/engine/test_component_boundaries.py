"""The engine's components depend on each other through public methods and on the plumbing through `Plumbing`.

The guarantee: a component reaches no other object's private members except the plumbing's, and only those the
`Plumbing` protocol declares; no engine module reaches into a component's private members; components take their
dependencies in their constructors (they are not mixins of the engine, and nothing checks `isinstance(self, …)`).
"""

from __future__ import annotations

import ast
import inspect
from pathlib import Path

import pytest

from venturegate import engine as engine_package
from venturegate.engine import Engine
from venturegate.engine.approvals import Approvals
from venturegate.engine.artifacts import Artifacts
from venturegate.engine.base import EngineBase
from venturegate.engine.configuration import Configuration
from venturegate.engine.error_recovery import ErrorRecovery
from venturegate.engine.escalations import Escalations
from venturegate.engine.jobs import Jobs
from venturegate.engine.lifecycle import Lifecycle
from venturegate.engine.outbox import Outbox
from venturegate.engine.plumbing import Plumbing
from venturegate.engine.progression import ProgressionModes
from venturegate.engine.retention import Retention
from venturegate.engine.rollbacks import Rollbacks
from venturegate.engine.samples import Samples
from venturegate.engine.stats import Stats
from venturegate.engine.timers import Timers
from venturegate.engine.tokens import Tokens
from venturegate.engine.triggers import Triggers


def _private(attr: str) -> bool:
    return attr.startswith("_") and not attr.startswith("__")


ENGINE_DIR = Path(engine_package.__file__).parent
COMPONENTS = (
    Triggers,
    ProgressionModes,
    Escalations,
    Timers,
    Stats,
    ErrorRecovery,
    Tokens,
    Jobs,
    Retention,
    Outbox,
    Artifacts,
    Approvals,
    Samples,
    Lifecycle,
    Configuration,
    Rollbacks,
)
COMPONENT_ATTRIBUTES = (
    "triggers",
    "modes",
    "escalator",
    "timers",
    "figures",
    "recovery",
    "api_tokens",
    "crew_jobs",
    "retention",
    "outbox",
    "artifact_versions",
    "approval_requests",
    "sample_intake",
    "lifecycle",
    "configuration",
    "restorer",
)
PLUMBING_MEMBERS = {
    name
    for name, value in vars(Plumbing).items()
    if name.startswith("_") and not name.startswith("__") and isinstance(value, staticmethod | type(_private))
}


def _is_self(node: ast.expr) -> bool:
    return isinstance(node, ast.Name) and node.id in ("self", "cls")


@pytest.mark.parametrize("component", COMPONENTS, ids=lambda c: c.__name__)
def test_a_component_uses_only_the_plumbing_interface_privately(component: type) -> None:
    """Private members of other objects: only the plumbing's, and only those `Plumbing` declares."""
    tree = ast.parse(inspect.getsource(inspect.getmodule(component)))  # type: ignore[arg-type]
    reached = {
        node.attr
        for node in ast.walk(tree)
        if isinstance(node, ast.Attribute)
        and _private(node.attr)
        and not _is_self(node.value)
        # a named tuple's own helpers (`_make`, `_replace`) are public API despite the underscore
        and node.attr not in ("_make", "_replace")
    }
    assert reached <= PLUMBING_MEMBERS, f"{component.__name__} reaches {sorted(reached - PLUMBING_MEMBERS)}"


@pytest.mark.parametrize("component", COMPONENTS, ids=lambda c: c.__name__)
def test_a_component_takes_its_dependencies_in_its_constructor(component: type) -> None:
    """Not a mixin of the engine: its first constructor argument is the plumbing, the rest typed components."""
    assert not issubclass(component, EngineBase)
    params = list(inspect.signature(component.__init__).parameters.values())[1:]
    assert params and params[0].annotation == "Plumbing"
    allowed = {c.__name__ for c in COMPONENTS} | {"RollbackAction"}
    assert all(p.annotation in allowed for p in params[1:]), [p.annotation for p in params]


def test_no_engine_module_reaches_into_a_component_or_checks_its_own_class() -> None:
    """`self.triggers._judge` or `isinstance(self, …)` anywhere in the engine would undo the boundaries."""
    found = []
    for path in sorted(ENGINE_DIR.glob("*.py")):
        for node in ast.walk(ast.parse(path.read_text())):
            if (
                isinstance(node, ast.Attribute)
                and _private(node.attr)
                and isinstance(node.value, ast.Attribute)
                and node.value.attr in COMPONENT_ATTRIBUTES
            ):
                found.append(f"{path.name}:{node.lineno} .{node.value.attr}.{node.attr}")
            if (
                isinstance(node, ast.Call)
                and isinstance(node.func, ast.Name)
                and node.func.id == "isinstance"
                and node.args
                and _is_self(node.args[0])
            ):
                found.append(f"{path.name}:{node.lineno} isinstance(self, …)")
    assert found == []


def test_the_engine_is_the_plumbing_its_components_share(engine: Engine) -> None:
    """One plumbing and one instance of each component, wired to each other (not copies)."""
    assert all(getattr(engine, a).plumbing is engine for a in COMPONENT_ATTRIBUTES)
    assert engine.triggers.modes is engine.modes and engine.triggers.escalations is engine.escalator
    assert engine.timers.triggers is engine.triggers and engine.recovery.triggers is engine.triggers
    assert engine.timers.escalations is engine.escalator and engine.recovery.escalations is engine.escalator
    assert engine.artifact_versions.triggers is engine.triggers
    assert engine.approval_requests.triggers is engine.triggers
    assert engine.sample_intake.triggers is engine.triggers and engine.lifecycle.triggers is engine.triggers
    assert engine.restorer.configuration is engine.configuration and engine.restorer.triggers is engine.triggers
    assert engine.restorer.escalations is engine.escalator
