"""The bypass commands end to end on a SQLite workspace: JSON, the venture's flag, errors on stderr."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

import pytest
from typer.testing import CliRunner

from venturegate.cli.app import app
from venturegate.core.conditions import InMemoryData
from venturegate.core.gates import ApprovalFact, GateFacts, evaluate_checks
from venturegate.definitions.model import ApprovalCheck

runner = CliRunner()
Run = Callable[..., str]


@pytest.fixture
def vg(tmp_path: Path, workflow_path: Path, monkeypatch: pytest.MonkeyPatch) -> Run:
    """Run `venturegate` in tmp_path with the bypass workflow; `as_` picks the actor."""
    monkeypatch.chdir(tmp_path)

    def run(*args: str, as_: str = "lee:lead", code: int = 0) -> str:
        result = runner.invoke(app, ["--workflow", str(workflow_path), "--as", as_, *args])
        assert result.exit_code == code, (args, result.output, result.exception)
        return result.output

    return run


def test_bypass_flag_and_review(vg: Run) -> None:
    vg("venture", "create", "acme", "--segment", "b2b_smb")
    aid = json.loads(vg("approval", "request", "acme", "--role", "lead", "--json"))["id"]
    assert "only chairman may bypass" in vg("approval", "bypass", str(aid), "--reason", "x", code=1)
    assert "needs a reason" in vg("approval", "bypass", str(aid), as_="ada:chairman", code=1)

    bypassed = json.loads(vg("approval", "bypass", str(aid), "--reason", "outage", "--json", as_="ada:chairman"))
    assert (bypassed["status"], bypassed["decided_by"], bypassed["awaiting_review"]) == ("bypassed", "ada", True)
    assert {"reviewed_by", "reviewed_at", "review_reason"} <= bypassed.keys()
    shown = json.loads(vg("venture", "show", "acme", "--json"))
    assert (shown["flagged"], shown["unreviewed_bypasses"]) == (True, [aid])
    listed = json.loads(vg("venture", "list", "--json"))
    assert [(v["name"], v["flagged"]) for v in listed] == [("acme", True)]
    assert "acme is flagged" in vg("venture", "show", "acme")
    assert "⚑ open" in vg("approval", "list", "--unreviewed")
    assert [a["id"] for a in json.loads(vg("approval", "list", "--unreviewed", "--json"))] == [aid]

    assert "another chairman must review" in vg(
        "approval", "review", str(aid), "--reason", "ok", as_="ada:chairman", code=1
    )
    out = vg("approval", "review", str(aid), "--reason", "justified", as_="cy:chairman")
    assert f"bypass of approval #{aid} reviewed by cy" in out
    assert json.loads(vg("venture", "show", "acme", "--json"))["flagged"] is False
    assert json.loads(vg("approval", "list", "--unreviewed", "--json")) == []
    assert "flagged" not in vg("venture", "list")


def test_gate_explanation_names_who_bypassed_and_why() -> None:
    now = datetime(2026, 11, 2, tzinfo=UTC)
    fact = ApprovalFact(7, "bypassed", None, decided_by="ada", reason="payment outage")
    facts = GateFacts(data=InMemoryData(), approvals={"lead": fact})
    (result,) = evaluate_checks([ApprovalCheck(approval="lead")], facts, now)
    assert (result.verdict, result.reason) == ("pass", "request #7 bypassed by ada: payment outage")
