"""Fixtures: the loopback endpoints, and an engine whose workflow routes notifications to them."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.conftest import MINI, T0
from tests.notify.servers import FakeSlack, LoopThread, SignedReceiver, SmtpServer
from venturegate.definitions.loader import load_workflow
from venturegate.engine import Engine
from venturegate.store.database import connect, ensure_schema

SECRET = b"s3cret-for-tests"

WORKFLOW = """
extends: {mini}
stages:
  - id: 2
    triggers:
      - id: BACK-1
        kind: recursion
        when: "latency_ms > 900"
        action: {{go_to: "2.1", severity: P1}}
        max: 1
notifications:
  channels:
    slack: {{type: slack, url: "${{NOTIFY_TEST_SLACK}}", timeout: 30s}}
    chair:
      type: email
      to: [chair@studio.test]
      sender: gate@studio.test
      smtp_host: 127.0.0.1
      smtp_port: "${{NOTIFY_TEST_SMTP_PORT}}"
      timeout: 30s
    hook: {{type: webhook, url: "${{NOTIFY_TEST_HOOK}}", secret: "${{NOTIFY_TEST_HOOK_SECRET}}", timeout: 30s}}
  routes:
    - {{severity: [P0], channels: [slack, chair]}}
    - kinds: ["approval.*", escalation.opened, "rollback.*", recursion, alert]
      severity: [P0, P1, P2]
      channels: [slack]
    - {{kinds: ["rollback.*"], stages: [3], channels: [hook]}}
    - {{kinds: [escalation.opened], channels: [hook]}}
  group_wait: 30s
  max_attempts: 3
  backoff: 10s
  max_backoff: 1m
"""


@dataclass
class Endpoints:
    """The three loopback endpoints."""

    slack: FakeSlack
    hook: SignedReceiver
    smtp: SmtpServer


@pytest.fixture
def endpoints(monkeypatch: pytest.MonkeyPatch) -> Iterator[Endpoints]:
    """A fake Slack webhook, a signed-webhook receiver and an SMTP server, their addresses in the environment."""
    loops = LoopThread()
    slack = FakeSlack(loops)
    hook = SignedReceiver(loops, SECRET)
    smtp = SmtpServer()
    monkeypatch.setenv("NOTIFY_TEST_SLACK", slack.url)
    monkeypatch.setenv("NOTIFY_TEST_HOOK", hook.url)
    monkeypatch.setenv("NOTIFY_TEST_HOOK_SECRET", SECRET.decode())
    monkeypatch.setenv("NOTIFY_TEST_SMTP_PORT", str(smtp.port))
    try:
        yield Endpoints(slack, hook, smtp)
    finally:
        smtp.close()
        slack.close()
        hook.close()
        loops.close()


@pytest.fixture
def workflow_file(tmp_path: Path) -> Path:
    """The mini workflow plus a recursion trigger and a `notifications` section pointing at the endpoints.

    Channel timeouts are 30 s: the loopback endpoints answer at once, but on a loaded machine a 3 s budget could
    run out after an endpoint had taken a message, leaving it pending for a retry.
    """
    path = tmp_path / "notify.yaml"
    path.write_text(WORKFLOW.format(mini=MINI), encoding="utf-8")
    return path


@pytest.fixture
def notifying(db_url: str, workflow_file: Path, endpoints: Endpoints) -> Iterator[Engine]:
    """An engine (SQLite and PostgreSQL) on that workflow, its clock fixed at T0."""
    db = connect(db_url)
    ensure_schema(db)
    eng = Engine(db, load_workflow(workflow_file), clock=lambda: T0)
    yield eng
    db.dispose()
