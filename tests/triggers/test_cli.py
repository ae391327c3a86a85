"""The CLI over triggers: `metric record --json` reports what fired; `tick`, `triggers`, `escalations`, `resolve`."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from tests.conftest import AGENT, LEAD, T0
from tests.triggers.helpers import at_stage, pending, series, subs, trig
from venturegate.cli.app import app
from venturegate.definitions.loader import LoadedWorkflow
from venturegate.engine import Engine

M = timedelta(minutes=1)
H = timedelta(hours=1)
FIRED_KEYS = {"trigger", "kind", "action", "mode", "outcome", "venture_id", "detail"}
Cli = tuple[Engine, Callable[..., Any]]


@pytest.fixture
def cli(tmp_path: Path, studio: LoadedWorkflow, monkeypatch: pytest.MonkeyPatch) -> Iterator[Cli]:
    """An engine on a SQLite file with the bundled workflow, and `vg(*args)` running the CLI on the same file."""
    # Every command opens its engine afresh; hand it the bundled workflow already loaded (saves seconds).
    monkeypatch.setattr("venturegate.engine.base.load_workflow", lambda path=None: studio)
    url = f"sqlite:///{tmp_path / 'vg.db'}"
    eng = Engine.open(url)
    runner = CliRunner()

    def vg(*args: str, actor: str = "bot:agent") -> Any:
        result = runner.invoke(app, ["--db", url, "--as", actor, *args])
        assert result.exit_code == 0, (args, result.output, result.exception)
        return json.loads(result.stdout)

    yield eng, vg
    eng.db.dispose()


def test_record_triggers_and_tick(cli: Cli) -> None:
    eng, vg = cli
    v = at_stage(eng, "cli-cache", 28).id
    out = vg("metric", "record", "cli-cache", "cache_hit_rate", "40", "--json")
    assert out["sample"]["value"] == 40.0
    assert all(set(f) == FIRED_KEYS for f in out["fired"])
    got = {f["trigger"]: f for f in out["fired"]}
    assert {k: f["outcome"] for k, f in got.items()} == {
        "PERF-002": "proposed",  # avg over the hour 40 < 70
        "PERF-ALERT-CACHE": "pending",  # latest < 70, for 15m
        "PERF-RB-CACHE": "proposed",  # avg over 15m 40 < 50
    }
    assert (got["PERF-002"]["kind"], got["PERF-002"]["mode"], got["PERF-002"]["action"]) == (
        "recursion",
        "assisted",
        {"go_to": "28.2", "notify": ["lead", "exec"]},
    )
    assert got["PERF-002"]["venture_id"] == v
    assert sorted(a.payload["trigger"] for a in pending(eng, v) if a.payload) == ["PERF-002", "PERF-RB-CACHE"]

    rows = {r["trigger"]: r for r in vg("triggers", "cli-cache", "--json")}
    assert set(rows) == {t.id for t in eng.workflow.workflow.stage(28).triggers}  # type: ignore[union-attr]
    assert (rows["PERF-002"]["state"], rows["PERF-002"]["fired"], rows["PERF-002"]["acted"]) == ("firing", 1, 0)
    assert rows["PERF-ALERT-CACHE"]["state"] == "pending"
    assert rows["PERF-ALERT-CACHE"]["since"] == out["sample"]["at"]
    assert rows["PERF-001"]["last_evaluated_at"] is None

    due = datetime.fromisoformat(out["sample"]["at"]) + 15 * M
    early = vg("tick", "--now", (due - M).isoformat(), "--json", actor="lee:lead")  # `operate`: not an agent
    assert (early["timers"], early["fired"]) == (0, [])
    report = vg("tick", "--now", due.isoformat(), "--json", actor="lee:lead")
    assert report["timers"] >= 1
    assert [(f["trigger"], f["outcome"]) for f in report["fired"]] == [("PERF-ALERT-CACHE", "notified")]
    assert set(report) >= {"now", "timers", "fired", "expired_approvals", "stale", "next_due"}
    assert trig(eng, v, "PERF-ALERT-CACHE", due)["state"] == "firing"


def test_escalations_list_and_resolve(cli: Cli) -> None:
    eng, vg = cli
    v = at_stage(eng, "cli-esc", 28).id
    t = T0
    for n in (1, 2, 3):  # three hours averaging 69 %, each approved by lead; the third escalates
        batch = series(v, "cache_hit_rate", [69] * 12, t, 5 * M, f"bad{n}")
        got = eng.record_samples(batch, actor=AGENT, now=t + 55 * M)
        if any(f.trigger == "PERF-002" and f.outcome == "proposed" for f in got.fired):
            ask = next(a for a in pending(eng, v) if a.payload and a.payload["trigger"] == "PERF-002")
            eng.decide_approval(ask.id, True, actor=LEAD, now=t + 56 * M)
        t += H
        eng.record_samples(series(v, "cache_hit_rate", [90] * 12, t, 5 * M, f"good{n}"), actor=AGENT, now=t + 55 * M)
        t += H
    assert eng.venture(v).status == "paused"

    (esc,) = vg("escalations", "--json")
    assert (esc["code"], esc["status"], esc["role"], esc["trigger_id"], esc["stage"], esc["venture_id"]) == (
        "SD-28-ESCALATION-1",
        "open",
        "lead",
        "PERF-002",
        28,
        v,
    )
    assert isinstance(esc["history"], list) and esc["history"]
    assert vg("escalations", "--status", "resolved", "--json") == []

    done = vg("escalation", "resolve", "SD-28-ESCALATION-1", "--resume-at", "28.2", "--json", actor="lee:lead")
    assert (done["status"], done["resume_at"], done["resolved_by"]) == ("resolved", "28.2", "lee")
    assert vg("escalations", "--status", "open", "--json") == []
    assert eng.venture(v).status == "active"
    assert subs(eng, v) == {"28.1": "open", "28.2": "open", "28.3": "open"}
    assert trig(eng, v, "PERF-002")["acted"] == 0
