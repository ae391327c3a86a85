"""Hot statements: SQLAlchemy Core statements compiled once per dialect and run on the DBAPI cursor.

`Connection.execute` costs about 60 µs per statement on SQLite even when its compiled form is
cached (execution context, result metadata, cache key); the same statement on the raw DBAPI cursor
costs about 3 µs. The engine's hot paths (sample ingestion, trigger evaluation, recursion) run a
dozen statements per transaction, so they use `Prepared`: the statement is still written with
SQLAlchemy Core and compiled by the dialect, and its values still pass through the column types'
own bind and result processors (`UTCDateTime`, `JSON`), so what it writes and reads is exactly what
`Connection.execute` would. It runs inside the caller's transaction (the same DBAPI connection).

Limits: parameters are named `bindparam`s (no expanding `IN` lists); rows come back as named tuples.
"""

from __future__ import annotations

import functools
import json
from collections import namedtuple
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, cast

from sqlalchemy import ARRAY, JSON, Connection
from sqlalchemy.engine import Dialect
from sqlalchemy.sql.compiler import SQLCompiler
from sqlalchemy.sql.elements import ClauseElement

from venturegate.core.jsontext import dumps
from venturegate.store.schema import UTCDateTime

Processor = Callable[[Any], Any] | None


class RawJSON:
    """JSON text already encoded, bound to a JSON column as it is (a value that exists only as stored text
    is not decoded to be encoded again). The text must be what the column's serializer would write."""

    __slots__ = ("text",)

    def __init__(self, text: str) -> None:
        self.text = text

    def __repr__(self) -> str:
        return f"RawJSON({self.text!r})"


def _json_binder(fn: Processor, dialect: Dialect) -> Processor:
    """A JSON column's bind processor that also takes `RawJSON` (SQLite stores the text itself)."""
    if fn is None:
        return None
    process = fn
    if dialect.name == "sqlite":
        if getattr(dialect, "_json_serializer", None) is None:  # the column's serializer is `json.dumps`
            # A dict (what the engine binds) as `json.dumps` writes it, without a new encoder per value.
            return lambda value: (
                dumps(value) if type(value) is dict else value.text if type(value) is RawJSON else process(value)
            )
        return lambda value: value.text if type(value) is RawJSON else process(value)
    if dialect.driver == "psycopg":
        from psycopg.types.json import Json  # what the processor wraps values in, here with the text as is

        return lambda value: Json(value.text, str) if type(value) is RawJSON else process(value)
    return lambda value: process(json.loads(value.text)) if type(value) is RawJSON else process(value)


@functools.lru_cache(maxsize=1024)
def _sqlite_utc_read(value: str) -> datetime:
    """`UTCDateTime` read back from SQLite's text (what SQLAlchemy's regex parser returns, faster).

    Memoized: a transaction reads the same few times (its `now`, a visit's entry) over and over.
    """
    return datetime.fromisoformat(value).replace(tzinfo=UTC)


@functools.lru_cache(maxsize=1024)
def _sqlite_utc(value: datetime) -> str:
    """`UTCDateTime` on SQLite: UTC, zone dropped, `YYYY-MM-DD HH:MM:SS.ffffff` like SQLAlchemy's DATETIME.

    Memoized: one transaction binds its `now` many times (equal instants give equal text).
    """
    if value.tzinfo is not UTC:
        if value.tzinfo is None:
            raise ValueError("naive datetime given to the store; pass an aware UTC time")
        value = value.astimezone(UTC)
    return value.replace(tzinfo=None).isoformat(" ", "microseconds")


def _generated(name: str, body: str, namespace: dict[str, Any]) -> Callable[..., Any]:
    """A function of one argument `v` returning `body`, compiled once (like `namedtuple` and `dataclass` do):
    one call per row or parameter set instead of a loop over the columns in Python."""
    # The text holds only indexes and repr()-quoted parameter names, never values.
    exec(f"def {name}(v):\n    return {body}\n", namespace)
    return cast(Callable[..., Any], namespace[name])


def _converted(get: str, i: int, fn: Processor, namespace: dict[str, Any]) -> str:
    """The expression for value `get` through processor `fn` (None stays None, as SQLAlchemy's processors do)."""
    if fn is None:
        return get
    namespace[f"_f{i}"] = fn
    return f"(None if (x{i} := {get}) is None else _f{i}(x{i}))"


def _params_builder(
    names: tuple[str, ...], positional: bool, binders: dict[str, Processor], defaults: dict[str, Any]
) -> Callable[[Mapping[str, Any]], Any]:
    """A function that takes the named parameters out of a mapping (falling back on the statement's literals)
    through their bind processors, as a tuple in statement order or a dict by name."""
    namespace: dict[str, Any] = {}
    exprs = []
    for i, name in enumerate(names):
        get = f"v[{name!r}]"
        if name in defaults:
            namespace[f"_d{i}"] = defaults[name]
            get = f"v.get({name!r}, _d{i})"
        get = _converted(get, i, binders[name], namespace)
        exprs.append(get if positional else f"{name!r}: {get}")
    body = (f"({', '.join(exprs)},)" if exprs else "()") if positional else f"{{{', '.join(exprs)}}}"
    return _generated("params", body, namespace)


def _row_reader(row: Any, readers: Sequence[Processor]) -> Callable[[Sequence[Any]], Any]:
    """A function that makes a named tuple of a driver row, each column through its result processor."""
    if not any(readers):
        return cast(Callable[[Sequence[Any]], Any], row._make)
    namespace: dict[str, Any] = {"_new": tuple.__new__, "_row": row}
    exprs = [_converted(f"v[{i}]", i, fn, namespace) for i, fn in enumerate(readers)]
    return _generated("read", f"_new(_row, ({', '.join(exprs)},))", namespace)


Record = Any
"""A row from `Prepared`: a named tuple whose fields are the statement's column keys (like `Row`'s attributes)."""


@dataclass
class _Compiled:
    sql: str
    names: tuple[str, ...]
    positional: bool
    binders: dict[str, Processor]
    defaults: dict[str, Any]
    params: Callable[[Mapping[str, Any]], Any]  # the driver's parameters, through the bind processors
    row: Any
    columns: tuple[Any, ...]
    read: Callable[[Sequence[Any]], Any] | None = None  # a driver row → a named tuple, through the result
    # processors chosen from the first result's column type codes
    keep_cursor: bool = False  # psycopg: run on the connection's kept cursor (`_KEPT`)


_KEPT = "venturegate.cursor"
"""psycopg: the key, in the pool's `info` of a driver connection, of the one cursor every `Prepared` statement on
that connection uses. A new psycopg cursor (its adapters map, its state) costs about a third of a one-row
statement's client CPU; sqlite3's cost nothing. The pool drops `info` with its connection (so a closed
connection's cursor goes with it); a connection serves one thread at a time, and each statement reads its rows
in full before the next one runs."""


class Prepared:
    """A statement compiled once per dialect; `run`, `first`, `scalar`, `all` and `many` execute it fast."""

    def __init__(self, statement: ClauseElement, row: type[tuple[Any, ...]] | None = None) -> None:
        """`row`: a named tuple class for the rows (its fields the statement's columns, in order), e.g. a typed one."""
        self.statement = statement
        self.row_type = row
        self._compiled: dict[str, _Compiled] = {}

    def _compile(self, dialect: Dialect) -> _Compiled:
        found = self._compiled.get(dialect.name)
        if found is not None:
            return found
        compiled = cast(SQLCompiler, self.statement.compile(dialect=dialect))
        positional = bool(compiled.positional)
        names = tuple(compiled.positiontup or ()) if positional else tuple(compiled.binds)
        binders: dict[str, Processor] = {}
        defaults: dict[str, Any] = {}
        for name in set(names):
            bind = compiled.binds[name]
            if dialect.name == "sqlite" and isinstance(bind.type, UTCDateTime):
                binders[name] = _sqlite_utc  # the same text SQLAlchemy writes, without its %-formatting
            else:
                binders[name] = bind.type.dialect_impl(dialect).bind_processor(dialect)
                if isinstance(bind.type, JSON):
                    binders[name] = _json_binder(binders[name], dialect)
            if not bind.required:
                defaults[name] = bind.effective_value  # a literal written into the statement
        # Columns with a Python-side default that the statement leaves out: SQLAlchemy computes them at
        # execution ("prefetch"); here a scalar default is a fixed parameter, and a callable one an error.
        for col, kind in [(c, "default") for c in compiled.insert_prefetch] + [
            (c, "onupdate") for c in compiled.update_prefetch
        ]:
            default = getattr(col, kind)
            if default is None or not default.is_scalar:
                raise TypeError(f"Prepared cannot compute the {kind} of column {col.key!r}; pass it explicitly")
            if col.key in binders:
                defaults[col.key] = default.arg
        sql = compiled.string
        if dialect.driver == "psycopg":
            # Arrays go in psycopg's binary format: its text format escapes every element through a regex (a
            # 1,000-sample batch's string arrays cost 17 ms of client CPU that way, under 1 ms in binary).
            for name in names:
                if isinstance(compiled.binds[name].type, ARRAY):
                    sql = sql.replace(f"%({name})s", f"%({name})b")
        columns = tuple(getattr(self.statement, "exported_columns", ()))
        row = self.row_type or (namedtuple("Row", [c.key for c in columns], rename=True) if columns else None)
        found = self._compiled[dialect.name] = _Compiled(
            sql,
            names,
            positional,
            binders,
            defaults,
            _params_builder(names, positional, binders, defaults),
            row,
            columns,
            keep_cursor=dialect.driver == "psycopg",
        )
        return found

    @staticmethod
    def _cursor(conn: Connection, c: _Compiled) -> Any:
        # `dbapi_connection` is the driver's own connection for sync drivers (sqlite3, psycopg), one
        # property lookup fewer than `driver_connection`.
        pooled = conn.connection
        driver: Any = pooled.dbapi_connection
        if not c.keep_cursor:
            return driver.cursor()
        info = pooled.info
        cur = info.get(_KEPT)
        if cur is None or cur.closed or cur.connection is not driver:
            cur = info[_KEPT] = driver.cursor()
        return cur

    @staticmethod
    def _rows(c: _Compiled, dialect: Dialect, cur: Any, raw: Iterable[Sequence[Any]]) -> list[Any]:
        read = c.read
        if read is None:
            # Result processors may depend on the driver's type code of each column (PostgreSQL numerics).
            each = [
                _sqlite_utc_read
                if dialect.name == "sqlite" and isinstance(col.type, UTCDateTime)
                else col.type.dialect_impl(dialect).result_processor(dialect, desc[1])
                for col, desc in zip(c.columns, cur.description, strict=True)
            ]
            read = c.read = _row_reader(c.row, each)
        return list(map(read, raw))

    def run(self, conn: Connection, values: Mapping[str, Any] | None = None) -> int:
        """Execute a statement that returns no rows; returns the affected row count."""
        c = self._compile(conn.dialect)
        cur = self._cursor(conn, c)
        try:
            cur.execute(c.sql, c.params(values or {}))
            return int(cur.rowcount)
        finally:
            if not c.keep_cursor:
                cur.close()

    def many_returned(self, conn: Connection, values: Sequence[Mapping[str, Any]]) -> list[bool]:
        """Execute once per parameter set; for each, whether it returned a row (PostgreSQL: `executemany` with
        `returning=True`; an `INSERT … ON CONFLICT DO NOTHING RETURNING …` says so which rows went in)."""
        if not values:
            return []
        if conn.dialect.name != "postgresql":
            raise NotImplementedError("many_returned needs PostgreSQL (psycopg's executemany with returning)")
        c = self._compile(conn.dialect)
        if len(values) == 1:  # psycopg's executemany enters pipeline mode: more work than one execute
            return [bool(self.all(conn, values[0]))]
        params = [c.params(v) for v in values]
        cur = self._cursor(conn, c)
        try:
            cur.executemany(c.sql, params, returning=True)
            got: list[bool] = []
            while True:
                got.append(bool(cur.fetchall()))
                if not cur.nextset():
                    break
            return got
        finally:
            if not c.keep_cursor:
                cur.close()

    def all(self, conn: Connection, values: Mapping[str, Any] | None = None) -> list[Record]:
        """Every row, as named tuples."""
        c = self._compile(conn.dialect)
        cur = self._cursor(conn, c)
        try:
            cur.execute(c.sql, c.params(values or {}))
            return self._rows(c, conn.dialect, cur, cur.fetchall())
        finally:
            if not c.keep_cursor:
                cur.close()

    def first(self, conn: Connection, values: Mapping[str, Any] | None = None) -> Record | None:
        """The first row, or None."""
        rows = self.all(conn, values)
        return rows[0] if rows else None

    def one(self, conn: Connection, values: Mapping[str, Any] | None = None) -> Record:
        """The first row (the statement must return a row, e.g. an INSERT … RETURNING)."""
        rows = self.all(conn, values)
        if not rows:
            raise LookupError("the statement returned no row")
        return rows[0]

    def scalar(self, conn: Connection, values: Mapping[str, Any] | None = None) -> Any:
        """The first column of the first row (the statement must return a row)."""
        rows = self.all(conn, values)
        if not rows:
            raise LookupError("the statement returned no row")
        return rows[0][0]

    def many(self, conn: Connection, values: Sequence[Mapping[str, Any]]) -> None:
        """Execute once per parameter set (the driver's `executemany`)."""
        if not values:
            return
        if len(values) == 1:  # psycopg's executemany enters pipeline mode: more work than one execute
            self.run(conn, values[0])
            return
        c = self._compile(conn.dialect)
        params = map(c.params, values)
        cur = self._cursor(conn, c)
        try:
            cur.executemany(c.sql, params)
        finally:
            if not c.keep_cursor:
                cur.close()


def run_together(conn: Connection, *calls: tuple[Prepared, Mapping[str, Any]]) -> list[list[Record]]:
    """Run row-returning statements in order; each one's rows. On PostgreSQL they go in one round trip
    (psycopg's pipeline mode): the server still runs each after the one before, each with its own snapshot."""
    if conn.dialect.name != "postgresql" or len(calls) < 2:
        return [p.all(conn, v) for p, v in calls]
    driver: Any = conn.connection.dbapi_connection
    compiled = [p._compile(conn.dialect) for p, _ in calls]
    cursors = [driver.cursor() for _ in calls]
    try:
        with driver.pipeline():
            for cur, c, (_, values) in zip(cursors, compiled, calls, strict=True):
                cur.execute(c.sql, c.params(values))
            fetched = [cur.fetchall() for cur in cursors]
        return [
            Prepared._rows(c, conn.dialect, cur, raw) for c, cur, raw in zip(compiled, cursors, fetched, strict=True)
        ]
    finally:
        for cur in cursors:
            cur.close()
