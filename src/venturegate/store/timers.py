"""Stale-metric timers in the store: found, inserted and moved in bulk for a batch of samples."""

from __future__ import annotations

from collections.abc import Collection, Sequence
from datetime import datetime
from typing import NamedTuple

from sqlalchemy import Connection, bindparam, insert, select, update

from venturegate.store.prepared import Prepared
from venturegate.store.schema import timers


class PendingTimer(NamedTuple):
    """A pending timer: its id, venture, ref and when it is due."""

    id: int
    venture_id: int
    ref: str
    due_at: datetime


_MOVE = Prepared(update(timers).where(timers.c.id == bindparam("tid")).values(due_at=bindparam("due")))


def pending_stale(conn: Connection, venture_ids: Collection[int]) -> dict[tuple[int, str], PendingTimer]:
    """The pending stale-metric timers of these ventures, by (venture, metric)."""
    rows = conn.execute(
        select(timers.c.id, timers.c.venture_id, timers.c.ref, timers.c.due_at).where(
            timers.c.kind == "stale",
            timers.c.done_at.is_(None),
            timers.c.venture_id.in_(venture_ids),
        )
    )
    return {(t.venture_id, t.ref): t for t in map(PendingTimer._make, rows)}


def insert_stale(conn: Connection, due: Sequence[tuple[int, str, datetime]]) -> None:
    """New stale-metric timers, each (venture, metric, due)."""
    if due:
        conn.execute(insert(timers), [{"venture_id": v, "kind": "stale", "ref": m, "due_at": at} for v, m, at in due])


def move(conn: Connection, moves: Sequence[tuple[int, datetime]]) -> None:
    """Move timers, each (timer id, new due time), in one `executemany`."""
    _MOVE.many(conn, [{"tid": tid, "due": due} for tid, due in moves])
