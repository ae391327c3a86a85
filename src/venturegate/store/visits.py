"""A venture's stage visits in the store: closing the current one, reopening its substages, counting bounces."""

from __future__ import annotations

from collections.abc import Collection
from datetime import datetime

from sqlalchemy import Connection, bindparam, func, select, update

from venturegate.store.prepared import Prepared
from venturegate.store.schema import events, stage_visits, substage_status

_CURRENT = Prepared(
    select(substage_status).where(
        substage_status.c.visit_id
        == select(stage_visits.c.id)
        .where(stage_visits.c.venture_id == bindparam("vid"))
        .order_by(stage_visits.c.id.desc())
        .limit(1)
        .scalar_subquery()
    )
)
_REOPEN = Prepared(
    update(substage_status)
    .where(substage_status.c.visit_id == bindparam("visit"), substage_status.c.substage == bindparam("sub"))
    .values(status="open", items=[], completed_by=None, completed_at=None)
)


def reopen(conn: Connection, venture_id: int, substages: Collection[str]) -> None:
    """Reopen `substages` in the venture's current visit (rows already open and empty stay unwritten)."""
    _REOPEN.many(
        conn,
        [
            {"visit": r.visit_id, "sub": r.substage}
            for r in _CURRENT.all(conn, {"vid": venture_id})
            if r.substage in substages
            and (r.status != "open" or r.items or r.completed_by is not None or r.completed_at is not None)
        ],
    )


def close(conn: Connection, visit_id: int, now: datetime, outcome: str) -> None:
    """Record that a visit ended at `now` with `outcome` (passed, recursed, escalation-resolved)."""
    conn.execute(update(stage_visits).where(stage_visits.c.id == visit_id).values(exited_at=now, outcome=outcome))


def bounces(conn: Connection, venture_id: int, stage: int, since: datetime) -> int:
    """The venture's recursions into `stage` after `since` (its `recursion` events to the stage, not a substage)."""
    found: int = conn.execute(
        select(func.count())
        .select_from(events)
        .where(
            events.c.venture_id == venture_id,
            events.c.kind == "recursion",
            events.c.stage == stage,
            events.c.substage.is_(None),
            events.c.at > since,
        )
    ).scalar_one()
    return found
