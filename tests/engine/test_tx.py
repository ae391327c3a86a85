"""`Engine.tx`: all or nothing; on SQLite, driver-level begin and commit that keep SQLAlchemy's contract."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from contextlib import nullcontext
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import event, func, select
from sqlalchemy.exc import OperationalError

from tests.conftest import AGENT, MINI, T0
from venturegate.definitions.loader import load_workflow
from venturegate.engine import Collision, Engine
from venturegate.engine.actors import SYSTEM
from venturegate.engine.configuration import _WRITTEN
from venturegate.store.database import connect, ensure_schema
from venturegate.store.schema import events


class Boom(Exception):
    pass


def _count(eng: Engine, kind: str) -> int:
    with eng.db.connect() as conn:
        return int(conn.execute(select(func.count()).select_from(events).where(events.c.kind == kind)).scalar_one())


def test_a_transaction_commits_whole_or_not_at_all(engine: Engine) -> None:
    vid = engine.create_venture("tx", "b2b_smb", 1, actor=AGENT).id
    with pytest.raises(Boom), engine.tx() as conn:
        engine._event(conn, vid, "test.prepared", SYSTEM, T0)  # a prepared statement on the driver
        conn.execute(select(func.count()).select_from(events))  # a Core statement
        raise Boom
    with pytest.raises(Boom), engine.tx() as conn:
        engine._event(conn, vid, "test.prepared", SYSTEM, T0)  # prepared statements only
        raise Boom
    assert _count(engine, "test.prepared") == 0
    with engine.tx() as conn:
        engine._event(conn, vid, "test.prepared", SYSTEM, T0)
    with engine.tx() as conn:
        engine._event(conn, vid, "test.prepared", SYSTEM, T0)
        conn.execute(select(func.count()).select_from(events))
    assert _count(engine, "test.prepared") == 2
    with engine.tx() as conn:  # the held connection is reusable after every ending above
        assert conn.execute(select(func.count()).select_from(events)).scalar_one() > 0


@pytest.fixture
def quick(tmp_path: Path) -> Iterator[Engine]:
    """SQLite with a 50 ms busy timeout, so that waiting on a held lock fails fast."""
    db = connect(f"sqlite:///{tmp_path / 'vg.db'}")

    @event.listens_for(db, "connect")
    def _short_wait(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.busy_timeout = 0.05  # what `begin_immediate` waits in all, in seconds

    ensure_schema(db)
    eng = Engine(db, load_workflow(MINI), clock=lambda: T0)
    yield eng
    db.dispose()


def test_sqlite_a_core_statement_joins_and_ends_through_sqlalchemy_with_its_events(quick: Engine) -> None:
    commits: list[object] = []
    event.listen(quick.db, "commit", commits.append)
    vid = quick.create_venture("joined", "b2b_smb", 1, actor=AGENT).id
    commits.clear()
    with quick.tx() as conn:
        quick._event(conn, vid, "test.prepared", SYSTEM, T0)
        assert not conn.in_transaction()  # begun on the driver, unseen by SQLAlchemy
        conn.execute(select(func.count()).select_from(events))
        assert conn.in_transaction()  # SQLAlchemy joined the open transaction instead of beginning another
    assert len(commits) == 1 and not conn.in_transaction()
    with quick.tx() as conn:
        quick._event(conn, vid, "test.prepared", SYSTEM, T0)
    assert len(commits) == 1  # a driver-only transaction commits without SQLAlchemy's event
    assert _count(quick, "test.prepared") == 2


@pytest.mark.parametrize("fails", [False, True])
def test_sqlite_versions_written_are_forgotten_when_the_transaction_ends(quick: Engine, fails: bool) -> None:
    vid = quick.create_venture("written", "b2b_smb", 1, actor=AGENT).id
    with pytest.raises(Boom) if fails else nullcontext(), quick.tx() as conn:
        quick._event(conn, vid, "test.prepared", SYSTEM, T0)
        conn.info.setdefault(_WRITTEN, set()).add((vid, 1))  # as `_write_version` marks it
        if fails:
            raise Boom
    assert _WRITTEN not in conn.info  # (the SQLAlchemy path clears it from its commit and rollback events)


def test_sqlite_a_nested_transaction_gets_a_connection_of_its_own(quick: Engine) -> None:
    with quick.tx() as outer:
        # Another connection waits on the outer transaction's lock (a shared connection would join silently).
        with pytest.raises(Collision, match="database is locked") as caught, quick.tx() as inner:
            assert inner is not outer
        assert isinstance(caught.value.__cause__, OperationalError)  # the driver's error, translated by the store
        quick._event(outer, None, "test.prepared", SYSTEM, T0)
    assert _count(quick, "test.prepared") == 1


def test_sqlite_a_held_lock_raises_a_collision_and_the_engine_recovers(quick: Engine, tmp_path: Path) -> None:
    other = sqlite3.connect(tmp_path / "vg.db", isolation_level=None)
    other.execute("BEGIN IMMEDIATE")
    try:
        with pytest.raises(Collision, match="database is locked") as caught, quick.tx():
            pass
        assert caught.value.kind == "busy" and isinstance(caught.value.__cause__, OperationalError)
    finally:
        other.execute("ROLLBACK")
        other.close()
    with quick.tx() as conn:
        quick._event(conn, None, "test.prepared", SYSTEM, T0)
    assert _count(quick, "test.prepared") == 1
