"""The queue only wakes the engine: a real Huey consumer fires a `for:` trigger on time, with no tick call."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.conftest import MINI, PG_URL
from venturegate.definitions.loader import load_workflow
from venturegate.engine import Actor, Engine
from venturegate.store.database import connect, ensure_schema
from venturegate.worker import make_huey

LEAD = Actor("lee", "lead")


def _redis_up() -> bool:
    import redis

    try:
        return bool(redis.Redis.from_url("redis://127.0.0.1:6379/15", socket_timeout=1).ping())
    except Exception:
        return False


@pytest.mark.parametrize("queue", ["sqlite", "redis", "postgresql"])
def test_worker_fires_pending_trigger_when_due(tmp_path: Path, queue: str, postgres_ok: bool) -> None:
    if queue == "redis" and not _redis_up():
        if os.environ.get("CI"):
            pytest.fail("Redis is required in CI (make test starts it)")
        pytest.skip("Redis not reachable")
    if queue == "postgresql" and not postgres_ok:
        pytest.skip("PostgreSQL not reachable (set VENTUREGATE_TEST_POSTGRES_URL; `make test` does)")
    db_url = f"sqlite:///{tmp_path / 'vg.db'}"
    queue_url = {
        "sqlite": f"sqlite:///{tmp_path / 'queue.db'}",
        "redis": "redis://127.0.0.1:6379/15",
        "postgresql": PG_URL.replace("postgresql+psycopg://", "postgresql://"),
    }[queue]
    if queue != "sqlite":
        stale = make_huey(queue_url)
        stale.flush()
        closer = getattr(getattr(stale.storage, "database", None), "close", None)
        if closer is not None:
            closer()
    db = connect(db_url)
    ensure_schema(db)
    eng = Engine(db, load_workflow(MINI))
    v = eng.create_venture("slowpoke", "b2b_smb", 2, actor=LEAD)
    eng.attest(v.id, "Budget approved", actor=LEAD)
    got = eng.record_sample(v.id, "latency_ms", 1500, actor=LEAD)
    assert [(f.trigger, f.outcome) for f in got.fired] == [("SLOW-1", "pending")]
    env = {**os.environ, "VENTUREGATE_DATABASE_URL": db_url, "VENTUREGATE_QUEUE_URL": queue_url}
    proc = subprocess.Popen(
        [sys.executable, "-m", "venturegate.cli.app", "worker"],
        cwd=tmp_path,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    try:
        deadline = time.monotonic() + 30
        kinds: list[str] = []
        while time.monotonic() < deadline:
            kinds = [e.kind for e in eng.events(v.id)]
            if "alert" in kinds:
                break
            time.sleep(0.2)
        assert "alert" in kinds, kinds
        fired_at = next(e.at for e in eng.events(v.id) if e.kind == "trigger.fired")
        pending_at = next(e.at for e in eng.events(v.id) if e.kind == "trigger.pending")
        assert 2.0 <= (fired_at - pending_at).total_seconds() < 15
    finally:
        os.killpg(proc.pid, signal.SIGINT)
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout=5)
        if proc.stdout is not None:
            proc.stdout.close()
        db.dispose()


def test_an_idle_polled_queue_is_polled_at_most_a_second_apart(tmp_path: Path) -> None:
    """Huey's default lets the wait between polls of an idle SQLite or PostgreSQL queue grow to 10 s; a crew job
    queued after a quiet minute then waited that long. `venturegate worker` and the in-process worker cap it."""
    from venturegate.api.background import InProcessWorker
    from venturegate.worker import POLL_MAX_DELAY, consumer

    db = connect(f"sqlite:///{tmp_path / 'vg.db'}")
    ensure_schema(db)
    try:
        in_process = InProcessWorker(Engine(db, load_workflow(MINI)), f"sqlite:///{tmp_path / 'q1.db'}")
        standalone = consumer(make_huey(f"sqlite:///{tmp_path / 'q2.db'}"), 2)
        for c in (standalone, in_process._consumer):
            workers = [w for w, _ in c.worker_threads]
            assert len(workers) == c.workers
            for w in workers:
                w.stop_flag.set()  # each sleep returns at once; the delay still grows as if it had waited
                waits = []
                for _ in range(60):  # 0.1 s × 1.15⁶⁰ would be 4,384 s uncapped
                    waits.append(min(w.delay, w.max_delay))
                    w.sleep()
                assert waits[0] == pytest.approx(0.1)
                assert max(waits) == POLL_MAX_DELAY == 1.0
    finally:
        db.dispose()
