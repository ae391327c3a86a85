"""A timer that another worker claims while this one is about to run it runs once (SQLite and PostgreSQL)."""

from __future__ import annotations

import threading
from datetime import timedelta

from sqlalchemy import select, update

from tests.conftest import LEAD, T0
from venturegate.engine import Engine
from venturegate.engine.timers import TickReport
from venturegate.store.database import connect
from venturegate.store.schema import timers


def test_a_timer_claimed_meanwhile_by_another_worker_runs_once(engine: Engine, db_url: str) -> None:
    v = engine.create_venture("slowpoke", "b2b_smb", 2, actor=LEAD)
    engine.attest(v.id, "Budget approved", actor=LEAD)
    got = engine.record_sample(v.id, "latency_ms", 1500, actor=LEAD)
    assert [(f.trigger, f.outcome) for f in got.fired] == [("SLOW-1", "pending")]
    due = T0 + timedelta(seconds=3)
    other = connect(db_url)  # another worker's connection
    reports: list[TickReport] = []
    try:
        with other.begin() as conn:
            (timer_id,) = conn.execute(select(timers.c.id).where(timers.c.done_at.is_(None))).scalars()
            conn.execute(update(timers).where(timers.c.id == timer_id).values(done_at=due))
            # This worker reads the timer as not done, then waits on the other's lock until it commits.
            ticking = threading.Thread(target=lambda: reports.append(engine.tick(now=due)))
            ticking.start()
            ticking.join(1.0)
            assert ticking.is_alive()
        ticking.join(30)
    finally:
        other.dispose()
    assert reports and reports[0].timers == 0 and reports[0].fired == []
    assert [e.kind for e in engine.events(v.id) if e.kind.startswith("trigger.")] == ["trigger.pending"]
