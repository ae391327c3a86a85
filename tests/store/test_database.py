"""Connection settings of the SQLite store."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import text

from venturegate.store.database import WAL_CHECKPOINT_PAGES, connect


def test_sqlite_connections_use_wal_with_a_larger_checkpoint_interval(tmp_path: Path) -> None:
    db = connect(f"sqlite:///{tmp_path / 'vg.db'}")
    with db.connect() as conn:
        names = ("journal_mode", "synchronous", "wal_autocheckpoint")
        pragma = {p: conn.execute(text(f"PRAGMA {p}")).scalar() for p in names}
    db.dispose()
    assert pragma == {"journal_mode": "wal", "synchronous": 1, "wal_autocheckpoint": WAL_CHECKPOINT_PAGES}
