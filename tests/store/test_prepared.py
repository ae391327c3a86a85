"""`Prepared` statements write and read exactly what SQLAlchemy's own execution does, on both backends."""

from __future__ import annotations

import gc
import json
import weakref
from datetime import UTC, datetime, timedelta, timezone

import pytest
from sqlalchemy import Text, bindparam, cast, create_engine, insert, select, update

from venturegate.store.database import connect, ensure_schema
from venturegate.store.prepared import Prepared, RawJSON
from venturegate.store.schema import events

COLUMNS = ("venture_id", "kind", "actor", "actor_role", "actor_kind", "at", "stage", "substage", "reason", "data")
INSERT = Prepared(insert(events).values({c: bindparam(c) for c in COLUMNS}).returning(events.c.id))
BY_ID = Prepared(select(events).where(events.c.id == bindparam("id")))
BY_KIND = Prepared(select(events.c.id).where(events.c.kind == "fixed", events.c.stage == bindparam("stage")))
RENAME = Prepared(update(events).where(events.c.kind == bindparam("old")).values(kind=bindparam("new")))


def _values(at: datetime, data: object, kind: str = "k", stage: int | None = None) -> dict[str, object]:
    return {
        "venture_id": None,
        "kind": kind,
        "actor": "a",
        "actor_role": None,
        "actor_kind": "human",
        "at": at,
        "stage": stage,
        "substage": None,
        "reason": "",
        "data": data,
    }


@pytest.mark.parametrize(
    "at",
    [
        datetime(2026, 1, 1, tzinfo=UTC),
        datetime(2026, 5, 3, 4, 5, 6, 7, tzinfo=timezone(timedelta(hours=3))),
    ],
)
def test_round_trip_matches_sqlalchemy(db_url: str, at: datetime) -> None:
    db = connect(db_url)
    ensure_schema(db)
    data = {"a": [1, 2.5, None], "b": "ü"}
    with db.begin() as conn:
        fast_id = INSERT.scalar(conn, _values(at, data))
        slow_id = conn.execute(insert(events).values(_values(at, data)).returning(events.c.id)).scalar_one()
        for ident in (fast_id, slow_id):
            fast = BY_ID.first(conn, {"id": ident})
            assert fast is not None
            slow = conn.execute(select(events).where(events.c.id == ident)).one()
            assert tuple(fast) == tuple(slow)
            assert fast.at == at and fast.at.tzinfo is not None
            assert fast.data == data
        assert BY_ID.first(conn, {"id": -1}) is None
    db.dispose()


def test_literals_many_and_rowcount(db_url: str) -> None:
    db = connect(db_url)
    ensure_schema(db)
    at = datetime(2026, 1, 1, tzinfo=UTC)
    with db.begin() as conn:
        INSERT.many(conn, [_values(at, None, "fixed", 2), _values(at, None, "fixed", 3), _values(at, None, "x", 2)])
        assert [r.id for r in BY_KIND.all(conn, {"stage": 2})] == [1]
        assert RENAME.run(conn, {"old": "fixed", "new": "renamed"}) == 2
        assert BY_KIND.all(conn, {"stage": 2}) == []
        with pytest.raises(LookupError):
            BY_KIND.scalar(conn, {"stage": 3})
    db.dispose()


def test_naive_datetimes_are_refused(db_url: str) -> None:
    db = connect(db_url)
    ensure_schema(db)
    with db.begin() as conn, pytest.raises(Exception, match="naive datetime"):
        INSERT.scalar(conn, _values(datetime(2026, 1, 1), None))
    db.dispose()


def test_python_side_defaults_apply(db_url: str) -> None:
    """Columns left out of a prepared insert get their scalar `default=` like SQLAlchemy's own execution."""
    db = connect(db_url)
    ensure_schema(db)
    at = datetime(2026, 1, 1, tzinfo=UTC)
    without_reason = Prepared(
        insert(events).values({c: bindparam(c) for c in COLUMNS if c != "reason"}).returning(events.c.reason)
    )
    with db.begin() as conn:
        values = _values(at, None)
        del values["reason"]
        assert without_reason.scalar(conn, values) == ""
    db.dispose()


def test_one_returns_the_row_or_refuses_none(db_url: str) -> None:
    db = connect(db_url)
    ensure_schema(db)
    at = datetime(2026, 1, 1, tzinfo=UTC)
    returning = Prepared(insert(events).values({c: bindparam(c) for c in COLUMNS}).returning(events.c.id, events.c.at))
    with db.begin() as conn:
        row = returning.one(conn, _values(at, None))
        assert row.at == at and BY_ID.one(conn, {"id": row.id}).id == row.id
        with pytest.raises(LookupError):
            BY_ID.one(conn, {"id": -1})
    db.dispose()


def test_equal_instants_bind_the_same_text_whichever_zone(db_url: str) -> None:
    """Binding is memoized per value; an instant given in another zone is still stored as its UTC time."""
    db = connect(db_url)
    ensure_schema(db)
    utc = datetime(2026, 5, 3, 1, 5, 6, 7, tzinfo=UTC)
    with db.begin() as conn:
        ids = [INSERT.scalar(conn, _values(t, None)) for t in (utc, utc.astimezone(timezone(timedelta(hours=3))), utc)]
        assert {BY_ID.one(conn, {"id": i}).at for i in ids} == {utc}
        with pytest.raises(Exception, match="naive datetime"):
            INSERT.scalar(conn, _values(utc.replace(tzinfo=None), None))
    db.dispose()


def test_raw_json_stores_the_text_the_serializer_would(db_url: str) -> None:
    db = connect(db_url)
    ensure_schema(db)
    data = {"a": [1, 2.5, None], "b": "ü", "c": {"d": True}}
    at = datetime(2026, 1, 1, tzinfo=UTC)
    with db.begin() as conn:
        raw_id = INSERT.scalar(conn, _values(at, RawJSON(json.dumps(data))))
        plain_id = INSERT.scalar(conn, _values(at, data))
        texts = conn.execute(
            select(cast(events.c.data, Text)).where(events.c.id.in_([raw_id, plain_id])).order_by(events.c.id)
        ).scalars()
        assert len(set(texts)) == 1  # the same stored text
        assert BY_ID.one(conn, {"id": raw_id}).data == data
    db.dispose()


def test_a_failed_statement_leaves_the_connection_and_its_kept_cursor_usable(db_url: str) -> None:
    # On PostgreSQL every Prepared statement of a connection runs on one kept cursor: a statement that failed
    # (here a NOT NULL violation) must not spoil the next transaction on the same connection.
    db = connect(db_url)
    ensure_schema(db)
    at = datetime(2026, 1, 1, tzinfo=UTC)
    with db.connect() as conn:
        with pytest.raises(Exception, match=r"(?i)null"), conn.begin():
            INSERT.scalar(conn, {**_values(at, None), "kind": None})
        with conn.begin():
            ident = INSERT.scalar(conn, _values(at, {"n": 1}))
            assert BY_ID.one(conn, {"id": ident}).data == {"n": 1}
            assert [r.id for r in BY_KIND.all(conn, {"stage": None})] == []  # a statement with no row, then more
            assert RENAME.run(conn, {"old": "k", "new": "k2"}) == 1
    db.dispose()


@pytest.mark.parametrize("db_url", ["postgresql"], indirect=True)  # sqlite3 cursors are not kept
def test_connections_the_pool_closed_are_not_kept_alive_by_their_cursor(db_url: str) -> None:
    # The kept psycopg cursor lives in the pool's `info` of its connection: a connection the pool closes (an
    # overflow one returned, an invalidated one) is freed with its cursor, not held forever.
    db = create_engine(db_url, pool_size=1, max_overflow=4)
    ensure_schema(db)
    conns = [db.connect() for _ in range(5)]
    alive = []
    for conn in conns:
        assert BY_ID.all(conn, {"id": -1}) == [] and BY_ID.all(conn, {"id": -2}) == []
        alive.append(weakref.ref(conn.connection.dbapi_connection))
    for conn in conns:
        conn.close()
    gc.collect()
    assert sum(ref() is not None for ref in alive) <= 1  # the one the pool keeps
    db.dispose()
