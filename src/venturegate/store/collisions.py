"""Which driver errors are collisions with another transaction, for the engine to report as its own error.

A collision leaves nothing changed: the database rolled the transaction back (PostgreSQL: a lock wait that ran
out, a deadlock, a serialization failure; SQLite: the write lock stayed taken for the whole busy timeout).
`store.transactions` turns each into the engine's `Collision` error (a `Conflict`), so the CLI, the API and the
worker report the same thing; a deadlock or a serialization failure is transient (a retry right away usually
succeeds), a lock wait that ran out already waited its budget.
"""

from __future__ import annotations

import sqlite3
from typing import Literal

from sqlalchemy.exc import DBAPIError

Kind = Literal["lock_timeout", "deadlock", "serialization", "busy"]

_SQLSTATES: dict[str, Kind] = {
    "55P03": "lock_timeout",  # lock_not_available: `lock_timeout` ran out, or NOWAIT
    "40P01": "deadlock",  # deadlock_detected
    "40001": "serialization",  # serialization_failure
}
TRANSIENT: frozenset[Kind] = frozenset({"deadlock", "serialization"})
"""Collisions worth retrying at once: the other transaction did not hold its locks for long."""


def collision(exc: BaseException) -> Kind | None:
    """The kind of collision a driver error is, or None when it is something else.

    Both forms count: SQLAlchemy's wrapper (`DBAPIError`) and the driver's own exception, which the compiled
    statements (`store.prepared`) raise as they run on the driver's cursor.
    """
    orig = exc.orig if isinstance(exc, DBAPIError) else exc
    sqlstate = getattr(orig, "sqlstate", None)
    if isinstance(sqlstate, str) and sqlstate in _SQLSTATES:
        return _SQLSTATES[sqlstate]
    if isinstance(orig, sqlite3.OperationalError) and "database is locked" in str(orig):
        return "busy"
    return None


def describe(kind: Kind, exc: BaseException) -> str:
    """A sentence for the person who sent the request: what happened, that nothing changed, what to do."""
    if kind == "busy":
        detail = str(getattr(exc, "orig", exc)).splitlines()[0]
        if "no write lock after" in detail:  # store.database's own message says how long it waited
            return detail
        return f"{detail}: other writers held the database; nothing was changed, retry"
    if kind == "lock_timeout":
        return "another request held the same data longer than the lock timeout; nothing was changed, retry"
    return "a concurrent request changed the same data; nothing was changed, retry the request"
