"""`venturegate demo` tells its story into a real database: checked from the database, not from the printed text."""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import func, select
from typer.testing import CliRunner

from venturegate.cli.app import app
from venturegate.definitions.loader import load_workflow
from venturegate.demo import HOURS, MARKER, START, run_demo
from venturegate.engine import BadInput, Engine
from venturegate.store.database import connect
from venturegate.store.schema import samples

END = START + timedelta(hours=HOURS)


@dataclass
class Ran:
    """The demo's workspace, an engine on its database, and how long the demo took."""

    folder: Path
    engine: Engine
    seconds: float


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Ran]:
    """Run the demo once for the whole module."""
    folder = tmp_path_factory.mktemp("demo-run") / "demo"
    began = time.perf_counter()
    run_demo(folder)
    seconds = time.perf_counter() - began
    db = connect(f"sqlite:///{folder / 'venturegate.db'}")
    yield Ran(folder, Engine(db, load_workflow()), seconds)
    db.dispose()


def test_finishes_well_within_a_minute(demo: Ran) -> None:
    assert demo.seconds < 60
    assert (demo.folder / MARKER).exists()


def test_five_ventures_across_the_four_segments_and_three_stages(demo: Ran) -> None:
    ventures = demo.engine.ventures()
    assert len(ventures) == 5
    assert {v.segment for v in ventures} == {"b2b_enterprise", "b2b_smb", "b2c_mass", "b2c_premium"}
    started = {e.venture_id: e.stage for e in demo.engine.events(kind="venture.created")}
    assert set(started.values()) == {14, 19, 28}
    assert all(v.status == "active" for v in ventures)


def test_the_passing_venture_was_advanced_to_stage_20(demo: Ran) -> None:
    e = demo.engine
    tally = e.venture("tally-books")
    assert tally.stage == 20
    exited = [ev for ev in e.events(tally.id, kind="stage.exited") if ev.stage == 19]
    assert len(exited) == 1 and exited[0].data is not None and exited[0].data["passed"] is True
    assert [ev.data for ev in e.events(tally.id, kind="venture.advanced")] == [{"from": 19, "to": 20}]


def test_the_failing_venture_fails_on_its_segment_threshold(demo: Ran) -> None:
    e = demo.engine
    cartwheel = e.venture("cartwheel")
    assert (cartwheel.segment, cartwheel.stage) == ("b2c_mass", 19)
    result = e.check_gate(cartwheel.id, "exit", now=END)
    assert not result.passed
    failing = {c.name: c for c in result.failing()}
    rate = failing["All integrations verified (success rate)"]
    assert rate.verdict == "fail" and rate.observed == pytest.approx(92.3)
    assert rate.expected == ">= 95"


def test_a_stage_28_venture_passes_its_exit_gate(demo: Ran) -> None:
    assert demo.engine.check_gate("quarry-analytics", "exit", now=END).passed


def test_perf_002_proposals_were_approved_and_sent_the_venture_back_to_28_2(demo: Ran) -> None:
    e = demo.engine
    approved = [a for a in e.approvals("lumen-atelier", "approved") if (a.payload or {}).get("trigger") == "PERF-002"]
    assert len(approved) == 2
    assert all(a.role == "lead" and a.decided_by == "lee" for a in approved)
    recursions = e.events("lumen-atelier", kind="recursion")
    assert len(recursions) == 2
    assert all(r.substage == "28.2" and r.data == {"trigger": "PERF-002", "to": "28.2"} for r in recursions)


def test_the_third_breach_escalated_and_the_escalation_was_resolved(demo: Ran) -> None:
    e = demo.engine
    (esc,) = e.escalations(ref="lumen-atelier")
    assert esc.code == "SD-28-ESCALATION-1"
    assert (esc.trigger_id, esc.status, esc.resolved_by, esc.resume_at) == ("PERF-002", "resolved", "ada", "28.2")
    kinds = [ev.kind for ev in e.events("lumen-atelier") if ev.kind.startswith(("escalation.", "venture."))]
    assert kinds[-2:] == ["escalation.opened", "escalation.resolved"]
    assert e.venture("lumen-atelier").status == "active"


def test_a_trigger_went_pending_before_it_fired(demo: Ran) -> None:
    e = demo.engine
    events = e.events("cartwheel", kind="trigger.")
    pending = [ev for ev in events if ev.kind == "trigger.pending" and ev.reason == "INTEGRATION-ALERT-SUCCESS"]
    fired = [
        ev
        for ev in events
        if ev.kind == "trigger.fired" and (ev.data or {}).get("trigger") == "INTEGRATION-ALERT-SUCCESS"
    ]
    assert len(pending) == 1 and len(fired) == 1
    assert pending[0].id < fired[0].id
    assert fired[0].at - pending[0].at == timedelta(minutes=5)
    notified = e.events("cartwheel", kind="trigger.notified")
    assert [ev.reason for ev in notified] == ["INTEGRATION-ALERT-SUCCESS"]


def test_perf_004_waited_for_an_hour_of_green_before_firing(demo: Ran) -> None:
    events = demo.engine.events("quarry-analytics", kind="trigger.")
    assert [(ev.kind, ev.reason.split(":")[0]) for ev in events] == [
        ("trigger.pending", "PERF-004"),
        ("trigger.fired", "PERF-004"),
        ("trigger.notified", "PERF-004"),
    ]
    assert events[1].at - events[0].at == timedelta(hours=1)


def test_samples_form_a_realistic_stream(demo: Ran) -> None:
    e = demo.engine
    cartwheel = e.venture("cartwheel").id
    with e.tx() as conn:
        rows = conn.execute(select(samples.c.venture_id, func.count()).group_by(samples.c.venture_id)).all()
        per_venture = {int(v): int(n) for v, n in rows}
        hours = conn.execute(
            select(func.min(samples.c.at), func.max(samples.c.at), func.count()).where(
                samples.c.venture_id == cartwheel, samples.c.metric == "api_reliability"
            )
        ).one()
        keyed = conn.execute(select(func.count()).where(samples.c.sample_key.is_(None))).scalar_one()
    assert len(per_venture) == 5 and all(n > 50 for n in per_venture.values())
    assert 1000 < sum(per_venture.values()) < 5000
    assert hours[1] - hours[0] >= timedelta(hours=24) and hours[2] >= 24
    assert keyed == 0  # every sample carries an idempotency key


def test_refuses_to_delete_a_folder_that_is_not_a_demo_workspace(tmp_path: Path) -> None:
    keep = tmp_path / "notes.txt"
    keep.write_text("mine")
    with pytest.raises(BadInput, match="refusing to delete"):
        run_demo(tmp_path)
    assert keep.read_text() == "mine"


def test_cli_demo_recreates_its_workspace(tmp_path: Path) -> None:
    folder = tmp_path / "ws"
    folder.mkdir()
    (folder / MARKER).write_text("")
    (folder / "stale.txt").write_text("from an earlier run")
    result = CliRunner().invoke(app, ["demo", "--dir", str(folder)])
    assert result.exit_code == 0, result.output
    assert not (folder / "stale.txt").exists()
    assert (folder / "venturegate.db").exists()
    assert "SD-28-ESCALATION-1" in result.output
