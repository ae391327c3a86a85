"""See the data: `metric list` and the current stage's metrics against their levels in `venture show`."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from tests.conftest import MINI
from venturegate.cli.app import app

runner = CliRunner()


def _run(*args: str) -> str:
    result = runner.invoke(app, ["--workflow", str(MINI), "--as", "lee:lead", *args])
    assert result.exit_code == 0, (args, result.output)
    return result.output


@pytest.fixture
def workspace(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)
    _run("venture", "create", "acme", "--segment", "b2c_mass")
    _run("metric", "record", "acme", "idea_score", "5", "--key", "a", "--at", "2026-11-01T10:00:00Z")
    _run("metric", "record", "acme", "idea_score", "7.5", "--key", "b", "--at", "2026-11-01T11:00:00Z")
    return tmp_path


def test_metric_list_shows_samples_newest_first(workspace: Path) -> None:
    rows = json.loads(_run("metric", "list", "acme", "idea_score", "--json"))
    assert [(r["value"], r["key"]) for r in rows] == [(7.5, "b"), (5.0, "a")]
    later = json.loads(_run("metric", "list", "acme", "--since", "2026-11-01T10:30:00Z", "--json"))
    assert [r["value"] for r in later] == [7.5]
    text = _run("metric", "list", "acme")
    assert "2026-11-01 11:00:00" in text and "7.5" in text


def test_venture_show_puts_the_latest_value_against_the_segment_level(workspace: Path) -> None:
    shown = json.loads(_run("venture", "show", "acme", "--json"))
    idea = next(m for m in shown["metrics"] if m["metric"] == "idea_score")
    assert (idea["latest"], idea["threshold"], idea["target"]) == (7.5, 7, 8)  # b2c_mass threshold 7
    assert idea["verdict"] == "meets threshold"
    text = _run("venture", "show", "acme")
    assert "Metrics of the current stage" in text and "meets threshold" in text


def test_a_venture_override_of_a_level_shows_in_venture_show_and_the_api(workspace: Path) -> None:
    _run("config", "set", "acme", "level.idea_score.threshold", "8", "--reason", "stricter pilot")
    shown = json.loads(_run("venture", "show", "acme", "--json"))
    idea = next(m for m in shown["metrics"] if m["metric"] == "idea_score")
    assert (idea["threshold"], idea["source"], idea["verdict"]) == (8, "venture", "past threshold")
    assert "8 (venture)" in _run("venture", "show", "acme")
    gate = json.loads(runner.invoke(app, ["--workflow", str(MINI), "gate", "check", "acme", "--json"]).output)
    assert any(c["expected"] == ">= 8" for c in gate["checks"]), gate


def test_a_large_recorded_value_is_echoed_as_given(workspace: Path) -> None:
    text = _run("metric", "record", "acme", "idea_score", "2904430.5", "--key", "big")
    assert "idea_score=2904430.5 at " in text and "e+06" not in text
