"""Transaction control for both backends, and the driver's errors as the engine's own.

`Transactions.begin` is the one transaction the engine opens (`Engine.tx`): everything in it commits together
or not at all. On SQLite each thread keeps its connection between transactions (a pool checkout and return cost
three times as much as the transaction itself) and runs `BEGIN IMMEDIATE` and `COMMIT` on the driver: most
transactions execute only `Prepared` statements, and SQLAlchemy's transaction object cost twice the driver's own
begin and commit. A Core statement in the body makes SQLAlchemy join the open transaction (the dialect's begin
hook in `store.database`); it then commits or rolls back through SQLAlchemy, with its events.

Driver errors leave as the engine's errors, whichever process (CLI, API, worker) runs the transaction:
a collision with another transaction (`store.collisions`) as `Collision`; a lost connection (the server
terminated the backend, a network cut, a failover) as `StoreUnavailable`, which says whether the commit was in
flight (then the outcome is unknown). `retry_lost` runs an operation once more when its connection was lost
before anything of it committed.
"""

from __future__ import annotations

import logging
import sqlite3
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import TYPE_CHECKING, TypeVar

from sqlalchemy import Connection, Engine
from sqlalchemy.exc import DBAPIError, StatementError

from venturegate.store.collisions import TRANSIENT, collision, describe
from venturegate.store.database import begin_immediate

if TYPE_CHECKING:
    from venturegate.engine.exceptions import StoreUnavailable

log = logging.getLogger("venturegate.store")
R = TypeVar("R")

RETRY_AFTER_SECONDS = 1
"""What a caller told that the database is unavailable should wait before it tries again."""


def _driver_error(statement: str, exc: sqlite3.Error) -> StatementError:
    """The driver's error as SQLAlchemy would raise it (callers catch `sqlalchemy.exc.OperationalError`)."""
    return DBAPIError.instance(statement, None, exc, sqlite3.Error)


def sqlite_begin(driver: sqlite3.Connection) -> None:
    """`BEGIN IMMEDIATE` on SQLite's driver connection (`begin_immediate`), errors raised as SQLAlchemy's."""
    try:
        begin_immediate(driver)
    except sqlite3.Error as exc:
        raise _driver_error("BEGIN IMMEDIATE", exc) from exc


def sqlite_end(driver: sqlite3.Connection, commit: bool) -> None:
    """Commit (or roll back) what `sqlite_begin` started; a failed commit rolls back before it raises."""
    try:
        if commit:
            driver.commit()
            return
        driver.rollback()
    except sqlite3.Error as exc:
        if commit and driver.in_transaction:
            driver.rollback()
        raise _driver_error("COMMIT" if commit else "ROLLBACK", exc) from exc


class Attempt:
    """One run of an operation (a command, a request): how many transactions committed during it, and whether it
    is already the run again after a lost connection (see `retryable`)."""

    __slots__ = ("again", "commits")

    def __init__(self, again: bool = False) -> None:
        self.commits = 0
        self.again = again


_ATTEMPT: ContextVar[Attempt | None] = ContextVar("venturegate_attempt", default=None)
"""The attempt the current context runs in (a context variable: an API request's sync route runs in a worker
thread with a copy of the request's context, which still points at the same `Attempt`)."""


@contextmanager
def attempt(again: bool = False) -> Iterator[Attempt]:
    """Count the transactions that commit in this block (this context and the threads it hands work to)."""
    current = Attempt(again)
    token = _ATTEMPT.set(current)
    try:
        yield current
    finally:
        _ATTEMPT.reset(token)


def retryable(exc: StoreUnavailable) -> bool:
    """Whether the operation that raised `exc` may run once more: its connection was lost before the commit, no
    transaction of it had committed (so it is as if it never ran), and it is not already the second run."""
    current = _ATTEMPT.get()
    return exc.committed is False and current is not None and not current.commits and not current.again


class _Held(threading.local):
    """Per thread on SQLite: the held connection and whether a transaction is open on it."""

    conn: Connection | None = None
    open = False


class Transactions:
    """The engine's transactions on `db`; `ended(conn)` runs as each one is about to commit or roll back."""

    def __init__(self, db: Engine, ended: Callable[[Connection], None]) -> None:
        self.db = db
        self.ended = ended
        self._local = _Held()
        self.begin = self._sqlite if db.dialect.name == "sqlite" else self._pooled
        """One transaction; everything in it commits together or not at all (driver errors translated)."""

    @contextmanager
    def _pooled(self) -> Iterator[Connection]:
        """A transaction on a pooled connection (PostgreSQL, and a nested transaction on SQLite)."""
        reached = committing = dropped = False
        try:
            conn = self.db.connect()  # the pool pings it first: a connection that died idle is replaced here
            reached = True
            try:
                trans = conn.begin()
                try:
                    yield conn
                except BaseException:
                    self.ended(conn)
                    _rollback(conn)
                    raise
                self.ended(conn)
                committing = True
                trans.commit()
            finally:
                dropped = conn.invalidated
                conn.close()
        except Exception as exc:
            translated = _translated(exc, self.db, reached=reached, committing=committing, dropped=dropped)
            if translated is None:
                raise
            raise translated from exc
        _count_commit()

    @contextmanager
    def _sqlite(self) -> Iterator[Connection]:
        """A transaction on this thread's held connection, begun and ended on the driver (module doc)."""
        local = self._local
        held = local.conn
        if held is not None and (local.open or held.in_transaction()):  # a nested call gets its own connection
            with self._pooled() as conn:
                yield conn
            return
        try:
            if held is None or held.closed or held.invalidated:
                held = local.conn = self.db.connect()
            driver = held.connection.dbapi_connection
            sqlite_begin(driver)  # type: ignore[arg-type]
            local.open = True
            try:
                yield held
            except BaseException:
                local.open = False
                self.ended(held)
                if held.in_transaction():
                    held.rollback()
                else:
                    sqlite_end(driver, commit=False)  # type: ignore[arg-type]
                raise
            local.open = False
            self.ended(held)
            if held.in_transaction():
                held.commit()
            else:
                sqlite_end(driver, commit=True)  # type: ignore[arg-type]
        except Exception as exc:
            translated = _translated(exc, self.db)
            if translated is None:
                raise
            raise translated from exc
        _count_commit()


def _count_commit() -> None:
    current = _ATTEMPT.get()
    if current is not None:
        current.commits += 1


def _rollback(conn: Connection) -> None:
    """Roll back; on a connection that is already lost there is nothing to roll back (the server did)."""
    try:
        conn.rollback()
    except DBAPIError as exc:
        if not exc.connection_invalidated:
            raise


def lost(exc: BaseException, db: Engine) -> bool:
    """Whether `exc` says the connection to the database was lost (SQLAlchemy's wrapper, or the driver's own
    error, which the compiled statements of `store.prepared` raise)."""
    if isinstance(exc, DBAPIError) and exc.connection_invalidated:
        return True
    orig = exc.orig if isinstance(exc, DBAPIError) else exc
    if db.dialect.name == "sqlite" or not isinstance(orig, db.dialect.loaded_dbapi.Error):
        return False
    pgconn = getattr(orig, "pgconn", None)  # psycopg: the libpq connection the error came from, when known
    return pgconn is not None and pgconn.status != _CONNECTION_OK


_CONNECTION_OK = 0
"""libpq's `CONNECTION_OK`: any other status is a connection that can no longer be used."""


def _translated(
    exc: Exception, db: Engine, *, reached: bool = True, committing: bool = False, dropped: bool = False
) -> Exception | None:
    """The engine's error for a driver error, or None when it is neither a collision nor a lost connection.

    `reached`: a connection was checked out; `committing`: the commit was in flight; `dropped`: SQLAlchemy
    invalidated the connection while the transaction ended (a lost connection the driver's error did not name).
    """
    from venturegate.engine.exceptions import Collision, StoreUnavailable

    kind = collision(exc)
    if kind is not None:
        return Collision(describe(kind, exc), kind, kind in TRANSIENT)
    if not isinstance(exc, DBAPIError | db.dialect.loaded_dbapi.Error):
        return None
    if not reached and db.dialect.name != "sqlite" and isinstance(exc, DBAPIError):
        first = str(exc.orig).strip().splitlines()[0] if str(exc.orig).strip() else type(exc.orig).__name__
        return StoreUnavailable(f"the database could not be reached ({first}); nothing was changed, retry", False)
    if not (dropped or lost(exc, db)):
        return None
    if committing:
        return StoreUnavailable(
            "the database connection was lost while the transaction committed: it may or may not have been "
            "saved; check before you retry",
            None,
        )
    return StoreUnavailable("the database connection was lost; nothing was changed, retry", False)


def retry_lost(call: Callable[[], R]) -> R:
    """`call()`, run once more when it raised `StoreUnavailable` and `retryable` says that is safe. A commit whose
    outcome is unknown is never retried."""
    from venturegate.engine.exceptions import StoreUnavailable

    with attempt():
        try:
            return call()
        except StoreUnavailable as exc:
            if not retryable(exc):
                raise
            log.warning("%s: running the operation again", exc)
    with attempt(again=True):
        return call()
