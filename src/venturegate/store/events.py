"""Events in the store: appended one at a time, read back as typed rows (the audit trail is never changed)."""

from __future__ import annotations

from datetime import datetime
from typing import Any, NamedTuple

from sqlalchemy import Connection, Text, bindparam, cast, insert, select

from venturegate.store.prepared import Prepared, RawJSON
from venturegate.store.schema import events


class EventRow(NamedTuple):
    """An `events` row, typed (the column order of `select(events)`)."""

    id: int
    venture_id: int | None
    kind: str
    actor: str
    actor_role: str | None
    actor_kind: str
    at: datetime
    stage: int | None
    substage: str | None
    reason: str
    data: dict[str, Any] | None


class StoredEventRow(NamedTuple):
    """An `events` row whose `data` is its stored JSON text (spliced into a response without decoding)."""

    id: int
    venture_id: int | None
    kind: str
    actor: str
    actor_role: str | None
    actor_kind: str
    at: datetime
    stage: int | None
    substage: str | None
    reason: str
    data: str | None


_COLUMNS = ("venture_id", "kind", "actor", "actor_role", "actor_kind", "at", "stage", "substage", "reason", "data")
_INSERT = Prepared(insert(events).values({c: bindparam(c) for c in _COLUMNS}).returning(events.c.id))
_HISTORY = Prepared(
    select(*(cast(c, Text).label(c.key) if c.key == "data" else c for c in events.c))
    .where(events.c.venture_id == bindparam("vid"))
    .order_by(events.c.id.desc())
    .limit(bindparam("n")),
    StoredEventRow,
)
"""A venture's last events, `data` as its stored JSON text."""


def insert_event(
    conn: Connection,
    venture_id: int | None,
    kind: str,
    actor: tuple[str, str | None, str],
    at: datetime,
    stage: int | None,
    substage: str | None,
    reason: str,
    data: dict[str, Any] | RawJSON | None,
) -> int:
    """Append an event; returns its id. `actor`: (name, role, kind); `data` may be its JSON text already."""
    name, role, actor_kind = actor
    event_id: int = _INSERT.scalar(
        conn,
        {
            "venture_id": venture_id,
            "kind": kind,
            "actor": name,
            "actor_role": role,
            "actor_kind": actor_kind,
            "at": at,
            "stage": stage,
            "substage": substage,
            "reason": reason,
            "data": data,
        },
    )
    return event_id


def latest_events(conn: Connection, venture_id: int, limit: int) -> list[StoredEventRow]:
    """A venture's last `limit` events, newest first, `data` as stored text."""
    rows: list[StoredEventRow] = _HISTORY.all(conn, {"vid": venture_id, "n": limit})
    return rows


def events_after(
    conn: Connection, after_id: int, limit: int, venture_id: int | None = None, kind: str | None = None
) -> list[EventRow]:
    """Events with an id above `after_id`, oldest first, at most `limit` (one venture's, of a kind prefix)."""
    query = select(events).where(events.c.id > after_id).order_by(events.c.id).limit(limit)
    if venture_id is not None:
        query = query.where(events.c.venture_id == venture_id)
    if kind:
        query = query.where(events.c.kind.like(f"{kind}%"))
    return [EventRow._make(r) for r in conn.execute(query)]
