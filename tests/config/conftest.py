"""Fixtures for the configuration and rollback tests: a small workflow made for them, on SQLite and PostgreSQL."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import T0
from venturegate.definitions.loader import LoadedWorkflow, load_workflow
from venturegate.engine import Engine
from venturegate.store.database import connect, ensure_schema

CFG = """\
# Workflow-wide parameters of three scopes; stage 2 has a rollback trigger and a decision tree;
# stage 3 takes no snapshot on entry.
workflow: {id: cfg, version: "1"}
config:
  traffic.canary_steps: {type: "list[int]", default: [10, 50, 100], min: 1, max: 100, unit: percent}
  traffic.colour: {type: enum, default: blue, allowed: [blue, green]}
  rollback.error_threshold: {type: number, default: 5, min: 1, max: 10, unit: percent, segments: {b2c_mass: 3}}
  cache.ttl: {type: duration, default: 5m}
  cache.enabled: {type: bool, default: true}
  cache.size: {type: int, default: 100, min: 10}
  guard.frozen: {type: bool, default: false, approval_role: chairman}
stages:
  - id: 1
    title: Build
    substages:
      - {id: "1.1", title: Plan, done_when: [Planned]}
  - id: 2
    title: Run
    substages:
      - {id: "2.1", title: Deploy, done_when: [Deployed]}
    metrics:
      errors: {unit: percent, direction: lower_is_better}
    config:
      run.workers: {type: int, default: 4, min: 1, max: 64}
    triggers:
      - id: UNDO
        kind: rollback
        when: "errors > config.rollback.error_threshold"
        for: 1m
        action: {scope: [traffic]}
        role: exec
    rollback:
      scopes: [traffic, cache]
      decision_tree:
        - {cause: transient, description: A blip that clears by itself., action: wait_and_retry}
        - {cause: configuration, description: A wrong setting., action: fix_forward}
        - cause: systemic
          description: The release is broken.
          action: rollback_and_recurse
          go_to: 1
          scope: [traffic]
  - id: 3
    title: Ship
    rollback: {snapshot_on_entry: false}
"""


@pytest.fixture(scope="session")
def cfg_workflow(tmp_path_factory: pytest.TempPathFactory) -> LoadedWorkflow:
    """The workflow above, written to a temporary file and loaded."""
    path: Path = tmp_path_factory.mktemp("cfg") / "cfg.yaml"
    path.write_text(CFG, encoding="utf-8")
    return load_workflow(path)


@pytest.fixture
def cfg(db_url: str, cfg_workflow: LoadedWorkflow) -> Iterator[Engine]:
    """An engine on a fresh database with the workflow above and a fixed clock."""
    db = connect(db_url)
    ensure_schema(db)
    eng = Engine(db, cfg_workflow, clock=lambda: T0)
    yield eng
    db.dispose()


@pytest.fixture(scope="session")
def studio() -> LoadedWorkflow:
    """The bundled 40-stage workflow, loaded once."""
    return load_workflow()


@pytest.fixture
def bundled(db_url: str, studio: LoadedWorkflow) -> Iterator[Engine]:
    """An engine on a fresh database with the bundled workflow and a fixed clock."""
    db = connect(db_url)
    ensure_schema(db)
    eng = Engine(db, studio, clock=lambda: T0)
    yield eng
    db.dispose()
