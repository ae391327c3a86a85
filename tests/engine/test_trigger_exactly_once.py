"""A trigger episode that a due timer and a sample batch judge at once fires once (SQLite and PostgreSQL).

The timer's worker and the batch's API process are two engines on one database. The worker is held right after
it read the trigger's state while the batch runs, until the batch waits on one of the worker's locks (or is done):
a worker that judged from states read without the venture's lock fired a second time, and its state write kept
one count for two `trigger.fired` events (the deployment test's exactly-once check saw this under load).
"""

from __future__ import annotations

import threading
import time
from datetime import timedelta

from sqlalchemy import Connection, text
from sqlalchemy import Engine as Database

from tests.conftest import LEAD, MINI, T0
from venturegate.definitions.loader import load_workflow
from venturegate.engine import Engine
from venturegate.engine.samples import Ingested
from venturegate.store.database import connect
from venturegate.store.trigger_states import TriggerStates


def _blocked_or_done(batch: threading.Thread, watcher: Database, worker: Connection) -> None:
    """Return once `batch` waits on a lock the worker's transaction holds, or has finished (at most 10 s).

    SQLite shows no waits: the batch's writer waits for the worker's `BEGIN IMMEDIATE`; give it a moment.
    """
    deadline = time.monotonic() + (10.0 if worker.dialect.name == "postgresql" else 0.3)
    pid = worker.exec_driver_sql("SELECT pg_backend_pid()").scalar() if worker.dialect.name == "postgresql" else None
    query = text("SELECT count(*) FROM pg_stat_activity WHERE CAST(:pid AS integer) = ANY(pg_blocking_pids(pid))")
    while batch.is_alive() and time.monotonic() < deadline:
        if pid is not None:
            with watcher.connect() as conn:
                if conn.execute(query, {"pid": pid}).scalar():
                    return
        time.sleep(0.01)


def test_a_due_timer_and_a_sample_batch_fire_one_episode_once(engine: Engine, db_url: str) -> None:
    v = engine.create_venture("slowpoke", "b2b_smb", 2, actor=LEAD)
    engine.attest(v.id, "Budget approved", actor=LEAD)
    got = engine.record_sample(v.id, "latency_ms", 1500, actor=LEAD)
    assert [(f.trigger, f.outcome) for f in got.fired] == [("SLOW-1", "pending")]
    due = T0 + timedelta(seconds=3)  # SLOW-1's `for: 2s` has passed: its timer is due, and a new sample fires it
    api = Engine(connect(db_url), load_workflow(MINI), clock=lambda: due)
    watcher = connect(db_url)
    ingested: list[Ingested] = []
    batch = threading.Thread(
        target=lambda: ingested.append(api.record_sample(v.id, "latency_ms", 1600, actor=LEAD, now=due))
    )
    read = engine.triggers.states

    def read_then_let_the_batch_run(conn: Connection, vid: int) -> TriggerStates:
        found = read(conn, vid)
        if not batch.is_alive() and not ingested:
            batch.start()
            _blocked_or_done(batch, watcher, conn)
        return found

    engine.triggers.states = read_then_let_the_batch_run  # type: ignore[method-assign]
    try:
        report = engine.tick(now=due)
        batch.join(30)
    finally:
        api.db.dispose()
        watcher.dispose()
    assert not batch.is_alive() and ingested
    fired = [e for e in engine.events(v.id) if e.kind == "trigger.fired"]
    (status,) = [s for s in engine.trigger_status(v.id) if s["trigger"] == "SLOW-1"]
    assert (len(fired), status["fired"]) == (1, 1)
    assert [(f.trigger, f.outcome) for f in report.fired] == [("SLOW-1", "notified")]
    assert ingested[0].fired == []
