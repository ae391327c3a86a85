"""The error commands through the CLI on a SQLite workspace: report by hand, figures, the log, the runbook."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from tests.triggers.helpers import at_stage
from venturegate.cli.app import app
from venturegate.definitions.loader import LoadedWorkflow
from venturegate.engine import Engine

Run = Callable[..., Any]


@pytest.fixture
def vg(tmp_path: Path, studio: LoadedWorkflow, monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[Engine, Run]]:
    """An engine on a SQLite file with the bundled workflow, and `vg(*args, code=0)` running the CLI on it."""
    monkeypatch.setattr("venturegate.engine.base.load_workflow", lambda path=None: studio)
    url = f"sqlite:///{tmp_path / 'vg.db'}"
    eng = Engine.open(url)
    runner = CliRunner()

    def run(*args: str, code: int = 0) -> Any:
        result = runner.invoke(app, ["--db", url, "--as", "ada:chairman", *args])
        assert result.exit_code == code, (args, result.output, result.exception)
        return result

    yield eng, run
    eng.db.dispose()


def test_error_report_classifies_and_escalates(vg: tuple[Engine, Run]) -> None:
    eng, run = vg
    at_stage(eng, "acme", 19)
    args = ("--status", "503", "--message", "Service Unavailable", "--type", "ConnectionRefusedError")
    record = json.loads(run("error", "report", "acme", "--stage", "19", *args, "--json").stdout)
    assert (record["rule_id"], record["category"], record["status"]) == ("E19-PROVIDER-DOWN", "api", "escalated")
    assert record["error_type"] == "ConnectionRefusedError" and record["escalation_code"] == "SD-19-ESCALATION-1"
    text = run("error", "report", "acme", "--message", "latency SLA exceeded").stdout
    assert "E19-LATENCY-SLA (performance)" in text and "escalated" in text


def test_errors_report_and_list(vg: tuple[Engine, Run]) -> None:
    eng, run = vg
    at_stage(eng, "acme", 19)
    run("error", "report", "acme", "--status", "429", "--message", "Too Many Requests")
    run("error", "report", "acme", "--message", "something odd")
    report = json.loads(run("errors", "--venture", "acme", "--json").stdout)
    assert (report["errors"], report["resolved_automatically"], report["automatic_share"]) == (2, 0, 0.0)
    assert {c["category"]: c["errors"] for c in report["by_category"]} == {"api": 1, "crew": 1}
    assert report["target"] == 0.8 and report["meets_target"] is False
    assert "2 errors; resolved automatically 0% (target 80%)" in run("errors", "--stage", "19").stdout
    rows = json.loads(run("error", "list", "--json").stdout)
    assert [r["rule_id"] for r in rows] == ["unclassified", "E19-RATE-LIMIT"]
    assert "E19-RATE-LIMIT" in run("error", "list", "--venture", "acme").stdout


def test_runbook_to_stdout_and_file(vg: tuple[Engine, Run], tmp_path: Path) -> None:
    _, run = vg
    assert run("runbook", "30").stdout.startswith("# Stage 30 — ")
    target = tmp_path / "rb.md"
    assert "written to" in run("runbook", "19", "--output", str(target)).stdout
    text = target.read_text(encoding="utf-8")
    assert "### E19-AUTH (rule 1)" in text and "## Unmatched errors" in text


def test_bad_input_is_refused_with_where(vg: tuple[Engine, Run], tmp_path: Path) -> None:
    eng, run = vg
    at_stage(eng, "acme", 19)
    assert "give --status, --message or --type" in run("error", "report", "acme", code=1).stderr
    assert "--status: HTTP status 42" in run("error", "report", "acme", "--status", "42", code=1).stderr
    assert (
        "stage 99 is not in workflow"
        in run("error", "report", "acme", "--stage", "99", "--message", "x", code=1).stderr
    )
    assert "no venture 'nope'" in run("errors", "--venture", "nope", code=1).stderr
    assert "no stage 99" in run("runbook", "99", code=1).stderr
    assert "cannot write the runbook" in run("runbook", "19", "--output", str(tmp_path / "no" / "rb.md"), code=1).stderr
    assert json.loads(run("errors", "--json").stdout)["errors"] == 0
