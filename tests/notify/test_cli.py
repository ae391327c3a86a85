"""`venturegate outbox` end to end on a SQLite workspace: list, deliver with --now, dead letters, retry, errors."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import datetime, timedelta
from pathlib import Path

import pytest
from typer.testing import CliRunner

from tests.notify.conftest import Endpoints
from venturegate.cli.app import app

runner = CliRunner()
Run = Callable[..., str]


@pytest.fixture
def vg(tmp_path: Path, workflow_file: Path, monkeypatch: pytest.MonkeyPatch) -> Run:
    """Run `venturegate` on a workspace in tmp_path with the notifying workflow."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("VENTUREGATE_ACTOR", "ada:chairman")

    def run(*args: str, code: int = 0) -> str:
        result = runner.invoke(app, ["--workflow", str(workflow_file), *args])
        assert result.exit_code == code, (args, result.output, result.exception)
        assert result.exception is None or isinstance(result.exception, SystemExit)
        return result.output

    return run


def test_outbox_commands(vg: Run, endpoints: Endpoints) -> None:
    vg("venture", "create", "acme", "--segment", "b2b_smb", "--stage", "2")
    vg("attest", "acme", "Budget approved")
    vg("approval", "request", "acme", "--role", "chairman", "--reason", "cut over")
    (row,) = json.loads(vg("outbox", "--json"))
    assert (row["kind"], row["channel"], row["status"], row["attempts"]) == (
        "approval.requested",
        "slack",
        "pending",
        0,
    )
    due = datetime.fromisoformat(row["next_attempt_at"])
    endpoints.slack.set_mode("down")
    for n in range(3):
        report = json.loads(vg("outbox", "deliver", "--now", due.isoformat(), "--json"))
        assert report["claimed"] == 1 and report["sent"] == 0
        due = datetime.fromisoformat(report["next_due"]) if n < 2 else due
    assert report["dead"] == [row["id"]] and report["next_due"] is None
    (dead,) = json.loads(vg("outbox", "--status", "dead", "--json"))
    assert dead["attempts"] == 3 and "ClientConnectorError" in dead["last_error"]
    assert "dead" in vg("outbox")
    endpoints.slack.set_mode("up")
    assert "pending again" in vg("outbox", "retry", str(row["id"]))
    text = vg("outbox", "deliver", "--now", (due + timedelta(minutes=1)).isoformat())
    assert text.startswith("1 of 1 notifications sent in 1 messages")
    assert json.loads(vg("outbox", "--status", "sent", "--json"))[0]["id"] == row["id"]
    assert endpoints.slack.received[0]["text"] == "[P2] approval.requested · acme · stage 2 — cut over"


def test_outbox_bad_input(vg: Run) -> None:
    assert runner.invoke(app, ["db", "upgrade"]).exit_code == 0  # reads never create a database
    result = runner.invoke(app, ["outbox", "--status", "lost"])
    assert result.exit_code == 1 and "--status: unknown status 'lost' (hint: pending, sent or dead)" in result.output
    result = runner.invoke(app, ["outbox", "retry", "41"])
    assert result.exit_code == 1 and "no notification #41" in result.output
    result = runner.invoke(app, ["outbox", "deliver", "--now", "yesterday"])
    assert result.exit_code == 1 and "'yesterday' is not an ISO 8601 time" in result.output
    assert json.loads(vg("outbox", "--json")) == []
