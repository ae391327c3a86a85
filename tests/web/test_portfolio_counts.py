"""The portfolio's database counts agree with colouring every venture one by one."""

from __future__ import annotations

from collections import Counter
from datetime import timedelta

from tests.conftest import AGENT, CHAIR, T0
from venturegate.engine import Engine
from venturegate.web.health import SEVERITY, Signals, derive
from venturegate.web.portfolio import Filters, RecentFirings, portfolio


def _by_brute_force(engine: Engine) -> tuple[Counter[str], dict[int, Counter[str]], list[int]]:
    escalated = {e.venture_id: e for e in engine.escalations(status="open")}
    waiting = {a.venture_id: [a.role] for a in engine.approvals(status="pending")}
    flagged = {a.venture_id for a in engine.unreviewed_bypasses()}
    total: Counter[str] = Counter()
    per_stage: dict[int, Counter[str]] = {}
    order: list[tuple[int, int]] = []
    for v in engine.ventures():
        live = v.status in ("active", "blocked")
        gate = engine.check_gate(v.id) if live else None
        signals = Signals(v, escalated.get(v.id), waiting.get(v.id, []), v.id in flagged, [], gate)
        colour, _ = derive(signals)
        order.append((SEVERITY[colour], v.id))
        total[colour] += 1
        per_stage.setdefault(v.stage, Counter())[colour] += 1
    return total, per_stage, [vid for _, vid in sorted(order)]


def test_counts_match_the_per_venture_colours(engine: Engine, pending: int) -> None:
    for i in range(7):
        engine.create_venture(f"extra{i}", "b2c_mass", actor=AGENT, now=T0 + timedelta(seconds=i))
    engine.kill("extra0", actor=CHAIR, reason="no market")
    engine.pause("extra1", actor=CHAIR, reason="waiting on funding")
    wf = engine.workflow.workflow
    got = portfolio(engine, wf, Filters(), RecentFirings())
    total, per_stage, order = _by_brute_force(engine)
    assert +got.by_health == +total
    assert {s.stage: +s.by_health for s in got.stages} == {k: +v for k, v in per_stage.items()}
    assert got.total == len(engine.ventures()) and got.matching == got.total
    assert [r.venture.id for r in got.rows] == order[:50]  # stuck first, then by id
    # The health filter takes the slow path and must agree with the counts.
    for colour, n in total.items():
        assert portfolio(engine, wf, Filters(health=colour), RecentFirings()).matching == n


def test_engine_paging_counts_and_samples(engine: Engine) -> None:
    ids = [engine.create_venture(f"p{i}", "b2b_smb", actor=AGENT, now=T0).id for i in range(5)]
    assert [v.id for v in engine.ventures(limit=2, offset=1)] == ids[1:3]
    assert [v.id for v in engine.ventures(ids={ids[4], ids[0]})] == [ids[0], ids[4]]
    assert engine.venture_counts() == {(1, "active"): 5}
    metric = next(iter(engine.workflow.workflow.stage(1).metrics))  # type: ignore[union-attr]
    for n in range(4):
        engine.record_sample(ids[0], metric, 7 + n, actor=AGENT, now=T0 + timedelta(minutes=n))
    points = engine.samples(ids[0], metric, since=T0, until=T0 + timedelta(hours=1), limit=2)
    assert [(p.at, p.value) for p in points] == [(T0 + timedelta(minutes=2), 9.0), (T0 + timedelta(minutes=3), 10.0)]
