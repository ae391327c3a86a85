"""A worker process that collides with another writer says so on one line and runs its loop again: no lost timer.

Another connection holds the venture (PostgreSQL: its row, with the worker's `lock_timeout` at 200 ms; SQLite:
the write lock, with a 0.3 s busy timeout) while the venture's pending trigger falls due. The worker logs the
same collision the CLI and the API report (`tests/store/test_collisions.py`), without a traceback, and fires
the trigger, once, when the lock is released.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

from tests.conftest import MINI
from tests.store.test_collisions import held, impatient
from venturegate.definitions.loader import load_workflow
from venturegate.engine import Actor, Engine
from venturegate.store.database import BUSY_TIMEOUT_ENV, connect, ensure_schema

LEAD = Actor("lee", "lead")


def _wait_for(lines: list[str], text: str, seconds: float) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if any(text in line for line in lines):
            return True
        time.sleep(0.1)
    return False


def test_the_worker_reports_a_collision_and_fires_the_trigger_once_released(db_url: str, tmp_path: Path) -> None:
    url = impatient(db_url)
    db = connect(url)
    ensure_schema(db)
    eng = Engine(db, load_workflow(MINI))
    v = eng.create_venture("contested", "b2b_smb", 2, actor=LEAD)
    eng.attest(v.id, "Budget approved", actor=LEAD)
    got = eng.record_sample(v.id, "latency_ms", 1500, actor=LEAD)
    assert [(f.trigger, f.outcome) for f in got.fired] == [("SLOW-1", "pending")]  # due in 2 s
    env = {
        **os.environ,
        "VENTUREGATE_DATABASE_URL": url,
        "VENTUREGATE_QUEUE_URL": f"sqlite:///{tmp_path / 'queue.db'}",
        BUSY_TIMEOUT_ENV: "0.3",
    }
    lines: list[str] = []
    proc = subprocess.Popen(
        [sys.executable, "-m", "venturegate.cli.app", "worker"],
        cwd=tmp_path,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
    )
    reader = threading.Thread(target=lambda: lines.extend(proc.stdout or ()), daemon=True)
    reader.start()
    try:
        with held(db_url, v.id):
            # The trigger falls due while the venture is held: the worker's wake-up collides (and keeps colliding).
            assert _wait_for(lines, "wake-up held back", 30), "".join(lines)
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and not any(e.kind == "alert" for e in eng.events(v.id)):
            time.sleep(0.2)
        kinds = [e.kind for e in eng.events(v.id)]
        assert kinds.count("alert") == 1 and kinds.count("trigger.fired") == 1, kinds
    finally:
        os.killpg(proc.pid, signal.SIGINT)
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout=5)
        reader.join(timeout=5)
        if proc.stdout is not None:
            proc.stdout.close()
        db.dispose()
    output = "".join(lines)
    collided = [line for line in lines if "wake-up held back" in line]
    assert all("nothing was changed" in line and "again in 1 s" in line for line in collided), output
    assert "Traceback" not in output, output
