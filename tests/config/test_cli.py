"""The config and rollback commands end to end on a SQLite workspace: output, JSON, errors and exit codes."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest
from typer.testing import CliRunner

from tests.config.conftest import CFG
from venturegate.cli.app import app

runner = CliRunner()
Run = Callable[..., str]


@pytest.fixture
def vg(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Run:
    """Run `venturegate` with a workspace database in tmp_path and the configuration test workflow."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("VENTUREGATE_ACTOR", "lee:lead")
    workflow = tmp_path / "cfg.yaml"
    # No crew serves stage 2's declared rollback scopes in the CLI's process, and a declared scope without a
    # handler escalates (tests/config/test_rollback.py checks that rule): here `cache` is configuration only.
    assert "scopes: [traffic, cache]" in CFG
    workflow.write_text(CFG.replace("scopes: [traffic, cache]", "scopes: [traffic]"), encoding="utf-8")

    def run(*args: str, code: int = 0) -> str:
        result = runner.invoke(app, ["--workflow", str(workflow), *args])
        assert result.exit_code == code, (args, result.output, result.exception)
        assert result.exception is None or isinstance(result.exception, SystemExit)
        return result.output

    vg_run: Run = run
    vg_run("venture", "create", "acme", "--segment", "b2c_mass", "--stage", "2")
    return vg_run


def test_config_get_set_history_and_diff(vg: Run) -> None:
    got = json.loads(vg("config", "get", "acme", "rollback.error_threshold", "--json"))
    assert (got["value"], got["source"], got["version"], got["min"], got["max"]) == (3, "segment", None, 1, 10)
    assert "rollback.error_threshold" in vg("config", "get", "acme")
    assert len(json.loads(vg("config", "get", "acme", "--json"))) == 8

    changed = json.loads(vg("config", "set", "acme", "traffic.canary_steps", "20,100", "--reason", "bolder", "--json"))
    assert (changed["version"], changed["value"], changed["previous"]) == (1, [20, 100], [10, 50, 100])
    assert "version 2" in vg("config", "set", "acme", "cache.ttl", "10m", "--reason", "longer")
    got = json.loads(vg("config", "get", "acme", "traffic.canary_steps", "--json"))
    assert (got["source"], got["version"]) == ("venture", 1)

    history = json.loads(vg("config", "history", "acme", "--json"))
    assert [(c["version"], c["key"], c["reason"]) for c in history] == [
        (2, "cache.ttl", "longer"),
        (1, "traffic.canary_steps", "bolder"),
    ]
    assert "bolder" in vg("config", "history", "acme", "--key", "traffic.canary_steps")
    diff = json.loads(vg("config", "diff", "acme", "pre-stage-2", "2", "--json"))
    assert [(c["key"], c["before"], c["after"]) for c in diff["changes"]] == [
        ("cache.ttl", "5m", "10m"),
        ("traffic.canary_steps", [10, 50, 100], [20, 100]),
    ]
    assert "cache.ttl" in vg("config", "diff", "acme", "1")


def test_bad_values_exit_1_with_the_allowed_range_and_change_nothing(vg: Run) -> None:
    result = runner.invoke(
        app, ["--workflow", "cfg.yaml", "config", "set", "acme", "rollback.error_threshold", "11", "--reason", "x"]
    )
    assert result.exit_code == 1
    assert "rollback.error_threshold: 11 is out of range; allowed: a number from 1 to 10 percent" in result.output
    vg("config", "set", "acme", "traffic.colour", "red", "--reason", "x", code=1)
    vg("config", "set", "acme", "traffic.colour", "green", code=1)  # no reason
    assert json.loads(vg("config", "history", "acme", "--json")) == []


def test_snapshots_rollback_dry_run_real_and_log(vg: Run) -> None:
    vg("config", "set", "acme", "cache.size", "400", "--reason", "bigger")
    assert "snapshot big = version 1" in vg("config", "snapshot", "acme", "big", "--reason", "before the test")
    vg("config", "snapshot", "acme", "big", code=1)
    snaps = json.loads(vg("config", "snapshots", "acme", "--json"))
    assert [(s["name"], s["version"], s["auto"]) for s in snaps] == [("big", 1, False), ("pre-stage-2", 0, True)]
    assert "on entry" in vg("config", "snapshots", "acme")

    dry = vg("rollback", "acme", "--to", "pre-stage-2", "--dry-run")
    assert "cache.size" in dry and "nothing changed" in dry
    assert json.loads(vg("config", "get", "acme", "cache.size", "--json"))["value"] == 400

    done = json.loads(vg("rollback", "acme", "--to", "pre-stage-2", "--reason", "undo", "--cause", "manual", "--json"))
    assert (done["outcome"], done["to_version"], done["cause"]) == ("completed", 2, "manual")
    assert done["duration_ms"] >= 0 and [d["key"] for d in done["diff"]] == ["cache.size"]
    assert "completed" in vg("rollback", "run", "acme", "--to", "big", "--scope", "cache")
    log = json.loads(vg("rollback", "log", "acme", "--json"))
    assert [(r["target"], r["outcome"]) for r in log] == [("big", "completed"), ("pre-stage-2", "completed")]
    assert vg("rollback", "log").startswith("Rollbacks")
    vg("rollback", "acme", "--to", "nowhere", code=1)


def test_rollback_plan_explains_and_lists_causes(vg: Run) -> None:
    text = vg("rollback", "plan", "acme", "--cause", "systemic")
    assert "rollback_and_recurse" in text and "send the venture back to stage 1" in text
    plan = json.loads(vg("rollback", "plan", "acme", "--cause", "transient", "--json"))
    assert (plan["action"], plan["restores"], plan["causes"]) == (
        "wait_and_retry",
        False,
        ["transient", "configuration", "systemic"],
    )
    result = runner.invoke(app, ["--workflow", "cfg.yaml", "rollback", "plan", "acme", "--cause", "comet"])
    assert result.exit_code == 1
    assert "unknown cause 'comet' for stage 2 (hint: causes: transient, configuration, systemic)" in result.output
