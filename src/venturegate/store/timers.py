"""Durable timers in the store: the due ones, claimed one at a time, and what a timer reads and changes; stale-metric
timers found, inserted and moved in bulk for a batch of samples.

The rows are the truth (`kind`: trigger, approval or stale; `ref`: the trigger id, approval id or metric); a queue
only shortens the wait. A claim sets `done_at` under the venture's row lock and re-checks it. `schedule` sets one
venture's timer.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from datetime import datetime
from typing import NamedTuple

from sqlalchemy import Connection, bindparam, insert, select, update

from venturegate.store.prepared import Prepared
from venturegate.store.schema import samples, timers


class TimerRow(NamedTuple):
    """A `timers` row, typed (the column order of `select(timers)`)."""

    id: int
    venture_id: int
    kind: str
    ref: str
    due_at: datetime
    done_at: datetime | None


def due(conn: Connection, now: datetime, limit: int) -> list[int]:
    """The ids of the timers due at `now`, earliest first, at most `limit`."""
    return list(
        conn.execute(
            select(timers.c.id)
            .where(timers.c.done_at.is_(None), timers.c.due_at <= now)
            .order_by(timers.c.due_at, timers.c.id)
            .limit(limit)
        )
        .scalars()
        .all()
    )


def pending(conn: Connection, timer_id: int) -> TimerRow | None:
    """The timer, unless it is done (another worker took it)."""
    found = conn.execute(select(timers).where(timers.c.id == timer_id, timers.c.done_at.is_(None))).first()
    return None if found is None else TimerRow._make(found)


def claim(conn: Connection, timer_id: int, now: datetime) -> bool:
    """Mark the timer done if it still is pending and due at `now` (call it holding the venture's row lock)."""
    claimed = conn.execute(
        update(timers)
        .where(timers.c.id == timer_id, timers.c.done_at.is_(None), timers.c.due_at <= now)
        .values(done_at=now)
    ).rowcount
    return claimed == 1


def next_due(conn: Connection) -> datetime | None:
    """When the earliest pending timer is due, if there is one."""
    found: datetime | None = conn.execute(
        select(timers.c.due_at).where(timers.c.done_at.is_(None)).order_by(timers.c.due_at).limit(1)
    ).scalar()
    return found


def last_sample_at(conn: Connection, venture_id: int, metric: str) -> datetime | None:
    """When the venture's newest sample of `metric` was taken, if it has one."""
    found: datetime | None = conn.execute(
        select(samples.c.at)
        .where(samples.c.venture_id == venture_id, samples.c.metric == metric)
        .order_by(samples.c.at.desc())
        .limit(1)
    ).scalar()
    return found


class PendingTimer(NamedTuple):
    """A pending timer: its id, venture, ref and when it is due."""

    id: int
    venture_id: int
    ref: str
    due_at: datetime


_MOVE = Prepared(update(timers).where(timers.c.id == bindparam("tid")).values(due_at=bindparam("due")))
_PENDING = Prepared(
    select(timers.c.id, timers.c.due_at).where(
        timers.c.venture_id == bindparam("vid"),
        timers.c.kind == bindparam("kind"),
        timers.c.ref == bindparam("ref"),
        timers.c.done_at.is_(None),
    )
)
_INSERT = Prepared(
    insert(timers).values(
        venture_id=bindparam("vid"), kind=bindparam("kind"), ref=bindparam("ref"), due_at=bindparam("due")
    )
)


def schedule(conn: Connection, venture_id: int, kind: str, ref: str, due: datetime) -> None:
    """The venture's pending `kind` timer for `ref` is due at `due`: inserted if there is none, else moved."""
    found = _PENDING.first(conn, {"vid": venture_id, "kind": kind, "ref": ref})
    if found is None:
        _INSERT.run(conn, {"vid": venture_id, "kind": kind, "ref": ref, "due": due})
    elif found.due_at != due:
        _MOVE.run(conn, {"tid": found.id, "due": due})


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
