"""Connecting to the store: the SQLite settings, opening beside a writer, a database that cannot be reached."""

from __future__ import annotations

import sqlite3
import time
from pathlib import Path

import pytest
from sqlalchemy import text

from tests.conftest import MINI
from venturegate.definitions.loader import load_workflow
from venturegate.engine import Engine, StoreUnavailable
from venturegate.store.database import NEW_PAGE_SIZE, WAL_CHECKPOINT_BYTES, connect, ensure_schema


def test_sqlite_connections_use_wal_with_a_larger_checkpoint_interval(tmp_path: Path) -> None:
    db = connect(f"sqlite:///{tmp_path / 'vg.db'}")
    with db.connect() as conn:
        names = ("journal_mode", "synchronous", "wal_autocheckpoint")
        pragma = {p: conn.execute(text(f"PRAGMA {p}")).scalar() for p in names}
    db.dispose()
    pages = WAL_CHECKPOINT_BYTES // NEW_PAGE_SIZE
    assert pragma == {"journal_mode": "wal", "synchronous": 1, "wal_autocheckpoint": pages}


def test_a_new_sqlite_file_gets_small_pages_and_an_existing_one_keeps_its_own(tmp_path: Path) -> None:
    old = tmp_path / "old.db"
    with sqlite3.connect(old) as raw:
        raw.execute("PRAGMA page_size=4096")
        raw.execute("CREATE TABLE t (x INTEGER)")
    raw.close()
    sizes, checkpoint = {}, {}
    for name in ("new.db", "old.db"):
        db = connect(f"sqlite:///{tmp_path / name}")
        if name == "new.db":
            ensure_schema(db)
        with db.connect() as conn:
            sizes[name] = conn.execute(text("PRAGMA page_size")).scalar()
            checkpoint[name] = conn.execute(text("PRAGMA wal_autocheckpoint")).scalar()
        db.dispose()
    assert sizes == {"new.db": NEW_PAGE_SIZE, "old.db": 4096}
    assert checkpoint == {"new.db": WAL_CHECKPOINT_BYTES // NEW_PAGE_SIZE, "old.db": WAL_CHECKPOINT_BYTES // 4096}


def test_opening_a_sqlite_store_does_not_wait_for_a_writer(tmp_path: Path) -> None:
    path = tmp_path / "vg.db"
    db = connect(f"sqlite:///{path}")
    ensure_schema(db)
    db.dispose()
    other = sqlite3.connect(path, isolation_level=None)
    other.execute("BEGIN IMMEDIATE")  # another process is writing
    try:
        db = connect(f"sqlite:///{path}")
        started = time.monotonic()
        ensure_schema(db)  # reads the schema revision without asking for the write lock
        assert time.monotonic() - started < 1.0
        db.dispose()
    finally:
        other.rollback()
        other.close()


def test_a_database_that_cannot_be_reached_is_store_unavailable() -> None:
    db = connect("postgresql+psycopg://postgres@127.0.0.1:1/venturegate?connect_timeout=2")  # nothing listens
    eng = Engine(db, load_workflow(MINI))
    try:
        with pytest.raises(StoreUnavailable, match="could not be reached") as caught, eng.tx():
            pass
        assert caught.value.committed is False
    finally:
        db.dispose()
