"""Fixtures for the trigger tests: engines on the bundled studio workflow and on a tiny workflow.

Both are parametrized over SQLite and PostgreSQL through `db_url` (tests/conftest.py), like `engine`.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import T0, serve_scopes
from venturegate.definitions.loader import LoadedWorkflow, load_workflow
from venturegate.engine import Engine
from venturegate.store.database import connect, ensure_schema

TINY = """\
# Three stages; stage 2 has one trigger of each kind and mode, each reading its own metric; stage 1 has no gates.
workflow: {id: tiny, version: "1"}
defaults:
  loop_prevention: {max_bounces: 2, window: 7d, role: chairman}
stages:
  - id: 1
    title: Shape
    substages:
      - {id: "1.1", title: Draft, done_when: [Drafted]}
    metrics:
      slips: {unit: count, direction: lower_is_better}
    triggers:
      - {id: REDRAFT, kind: recursion, when: "slips > 0", action: {go_to: "1.1"}}
  - id: 2
    title: Test
    substages:
      - {id: "2.1", title: Plan, done_when: [Planned]}
      - {id: "2.2", title: Run, done_when: [Ran]}
      - {id: "2.3", title: Report, done_when: [Reported]}
    metrics:
      errors: {unit: count, direction: lower_is_better}
      score: {unit: score}
      complaints: {unit: count, direction: lower_is_better}
      broken: {unit: count, direction: lower_is_better}
      incidents: {unit: count, direction: lower_is_better}
      quality: {unit: percent, frequency: hourly}
      ready: {unit: count}
      noise: {unit: count, direction: informational}
    approvals:
      lead: {timeout: 2h}
    triggers:
      - {id: REDO-RUN, kind: recursion, when: "errors > 5", action: {go_to: "2.2"}, max: 2}
      - {id: ASK-REPLAN, kind: recursion, when: "score < 3", action: {go_to: "2.1"}, mode: assisted, role: lead}
      - {id: TELL-LEAD, kind: recursion, when: "complaints > 0", action: {go_to: "2.1"}, mode: manual}
      - {id: BACK-TO-1, kind: recursion, when: "broken > 0", action: {go_to: 1}}
      - {id: UNDO, kind: rollback, when: "incidents > 0", action: {rollback_to: pre-stage-2, scope: [traffic]}}
      - {id: LOW-QUALITY, kind: alert, when: "quality < 50", cooldown: 1h, action: {severity: P1, notify: [lead]}}
      - {id: DONE, kind: advance, when: "ready >= 1", action: {advance: true}}
    rollback: {scopes: [traffic]}
    gates:
      exit: [substages_done]
  - id: 3
    title: Ship
"""


@pytest.fixture(scope="session")
def studio() -> LoadedWorkflow:
    """The bundled 40-stage workflow, loaded once (it takes a second or two)."""
    return load_workflow()


@pytest.fixture(scope="session")
def tiny_workflow(tmp_path_factory: pytest.TempPathFactory) -> LoadedWorkflow:
    """The tiny workflow above, written to a temporary file and loaded."""
    path: Path = tmp_path_factory.mktemp("tiny") / "tiny.yaml"
    path.write_text(TINY, encoding="utf-8")
    return load_workflow(path)


def _engine(db_url: str, workflow: LoadedWorkflow) -> Iterator[Engine]:
    db = connect(db_url)
    ensure_schema(db)
    eng = Engine(db, workflow, clock=lambda: T0)
    serve_scopes(eng)  # these tests are about triggers: rollback scopes are served (see tests/config for the rule)
    yield eng
    db.dispose()


@pytest.fixture
def bundled(db_url: str, studio: LoadedWorkflow) -> Iterator[Engine]:
    """An engine on a fresh database with the bundled workflow and a fixed clock."""
    yield from _engine(db_url, studio)


@pytest.fixture
def tiny(db_url: str, tiny_workflow: LoadedWorkflow) -> Iterator[Engine]:
    """An engine on a fresh database with the tiny workflow and a fixed clock."""
    yield from _engine(db_url, tiny_workflow)
