"""Issue 17, M2: SQLite writers take the write lock by retrying with backoff and jitter inside the busy timeout."""

from __future__ import annotations

import sqlite3
import threading
import time
from pathlib import Path

import pytest
from benchmarks.contention import run
from typer.testing import CliRunner

from tests.conftest import AGENT, MINI, T0
from venturegate.cli.app import app
from venturegate.definitions.loader import load_workflow
from venturegate.engine import Collision, Engine
from venturegate.store.database import backoff, busy_timeout_from_env, connect, ensure_schema


def test_backoff_is_jittered_and_shrinks_for_old_waiters() -> None:
    early = [backoff(a, 0.0) for a in range(1, 200)]
    late = [backoff(a, 3.0) for a in range(1, 200)]
    assert all(0 <= d <= 0.025 for d in early) and all(0 <= d <= 0.003 for d in late)
    assert len(set(early)) > 100  # jittered, not a fixed schedule
    assert max(backoff(1, 0.0) for _ in range(200)) <= 0.002  # starts small


def test_busy_timeout_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    assert busy_timeout_from_env() == 30.0
    monkeypatch.setenv("VENTUREGATE_SQLITE_BUSY_TIMEOUT", "2.5")
    assert busy_timeout_from_env() == 2.5
    monkeypatch.setenv("VENTUREGATE_SQLITE_BUSY_TIMEOUT", "0")
    with pytest.raises(ValueError, match="must be a number of seconds above 0"):
        busy_timeout_from_env()


def _engine(path: Path, monkeypatch: pytest.MonkeyPatch, seconds: str) -> Engine:
    monkeypatch.setenv("VENTUREGATE_SQLITE_BUSY_TIMEOUT", seconds)
    db = connect(f"sqlite:///{path}")
    ensure_schema(db)
    return Engine(db, load_workflow(MINI), clock=lambda: T0)


def test_a_lock_held_past_the_timeout_is_a_clear_conflict(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    engine = _engine(tmp_path / "vg.db", monkeypatch, "0.3")
    other = sqlite3.connect(tmp_path / "vg.db", isolation_level=None)
    other.execute("BEGIN IMMEDIATE")
    try:
        started = time.monotonic()
        with pytest.raises(Collision, match=r"no write lock after 0\.\d s \(busy timeout 0\.3 s"):
            engine.create_venture("acme", "b2b_smb", 1, actor=AGENT)
        assert 0.3 <= time.monotonic() - started < 3
    finally:
        other.execute("ROLLBACK")
        other.close()
    assert engine.ventures() == []  # nothing was written
    engine.create_venture("acme", "b2b_smb", 1, actor=AGENT)
    engine.db.dispose()


def test_a_waiter_gets_the_lock_soon_after_it_is_released(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    engine = _engine(tmp_path / "vg.db", monkeypatch, "30")
    other = sqlite3.connect(tmp_path / "vg.db", isolation_level=None, check_same_thread=False)
    other.execute("BEGIN IMMEDIATE")
    threading.Timer(0.5, lambda: other.execute("ROLLBACK")).start()
    started = time.monotonic()
    engine.create_venture("acme", "b2b_smb", 1, actor=AGENT)
    took = time.monotonic() - started
    other.close()
    assert 0.45 <= took < 2.5, took  # polled at most a few tens of milliseconds apart, not 100 ms or more
    engine.db.dispose()


def test_every_writer_makes_progress() -> None:
    """The benchmark, small: three writer processes for three seconds; each one gets calls through."""
    got = run(writers=3, seconds=3.0, batch=20, legacy=False)
    assert got["fewest_calls_by_a_writer"] >= 3, got
    assert all(w["busy_timeouts"] == 0 for w in got["per_writer"]), got


def test_the_cli_reports_a_busy_timeout_without_a_traceback(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("VENTUREGATE_ACTOR", "lee:lead")
    monkeypatch.setenv("VENTUREGATE_SQLITE_BUSY_TIMEOUT", "0.3")
    runner = CliRunner()
    assert (
        runner.invoke(app, ["--workflow", str(MINI), "venture", "create", "a", "--segment", "b2b_smb"]).exit_code == 0
    )
    other = sqlite3.connect(tmp_path / ".venturegate" / "venturegate.db", isolation_level=None)
    other.execute("BEGIN IMMEDIATE")
    try:
        got = runner.invoke(app, ["--workflow", str(MINI), "venture", "create", "b", "--segment", "b2b_smb"])
    finally:
        other.execute("ROLLBACK")
        other.close()
    assert got.exit_code == 1 and isinstance(got.exception, SystemExit)
    assert "no write lock after" in got.output and "Traceback" not in got.output
