"""Durable timers in the store: the due ones, claimed one at a time, and what a timer reads and changes.

The rows are the truth (`kind`: trigger, approval or stale; `ref`: the trigger id, approval id or metric); a queue
only shortens the wait. A claim sets `done_at` under the venture's row lock and re-checks it.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, NamedTuple

from sqlalchemy import Connection, select, update

from venturegate.store.schema import approvals, samples, timers


class TimerRow(NamedTuple):
    """A `timers` row, typed (the column order of `select(timers)`)."""

    id: int
    venture_id: int
    kind: str
    ref: str
    due_at: datetime
    done_at: datetime | None


class ExpiredApproval(NamedTuple):
    """An approval request a timer expired."""

    id: int
    stage: int
    role: str
    reason: str
    payload: Any


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


def expire_approval(conn: Connection, approval_id: int, now: datetime) -> ExpiredApproval | None:
    """Expire an approval request still pending past its deadline; None if it was decided or is not due."""
    a = conn.execute(select(approvals).where(approvals.c.id == approval_id)).one()
    if a.status != "pending" or a.expires_at is None or a.expires_at > now:
        return None
    conn.execute(update(approvals).where(approvals.c.id == a.id).values(status="expired"))
    return ExpiredApproval(a.id, a.stage, a.role, a.reason, a.payload)


def last_sample_at(conn: Connection, venture_id: int, metric: str) -> datetime | None:
    """When the venture's newest sample of `metric` was taken, if it has one."""
    found: datetime | None = conn.execute(
        select(samples.c.at)
        .where(samples.c.venture_id == venture_id, samples.c.metric == metric)
        .order_by(samples.c.at.desc())
        .limit(1)
    ).scalar()
    return found
