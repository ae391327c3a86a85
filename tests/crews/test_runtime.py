"""The shared crew runtime: a minimal crew written on it, its folder and files, re-opening substages, and hooks
declared on the crew class that every process opening an engine runs (a timer-fired rollback in the worker)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from typer.testing import CliRunner

from tests.conftest import AGENT, LEAD, T0
from tests.triggers.helpers import at_stage
from venturegate.cli.app import app
from venturegate.crews.base import AgentSpec, Crew, CrewContext, CrewResult
from venturegate.crews.runtime import CrewRun, Stop
from venturegate.definitions.loader import load_workflow
from venturegate.engine import BadInput, Engine
from venturegate.store.database import connect, ensure_schema


class BriefCrew(Crew):
    """The smallest useful crew (stage 1 of the mini workflow): score the idea, store the brief, finish 1.1."""

    name = "BriefCrew"
    stage = 1
    agents = (AgentSpec("Briefer", "Writes the idea brief and scores it", ("1.1",)),)

    def run(self, ctx: CrewContext) -> CrewResult:
        run = CrewRun.begin(ctx, stage=self.stage)
        try:
            run.step("1.1 Briefer", 0, 2, "scoring")
            score = float(ctx.option("score", 7.0))
            run.record({"idea_score": score})
            if score < 6:
                raise run.stop("recursed", f"idea score {score} is under its threshold")
            run.step("1.1 Briefer", 1, 2, "writing the brief")
            ref = run.put("idea_brief", {"title": "Ferries", "problem": "Tickets are slow"})
            run.write("brief.md", f"# Brief\n\n{ref}\n")
            run.complete("1.1")
            run.summary["score"] = score
        except Stop:
            pass
        return run.result()


def _ctx(engine: Engine, venture: int, root: Path, **options: object) -> CrewContext:
    return CrewContext(engine, venture, 1, options=dict(options), output_root=root)


def test_a_minimal_crew_records_stores_writes_and_completes_through_the_engine(engine: Engine, tmp_path: Path) -> None:
    v = engine.create_venture("ferry", "b2b_smb", 1, actor=LEAD).id
    seen: list[tuple[str, int, int]] = []
    ctx = _ctx(engine, v, tmp_path)
    ctx.sink = lambda step, done, total, msg: seen.append((step, done, total))
    got = BriefCrew().run(ctx)
    assert got.status == "completed" and got.artifacts == ("idea_brief@1",)
    assert seen == [("1.1 Briefer", 0, 2), ("1.1 Briefer", 1, 2)]
    out = Path(got.summary["out_dir"])
    assert out.parent == (tmp_path / f"v{v}").resolve() and out.name.startswith("run-")
    assert got.files == (str(out / "brief.md"),) and "idea_brief@1" in (out / "brief.md").read_text()
    assert [s.value for s in engine.samples(v, "idea_score", since=T0 - timedelta(1), until=T0 + timedelta(1))] == [7.0]
    assert {s.id: s.status for s in engine.substages(v)} == {"1.1": "done"}
    assert got.summary["outcome"] == "completed" and got.summary["score"] == 7.0


def test_a_run_that_stops_says_how_and_why(engine: Engine, tmp_path: Path) -> None:
    v = engine.create_venture("weak", "b2b_smb", 1, actor=LEAD).id
    got = BriefCrew().run(_ctx(engine, v, tmp_path, score="3"))
    assert (got.status, got.summary["outcome"]) == ("recursed", "idea score 3.0 is under its threshold")
    assert got.artifacts == () and {s.status for s in engine.substages(v)} == {"open"}


def test_the_folder_is_named_from_ids_and_out_dir_cannot_escape_the_crew_root(engine: Engine, tmp_path: Path) -> None:
    v = engine.create_venture("../../etc", "b2b_smb", 1, actor=LEAD).id
    root = tmp_path / "crews"
    ok = BriefCrew().run(_ctx(engine, v, root, out_dir="mine"))
    assert ok.summary["out_dir"] == str((root / "mine").resolve())
    outside = tmp_path / "outside"
    outside.mkdir()
    (root / "link").symlink_to(outside)
    for bad in ("../x", str(outside), "link/inner", "/etc", "a/../../x"):
        with pytest.raises(BadInput, match="is outside the crew folder") as exc:
            BriefCrew().run(_ctx(engine, v, root, out_dir=bad))
        assert exc.value.where == "option out_dir"
    run = CrewRun.begin(_ctx(engine, v, root), stage=1)
    assert run.out.parent.name == f"v{v}"  # the venture's id, never its name
    with pytest.raises(BadInput, match="outside the crew folder"):
        run.write("../escape.txt", "x")
    assert not (run.out.parent / "escape.txt").exists() and list(outside.iterdir()) == []


def test_reopen_substages_is_audited_and_lets_a_crew_measure_again(engine: Engine, tmp_path: Path) -> None:
    v = engine.create_venture("again", "b2b_smb", 1, actor=LEAD).id
    assert BriefCrew().run(_ctx(engine, v, tmp_path)).status == "completed"
    run = CrewRun.begin(_ctx(engine, v, tmp_path), stage=1)
    assert run.complete("1.1") is False  # done already: no conflict, no traceback
    assert run.reopen(["1.1"], reason="the provider fixed its API") == ["1.1"]
    (ev,) = engine.events(v, kind="substage.reopened")
    assert (ev.substage, ev.reason, ev.actor) == ("1.1", "the provider fixed its API", "crew")
    assert engine.reopen_substages(v, ["1.1"], actor=LEAD, reason="again") == []  # open already: nothing to do
    with pytest.raises(BadInput, match="say why"):
        engine.reopen_substages(v, ["1.1"], actor=LEAD, reason=" ")
    with pytest.raises(BadInput, match=r"substage 9\.9 is not part of stage 1"):
        engine.reopen_substages(v, ["9.9"], actor=LEAD, reason="x")
    second = BriefCrew().run(_ctx(engine, v, tmp_path))
    assert second.status == "completed" and {s.id: s.status for s in engine.substages(v)} == {"1.1": "done"}
    assert len(engine.events(v, kind="substage.completed")) == 2


def test_substage_reopen_from_the_cli(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("VENTUREGATE_ACTOR", "lee:lead")
    runner = CliRunner()

    def vg(*args: str, code: int = 0) -> str:
        result = runner.invoke(app, ["--workflow", str(Path(__file__).parents[1] / "fixtures" / "mini.yaml"), *args])
        assert result.exit_code == code, (args, result.output)
        return result.output

    vg("venture", "create", "acme", "--segment", "b2b_smb")
    vg("substage", "complete", "acme", "1.1")
    assert "re-opened 1.1 Brief" in vg("substage", "reopen", "acme", "1.1", "--reason", "measure again")
    assert "nothing to re-open" in vg("substage", "reopen", "acme", "1.1", "--reason", "measure again")
    assert "--reason" in vg("substage", "reopen", "acme", "1.1", code=2)


def test_a_timer_fired_rollback_in_the_worker_runs_the_crew_declared_handler(tmp_path: Path) -> None:
    """DEPLOY-002 pends on a sample; the worker process (an engine it opened itself) fires it when due, and the
    rollback runs the stage-30 crew's `traffic` handler, declared on the crew class, not registered by a run."""
    db_url = f"sqlite:///{tmp_path / 'vg.db'}"
    db = connect(db_url)
    ensure_schema(db)
    eng = Engine(db, load_workflow())
    v = at_stage(eng, "ferry", 30, now=datetime.now(UTC)).id
    eng.set_config(v, "rollback.error_rate_duration", "2s", actor=LEAD, reason="short for the test")
    got = eng.record_sample(v, "deployment_error_rate", 9.0, actor=AGENT)
    assert [(f.trigger, f.outcome) for f in got.fired] == [("DEPLOY-002", "pending")]
    env = {
        **os.environ,
        "VENTUREGATE_DATABASE_URL": db_url,
        "VENTUREGATE_QUEUE_URL": f"sqlite:///{tmp_path / 'queue.db'}",
    }
    proc = subprocess.Popen(
        [sys.executable, "-m", "venturegate.cli.app", "worker"],
        cwd=tmp_path,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    try:
        deadline = time.monotonic() + 45
        while time.monotonic() < deadline and not eng.rollbacks(v):
            time.sleep(0.2)
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(timeout=20)
    (rb,) = eng.rollbacks(v)
    assert (rb.trigger, rb.scope, rb.outcome) == ("DEPLOY-002", ["traffic"], "completed")
    assert [(h.scope, h.handler, h.ok) for h in rb.handlers] == [("traffic", "move_traffic_to_blue", True)]
    db.dispose()
