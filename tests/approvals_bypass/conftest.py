"""Fixtures for the emergency-bypass tests: a workflow whose approvals differ in bypass policy."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import T0
from venturegate.definitions.loader import load_workflow
from venturegate.engine import Engine
from venturegate.store.database import connect, ensure_schema

BYPASS = """\
# Stage 1's exit needs LEAD's approval (the Chairman may bypass it, with a reason); EXEC's approval may not be
# bypassed; PLAN's may be bypassed by EXEC without a reason. Bypasses notify a webhook.
workflow: {id: bypass, version: "1"}
defaults: {escalation_role: chairman}
notifications:
  channels:
    hook: {type: webhook, url: "http://127.0.0.1:9/hook", secret: "s3cret"}
  routes:
    - {kinds: [approval.bypassed], channels: [hook]}
stages:
  - id: 1
    title: Decide
    approvals:
      lead: {timeout: 24h, bypass: {roles: [chairman], reason_required: true}}
      exec: {timeout: 24h, bypass: null}
      plan: {timeout: 24h, bypass: {roles: [exec], reason_required: false}}
    gates:
      exit:
        - approval: lead
  - id: 2
    title: Next
"""


@pytest.fixture
def workflow_path(tmp_path: Path) -> Path:
    """The bypass workflow written to a file."""
    path = tmp_path / "bypass.yaml"
    path.write_text(BYPASS, encoding="utf-8")
    return path


@pytest.fixture
def eng(db_url: str, workflow_path: Path) -> Iterator[Engine]:
    """An engine on a fresh database (SQLite and PostgreSQL) with the bypass workflow and a fixed clock."""
    db = connect(db_url)
    ensure_schema(db)
    engine = Engine(db, load_workflow(workflow_path), clock=lambda: T0)
    yield engine
    db.dispose()
