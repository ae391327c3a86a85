"""Portfolio health: derived from the exit gate, the triggers, escalations, approvals, status and stale data."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest

from tests.conftest import T0
from tests.web.conftest import LEAD
from venturegate.definitions.loader import load_workflow
from venturegate.engine import Engine
from venturegate.store.database import connect, ensure_schema
from venturegate.web import portfolio as portfolio_module
from venturegate.web.firings import RecentFirings, deciding_value
from venturegate.web.health import Signals, derive
from venturegate.web.portfolio import Filters, portfolio

STUCK = Path(__file__).parent / "stuck.yaml"
NOW = T0 + timedelta(hours=2)


@pytest.fixture
def stuck(db_url: str) -> Iterator[Engine]:
    """Four ventures on the stuck workflow: `ok` fine, `sinking` stuck, `noisy` pending, `quiet` stale."""
    db = connect(db_url)
    ensure_schema(db)
    engine = Engine(db, load_workflow(STUCK), clock=lambda: NOW)
    for name in ("ok", "sinking", "noisy", "quiet"):
        engine.create_venture(name, "b2b_smb", actor=LEAD, now=T0)
    engine.record_sample("ok", "success_rate", 97.5, actor=LEAD, key="ok1", now=NOW)
    engine.record_sample("sinking", "success_rate", 92.3, actor=LEAD, key="s1", now=T0 + timedelta(hours=1))
    engine.record_sample("noisy", "success_rate", 98, actor=LEAD, key="n1", now=NOW)
    engine.record_sample("noisy", "errors", 40, actor=LEAD, key="n2", now=NOW - timedelta(minutes=5))
    engine.record_sample("quiet", "success_rate", 99, actor=LEAD, key="q1", now=T0 - timedelta(hours=5))
    yield engine
    db.dispose()


def _rows(engine: Engine) -> dict[str, tuple[str, str]]:
    view = portfolio(engine, engine.workflow.workflow, Filters(), RecentFirings())
    return {r.venture.name: (r.health, r.why) for r in view.rows}


def test_a_stuck_venture_is_red_with_its_reason_and_listed_first(stuck: Engine) -> None:
    view = portfolio(stuck, stuck.workflow.workflow, Filters(), RecentFirings())
    assert view.gates_judged
    assert view.rows[0].venture.name == "sinking"
    rows = {r.venture.name: (r.health, r.why) for r in view.rows}
    colour, why = rows["sinking"]
    assert colour == "red"
    assert why.startswith("exit gate: integration success 92.3, needs >= 95")
    assert "SUCCESS-001 sent it back to 1.1 at 2026-11-02 10:00:00" in why
    assert "SUCCESS-ALERT alert (P2) firing since 2026-11-02 10:00:00" in why
    assert rows["noisy"] == ("amber", "ERRORS-001 pending since 2026-11-02 10:55:00")
    assert rows["quiet"][0] == "amber" and rows["quiet"][1].startswith("stale data: success_rate last measured")
    assert "2026-11-02 04:00:00" in rows["quiet"][1] and "T04" not in rows["quiet"][1]
    assert rows["ok"] == ("green", "on track")
    assert +view.by_health == {"red": 1, "amber": 2, "green": 1}


def test_recent_firings_say_what_each_did_and_the_deciding_value(stuck: Engine) -> None:
    view = portfolio(stuck, stuck.workflow.workflow, Filters(), RecentFirings())
    lines = {(f.trigger, f.outcome, f.detail, f.value, view.names[f.venture_id or 0]) for f in view.firings}
    assert ("SUCCESS-001", "acted", "sent back to 1.1", "success_rate 92.3 < 95", "sinking") in lines
    assert ("SUCCESS-ALERT", "notified", "P2 alert", "success_rate 92.3 < 95", "sinking") in lines
    titles = {f.trigger: f.title for f in view.firings}
    assert titles["SUCCESS-001"] == "A test run came in below the line"


def test_above_the_judging_limit_triggers_and_status_still_mark_the_stuck(
    stuck: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    stuck.pause("ok", actor=LEAD, reason="budget review")
    monkeypatch.setattr(portfolio_module, "JUDGE_ALL", 0)
    view = portfolio(stuck, stuck.workflow.workflow, Filters(), RecentFirings())
    assert not view.gates_judged
    got = [(r.venture.name, r.health) for r in view.rows]
    assert got == [("ok", "red"), ("sinking", "red"), ("noisy", "amber"), ("quiet", "green")]
    assert view.rows[0].why == "paused: budget review"
    assert +view.by_health == {"red": 2, "amber": 1, "green": 1}
    for colour, n in (("red", 2), ("amber", 1), ("green", 1)):
        filtered = portfolio(stuck, stuck.workflow.workflow, Filters(health=colour), RecentFirings())
        assert filtered.matching == n and {r.health for r in filtered.rows} == {colour}


def test_closed_and_quiet_ventures(stuck: Engine) -> None:
    stuck.kill("quiet", actor=LEAD, reason="no market")
    quiet = stuck.venture("quiet")
    assert derive(Signals(quiet)) == ("grey", "killed")
    assert derive(Signals(stuck.venture("ok"))) == ("green", "on track")


def test_deciding_value_walks_to_the_comparison_that_held() -> None:
    expl = {
        "text": "a > 1 or b < 2",
        "value": True,
        "children": [
            {"text": "a > 1", "value": False, "op": ">", "left": 0.5, "right": 1, "children": [{"text": "a"}]},
            {"text": "b < 2", "value": True, "op": "<", "left": 1.25, "right": 2, "children": [{"text": "b"}]},
        ],
    }
    assert deciding_value(expl) == "b 1.25 < 2"
    assert deciding_value(None) == ""
