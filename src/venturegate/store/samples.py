"""Metric samples in the store: inserted in bulk, idempotent by key on both backends; read back as typed rows.

Window reads for conditions live in `store.windows`; this module writes samples and serves the listings.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, NamedTuple

from sqlalchemy import BigInteger, Connection, String, bindparam, column, func, select, text
from sqlalchemy.dialects import postgresql, sqlite

from venturegate.store.arrays import unnest_arrays
from venturegate.store.prepared import Prepared
from venturegate.store.schema import samples


class SampleRow(NamedTuple):
    """A `samples` row, typed (the column order of `select(samples)`)."""

    id: int
    venture_id: int
    metric: str
    value: float
    at: datetime
    sample_key: str | None
    actor: str
    recorded_at: datetime


class SampleValue(NamedTuple):
    """A sample's time and value."""

    at: datetime
    value: float


class _KeyRow(NamedTuple):
    venture_id: int
    sample_key: str


ARRAY_INSERT_FROM = 8
"""PostgreSQL: batches of at least this many rows go in as one statement over arrays (`_INSERT_ARRAYS`); smaller
ones row by row in one pipelined round trip (a one-sample call keeps its cheap prepared statement)."""
_COLUMNS = ("venture_id", "metric", "value", "at", "sample_key", "actor", "recorded_at")
_INSERT = {
    # A concurrent batch carrying the same key loses quietly instead of failing the whole batch.
    d.__name__.rsplit(".", 1)[-1]: Prepared(
        d.insert(samples)
        .values({c: bindparam(c) for c in _COLUMNS})
        .on_conflict_do_nothing(
            index_elements=["venture_id", "sample_key"], index_where=samples.c.sample_key.is_not(None)
        )
    )
    for d in (sqlite, postgresql)
}
_INSERT_RETURNING = Prepared(
    postgresql.insert(samples)
    .values({c: bindparam(c) for c in _COLUMNS})
    .on_conflict_do_nothing(index_elements=["venture_id", "sample_key"], index_where=samples.c.sample_key.is_not(None))
    .returning(samples.c.id)
)
"""PostgreSQL: each row says whether it went in (a duplicate key returns nothing), in one pipelined executemany."""
_UNNEST, _ARRAY_BINDS = unnest_arrays({c: samples.c[c].type for c in _COLUMNS})
_INSERT_ARRAYS = Prepared(
    text(
        f"INSERT INTO samples ({', '.join(_COLUMNS)}) SELECT {', '.join(f'u.{c}' for c in _COLUMNS)} "
        f"FROM {_UNNEST} WITH ORDINALITY AS u({', '.join(_COLUMNS)}, n) ORDER BY u.n "
        "ON CONFLICT (venture_id, sample_key) WHERE sample_key IS NOT NULL DO NOTHING "
        "RETURNING samples.venture_id, samples.sample_key"
    )
    .bindparams(*_ARRAY_BINDS)
    .columns(column("venture_id", BigInteger), column("sample_key", String)),
    _KeyRow,
)
"""PostgreSQL: a whole batch in one statement, its columns bound as arrays (in the batch's order, so ids follow
it); returns the (venture, key) of every row that went in (unkeyed rows with a None key)."""
_LAST_ID = Prepared(select(func.max(samples.c.id)))
_KEYS_SINCE = Prepared(
    select(samples.c.venture_id, samples.c.sample_key).where(
        samples.c.id > bindparam("after"), samples.c.sample_key.is_not(None)
    ),
    _KeyRow,
)


def insert_samples(conn: Connection, rows: list[dict[str, Any]]) -> tuple[list[dict[str, Any]], set[tuple[int, str]]]:
    """Insert the rows (`_COLUMNS` each) whose (venture, key) is new; returns the rows inserted and the
    (venture, key) pairs that were there already."""
    keyed = [(r["venture_id"], r["sample_key"]) for r in rows if r["sample_key"] is not None]
    existing: set[tuple[int, str]] = set()
    if conn.dialect.name == "postgresql":
        # No pre-check: the insert itself says which rows went in, whatever plan PostgreSQL would have
        # picked for a lookup (a generic plan made while the table was small scanned it whole).
        if len(rows) < ARRAY_INSERT_FROM:
            if keyed:
                went_in = _INSERT_RETURNING.many_returned(conn, rows)
                existing = {(r["venture_id"], r["sample_key"]) for r, ok in zip(rows, went_in, strict=True) if not ok}
                rows = [r for r, ok in zip(rows, went_in, strict=True) if ok]
            else:
                _INSERT["postgresql"].many(conn, rows)
            return rows, existing
        went = _INSERT_ARRAYS.all(conn, {c: [r[c] for r in rows] for c in _COLUMNS})
        if keyed:
            existing = set(keyed) - {(r.venture_id, r.sample_key) for r in went if r.sample_key is not None}
            if existing:
                rows = [r for r in rows if (r["venture_id"], r["sample_key"]) not in existing]
        return rows, existing
    # SQLite writers are serialized (BEGIN IMMEDIATE): every row after the current last id is ours,
    # so the keyed rows that did not appear there were duplicates. No pre-check in the common case.
    before = (_LAST_ID.scalar(conn) or 0) if keyed else 0
    _INSERT["sqlite"].many(conn, rows)
    if keyed:
        mine: set[tuple[int, str]] = set(_KEYS_SINCE.all(conn, {"after": before}))
        existing = set(keyed) - mine
        rows = [r for r in rows if (r["venture_id"], r["sample_key"]) not in existing]
    return rows, existing


def sample_values(
    conn: Connection, venture_id: int, metric: str, since: datetime, until: datetime, limit: int
) -> list[SampleValue]:
    """The newest `limit` samples of a metric with since < at <= until, newest first."""
    rows = conn.execute(
        select(samples.c.at, samples.c.value)
        .where(
            samples.c.venture_id == venture_id,
            samples.c.metric == metric,
            samples.c.at > since,
            samples.c.at <= until,
        )
        .order_by(samples.c.at.desc(), samples.c.id.desc())
        .limit(limit)
    )
    return [SampleValue._make(r) for r in rows]


def sample_rows(
    conn: Connection,
    venture_id: int,
    metric: str | None,
    since: datetime | None,
    key: str | None,
    limit: int,
) -> list[SampleRow]:
    """A venture's stored samples, newest first: of one metric, after `since`, or the one with `key`."""
    query = select(samples).where(samples.c.venture_id == venture_id)
    if metric is not None:
        query = query.where(samples.c.metric == metric)
    if since is not None:
        query = query.where(samples.c.at > since)
    if key is not None:
        query = query.where(samples.c.sample_key == key)
    rows = conn.execute(query.order_by(samples.c.at.desc(), samples.c.id.desc()).limit(limit))
    return [SampleRow._make(r) for r in rows]


def latest_value(conn: Connection, venture_id: int, metric: str) -> SampleValue | None:
    """The newest sample of a metric (any time), or None."""
    found = conn.execute(
        select(samples.c.at, samples.c.value)
        .where(samples.c.venture_id == venture_id, samples.c.metric == metric)
        .order_by(samples.c.at.desc(), samples.c.id.desc())
        .limit(1)
    ).first()
    return None if found is None else SampleValue._make(found)
