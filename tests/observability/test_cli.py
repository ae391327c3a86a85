"""The CLI: `grafana export` writes the dashboards, `metrics` prints (or writes) the exposition text."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from tests.conftest import MINI
from tests.observability._parse import by, parse
from venturegate.cli.app import app
from venturegate.definitions.loader import load_workflow

runner = CliRunner()


def test_grafana_export_one_stage_and_all(tmp_path: Path) -> None:
    out = tmp_path / "boards"
    result = runner.invoke(app, ["grafana", "export", "--stage", "19", "--out", str(out), "--json"])
    assert result.exit_code == 0, result.output
    (one,) = json.loads(result.stdout)
    assert (one["stage"], one["uid"]) == (19, "venturegate-stage-19")
    board = json.loads(Path(one["path"]).read_text(encoding="utf-8"))
    assert len(board["panels"]) == one["panels"] == len(load_workflow().workflow.stage(19).metrics)  # type: ignore[union-attr]

    result = runner.invoke(app, ["grafana", "export", "--out", str(out)])
    assert result.exit_code == 0, result.output
    files = sorted(p.name for p in out.glob("stage-*.json"))
    expected = sorted(f"stage-{s.id}.json" for s in load_workflow().workflow.stages if s.metrics)
    assert files == expected
    assert f"{len(expected)} dashboards written" in result.stdout


def test_grafana_export_refuses_an_unknown_stage(tmp_path: Path) -> None:
    result = runner.invoke(app, ["grafana", "export", "--stage", "99", "--out", str(tmp_path / "x")])
    assert result.exit_code == 1
    assert "stage 99 is not in workflow" in result.stderr
    assert not (tmp_path / "x").exists()


@pytest.fixture
def workspace(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A workspace folder with the mini workflow and a venture."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("VENTUREGATE_ACTOR", "lee:lead")
    created = runner.invoke(app, ["--workflow", str(MINI), "venture", "create", "acme", "--segment", "b2b_smb"])
    assert created.exit_code == 0, created.output
    return tmp_path


def test_metrics_prints_the_exposition_text(workspace: Path) -> None:
    result = runner.invoke(app, ["--workflow", str(MINI), "metrics"])
    assert result.exit_code == 0, result.output
    assert sum(by(parse(result.stdout), "venturegate_ventures", "stage", "status").values()) == 1.0


def test_metrics_output_writes_a_textfile(workspace: Path) -> None:
    target = workspace / "textfile" / "venturegate.prom"
    target.parent.mkdir()
    result = runner.invoke(app, ["--workflow", str(MINI), "metrics", "--output", str(target)])
    assert result.exit_code == 0, result.output
    assert result.stdout == ""
    assert sum(by(parse(target.read_text()), "venturegate_ventures", "stage", "status").values()) == 1.0
    assert [p.name for p in target.parent.iterdir()] == ["venturegate.prom"]  # no temporary file left behind
