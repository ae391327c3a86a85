"""`make demo` with its crew scenes (stages 14, 19, 17, 30 and 28), run once for the module.

Each scene's own test used to run the scene again on a fresh engine; they now check this one run (the same
functions, on the demo's engine), so the suite runs each scene once. How long the demo and its scenes take is
measured in `benchmarks/demo.py`, not here.
"""

from __future__ import annotations

import io
import os
from collections.abc import Iterator
from contextlib import redirect_stdout
from dataclasses import dataclass
from pathlib import Path

import pytest
from typer.testing import CliRunner

from venturegate.cli.app import app
from venturegate.crews.stage19.demo import TOKEN_ENV
from venturegate.demo import MARKER, DemoSummary, run_demo
from venturegate.engine import Engine

pytestmark = [pytest.mark.slow, pytest.mark.timeout(400)]  # whichever test comes first builds `full` (~2-3 min loaded)


@dataclass
class Full:
    """The whole demo's summary, what it printed, and an engine on its database."""

    summary: DemoSummary
    text: str
    engine: Engine


@pytest.fixture(scope="module")
def full(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Full]:
    """The demo with its crews (what `make demo` runs), once; stage 30 needs HAProxy and stage 28 its PostgreSQL,
    both of which `make test` installs."""
    folder = tmp_path_factory.mktemp("demo-crews") / "ws"
    printed = io.StringIO()
    with redirect_stdout(printed):
        summary = run_demo(folder, crews=True)
    engine = Engine.open(f"sqlite:///{summary.database}")
    yield Full(summary, printed.getvalue(), engine)
    engine.db.dispose()


def test_make_demo_runs_the_crews_by_default() -> None:
    result = CliRunner().invoke(app, ["demo", "--help"], env={"COLUMNS": "200", "NO_COLOR": "1"})
    assert result.exit_code == 0, result.output
    assert "--crews" in result.output and "[default: crews]" in result.output


def test_every_scene_ran(full: Full) -> None:
    s = full.summary
    scenes = {"14": s.stage14, "19": s.stage19, "17": s.stage17, "30": s.stage30, "28": s.stage28}
    assert [k for k, got in scenes.items() if got is None] == [], full.text[-2000:]
    assert (s.folder / MARKER).exists() and s.database.exists()
    assert "SD-28-ESCALATION-1" in full.text  # the story ran first


def test_stage_19_sends_the_defective_provider_back_and_passes_the_fixed_one(full: Full) -> None:
    got = full.summary.stage19
    assert got is not None
    assert got["defective"]["outcome"].startswith("recursed: INTEGRATION-001"), got["defective"]
    assert got["fixed"]["outcome"] == "completed", got["fixed"]
    assert got["gate_passed"] and got["stage"] == 20
    assert full.engine.venture(got["venture"]).stage == 20
    assert TOKEN_ENV not in os.environ  # the demo's token is removed again
    assert "Stage 19" in full.text and "advanced to stage 20" in full.text
    for run in (got["defective"], got["fixed"]):  # the runs' files stay in the demo's workspace, never the cwd
        assert Path(run["out_dir"]).resolve().is_relative_to(full.summary.folder.resolve()), run["out_dir"]
        assert (Path(run["out_dir"]) / "report.md").is_file()


def test_stage_30_rolls_back_the_bad_release_and_ships_the_fixed_one(full: Full) -> None:
    got = full.summary.stage30
    assert got is not None
    assert got["stage"] == 31, got
    bad, good = got["bad"], got["good"]
    assert bad["rollback"]["cause"] in ("error_rate", "route_error_rate"), bad["rollback"]
    assert bad["rollback"]["engine_rollbacks"], bad["rollback"]
    assert bad["traffic"]["failed_after_rollback"] == 0
    assert good["traffic"]["failed_requests"] == 0
    assert [step["green_percent"] for step in good["cutover"]["steps"]] == [10, 50, 100]
    assert "rolled back" in full.text and "advanced to stage 31" in full.text


def test_stage_28_keeps_a_change_and_rolls_back_a_harmful_one(full: Full) -> None:
    got = full.summary.stage28
    assert got is not None
    verdicts = [change["verdict"] for change in got.get("changes", [])]
    assert "kept" in verdicts, got
    assert "Stage 28" in full.text and "rolled back (regression)" in full.text, verdicts


def test_cli_demo_recreates_its_workspace(tmp_path: Path) -> None:
    folder = tmp_path / "ws"
    folder.mkdir()
    (folder / MARKER).write_text("")
    (folder / "stale.txt").write_text("from an earlier run")
    result = CliRunner().invoke(app, ["demo", "--dir", str(folder), "--no-crews"])
    assert result.exit_code == 0, result.output
    assert not (folder / "stale.txt").exists()
    assert (folder / "venturegate.db").exists() and (folder / MARKER).exists()
    assert "SD-28-ESCALATION-1" in result.output
