"""The stage-30 crew's migrations across runs: each restore uses a backup taken right before its own migration,
a run killed after migrating blocks the next one until its migration is undone, and a migration that times
out or cannot start.

Same production and scratch database as `test_stage30_crew.py` (its fixtures and helpers).
"""

from __future__ import annotations

import contextlib
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import psycopg
import pytest

from tests.crews import test_stage30_crew as crew_tests
from tests.crews.test_stage30_crew import FAILS, LEAD, MIGRATION, _approved, _customers, _migration, _run
from venturegate.crews.stage30.haproxy import STATE_FILE, DriverError, LocalDriver
from venturegate.crews.stage30.live import DEPLOYMENT_FILE, production_dir
from venturegate.engine import Engine

pytestmark = pytest.mark.slow  # real deployments behind HAProxy, a real scratch database
workspace = crew_tests.workspace  # the same fixtures: production under the test's workspace, a scratch database
target_db = crew_tests.target_db

FAILING = MIGRATION + "; c.execute('ALTER TABLE no_such_table ADD COLUMN x int')"
"""The migration, then a statement that fails: the run rolls back before any traffic moves."""


def _failing(target_db: str) -> str:
    return f'{sys.executable} -c "{FAILING.format(url=target_db)}"'


def _database_handlers(engine: Engine) -> list[str]:
    """The `database` handler's details, oldest first."""
    return [h.detail for r in reversed(engine.rollbacks("acme")) for h in r.handlers if h.scope == "database"]


def test_each_run_restores_the_backup_taken_right_before_its_own_migration(
    sqlite_engine: Engine, tmp_path: Any, target_db: str
) -> None:
    eng = sqlite_engine
    _approved(eng)
    first = _run(eng, tmp_path, database_url=target_db, migrate_command=_failing(target_db))
    assert first.status == "recursed", first.summary
    assert _customers(target_db) == (50, False)  # restored
    assert "30.1" in {s.id for s in eng.substages("acme") if s.status == "done"}  # the next run skips 30.1
    with psycopg.connect(target_db, autocommit=True) as conn:  # blue's write after that restore
        conn.execute("INSERT INTO customers VALUES (51, 'written by blue between the runs')")
    # The second run migrates fully, cuts over, and its smoke tests fail: the restore keeps the row.
    second = _run(eng, tmp_path, database_url=target_db, migrate_command=_migration(target_db), smoke_command=FAILS)
    assert second.status == "recursed", second.summary
    assert second.summary["rollback"]["database"]["restored"] is True, second.summary["rollback"]
    assert _customers(target_db) == (51, False)
    backups = [Path(r.summary["migration"]["backup"]).name for r in (first, second)]
    assert backups[0] != backups[1]
    assert [d.split(":")[0] for d in _database_handlers(eng)] == [f"database restored from {b}" for b in backups]


def _stop_production(folder: Path) -> None:
    with contextlib.suppress(DriverError):  # nothing left running
        LocalDriver.attach(folder).close()


def test_a_run_killed_after_its_migration_blocks_the_next_until_the_migration_is_undone(
    sqlite_engine: Engine, tmp_path: Path, target_db: str
) -> None:
    eng = sqlite_engine
    _approved(eng)
    folder = production_dir(tmp_path, eng.venture("acme").id)
    # A real `venturegate run` whose migration runs, then SIGKILLs the crew's process (the script's parent).
    script = tmp_path / "migrate_then_kill_the_crew.py"
    script.write_text(MIGRATION.format(url=target_db) + "\nimport os, signal\nos.kill(os.getppid(), signal.SIGKILL)\n")
    db = str(eng.db.url)
    argv = [sys.executable, "-m", "venturegate.cli.app", "--db", db, "run", "acme", "--stage", "30", "--json"]
    for option in ("production=run", "health_check_interval=0.05", f"database_url={target_db}",
                   f"migrate_command={sys.executable} {script}"):  # fmt: skip
        argv += ["-o", option]
    env = {**os.environ, "VENTUREGATE_ACTOR": "lee:lead", "VENTUREGATE_CREW_ROOT": str(tmp_path / "crews")}
    try:
        killed = subprocess.run(argv, env=env, capture_output=True, text=True, timeout=120, check=False)
        assert killed.returncode == -9, killed.stdout + killed.stderr
        assert _customers(target_db) == (10, True)  # migrated, nothing undone
        left = (folder / DEPLOYMENT_FILE).read_text()
        crashed = json.loads(left)
        assert crashed["migrations_ran"] is True and crashed["state"] == "cutover", crashed

        refused = _run(eng, tmp_path, database_url=target_db, migrate_command=_migration(target_db))
        assert refused.status == "failed", refused.summary
        outcome = refused.summary["outcome"]
        assert outcome.startswith(f"refused: an earlier run ({crashed['run']}) of release 2.0.0"), outcome
        assert crashed["backup"] in outcome and "venturegate rollback acme --cause schema_changed" in outcome
        assert (folder / DEPLOYMENT_FILE).read_text() == left  # its record, and so its backup, are kept
        assert not eng.rollbacks("acme") and _customers(target_db) == (10, True)  # nothing else changed
    finally:
        _stop_production(folder)
    assert not (folder / STATE_FILE).exists()

    # What the refusal says to do: the `database` handler restores the killed run's backup, once.
    undo = ["rollback", "acme", "--cause", "schema_changed", "--reason", "undo the killed run's migration"]
    subprocess.run([sys.executable, "-m", "venturegate.cli.app", "--db", db, *undo], env=env, check=True,
                   capture_output=True, timeout=60)  # fmt: skip
    assert _customers(target_db) == (50, False)
    backup = Path(crashed["backup"]).name
    again = eng.rollback("acme", cause="schema_changed", actor=LEAD, reason="once more", keys=[])
    (detail,) = [h.detail for h in again.handlers if h.scope == "database"]
    assert detail.startswith(f"database already restored from {backup} at "), detail
    assert _database_handlers(eng)[0].startswith(f"database restored from {backup}")

    # The next run goes ahead, with a backup of its own.
    after = _run(eng, tmp_path, database_url=target_db, migrate_command=_failing(target_db))
    assert after.status == "recursed", after.summary
    assert Path(after.summary["migration"]["backup"]).name != backup
    assert _customers(target_db) == (50, False)


def test_a_migration_that_times_out_is_killed_and_undone(sqlite_engine: Engine, tmp_path: Any, target_db: str) -> None:
    eng = sqlite_engine
    _approved(eng)
    slow = MIGRATION.format(url=target_db) + "; import time; time.sleep(60)"
    result = _run(eng, tmp_path, database_url=target_db, migrate_command=f'{sys.executable} -c "{slow}"',
                  migrate_timeout=2)  # fmt: skip
    assert result.status == "recursed", result.summary
    assert result.summary["migration"]["exit"] is None
    rollback = result.summary["rollback"]
    assert rollback["cause"] == "migration_failed" and "timed out after 2 s" in rollback["reason"], rollback
    assert rollback["database"]["restored"] is True, rollback
    assert _customers(target_db) == (50, False)


def test_a_migration_command_that_cannot_start_is_refused_and_nothing_is_restored(
    sqlite_engine: Engine, tmp_path: Any, target_db: str
) -> None:
    eng = sqlite_engine
    _approved(eng)
    result = _run(eng, tmp_path, database_url=target_db, migrate_command=str(tmp_path / "no-such-migrate"))
    assert result.status == "failed", result.summary
    assert result.summary["outcome"].startswith("refused: the migration command could not start"), result.summary
    assert "database" not in result.summary["outcome"] and "rollback" not in result.summary
    assert not eng.rollbacks("acme")
    assert _customers(target_db) == (50, False)
    # Nothing to undo, so nothing blocks the next run.
    assert not (production_dir(tmp_path, eng.venture("acme").id) / DEPLOYMENT_FILE).exists()
