"""Connection settings of the SQLite store."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from sqlalchemy import text

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
