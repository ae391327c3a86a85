"""Window reads are answered from the covering sample index alone, in order, on both backends (issue 21, item 4)."""

from __future__ import annotations

from datetime import timedelta
from typing import Any, cast

import pytest
from sqlalchemy import Connection, inspect
from sqlalchemy.sql.compiler import SQLCompiler

from tests.conftest import T0
from venturegate.store.database import connect, ensure_schema
from venturegate.store.prepared import Prepared
from venturegate.store.windows import _FIRST_ONE as _FIRST
from venturegate.store.windows import _LAST_ONE as _LAST
from venturegate.store.windows import _LATEST_ONE as _LATEST
from venturegate.store.windows import _NEWEST_ONE as _NEWEST
from venturegate.store.windows import _STATS_ONE as _STATS

WINDOW = {"vid": 1, "metric": "quality", "start": T0 - timedelta(days=7), "end": T0, "now": T0, "limit": 10}


def _plan(conn: Connection, prepared: Prepared) -> str:
    """The backend's plan of one of the store's statements."""
    compiled = cast(SQLCompiler, prepared.statement.compile(dialect=conn.dialect))
    params = compiled.construct_params(WINDOW)
    args: Any = tuple(params[k] for k in compiled.positiontup or ()) if compiled.positional else params
    pg = conn.dialect.name == "postgresql"
    rows = conn.exec_driver_sql(("EXPLAIN (COSTS OFF) " if pg else "EXPLAIN QUERY PLAN ") + compiled.string, args)
    return "\n".join(str(r[0] if pg else r[-1]) for r in rows)


def test_the_window_index_carries_every_column_a_window_read_names(db_url: str) -> None:
    db = connect(db_url)
    ensure_schema(db)
    index = next(i for i in inspect(db).get_indexes("samples") if i["name"] == "ix_samples_venture_metric_at")
    db.dispose()
    assert index["column_names"] == ["venture_id", "metric", "at", "id", "value"]


@pytest.mark.parametrize(
    "read", [_STATS, _FIRST, _LAST, _NEWEST, _LATEST], ids=["stats", "first", "last", "newest", "latest"]
)
def test_window_reads_come_from_the_index_alone_without_a_sort(db_url: str, read: Prepared) -> None:
    db = connect(db_url)
    ensure_schema(db)
    with db.connect() as conn:
        if conn.dialect.name == "postgresql":
            # An empty table: make the planner show the plan it uses on a large one (no heap, no bitmap).
            conn.exec_driver_sql("SET enable_seqscan = off")
            conn.exec_driver_sql("SET enable_bitmapscan = off")
            plan = _plan(conn, read)
            assert "Index Only Scan" in plan and "ix_samples_venture_metric_at" in plan, plan
        else:
            plan = _plan(conn, read)
            assert "USING COVERING INDEX ix_samples_venture_metric_at" in plan, plan
            assert "TEMP B-TREE" not in plan, plan
        assert "Sort" not in plan, plan
    db.dispose()
