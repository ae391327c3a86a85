"""Stage visits in the store, with their substages and attestations, as typed rows: the current visit, opening a
visit with its substages, closing the current visit, reopening its substages, counting bounces."""

from __future__ import annotations

from collections.abc import Collection, Sequence
from datetime import datetime
from typing import NamedTuple

from sqlalchemy import Connection, bindparam, func, insert, select, update

from venturegate.store.prepared import Prepared
from venturegate.store.schema import attestations, events, stage_visits, substage_status


class VisitRow(NamedTuple):
    """A `stage_visits` row, typed (the column order of `select(stage_visits)`)."""

    id: int
    venture_id: int
    stage: int
    attempt: int
    entered_at: datetime
    exited_at: datetime | None
    reason: str
    outcome: str | None


class SubstageRow(NamedTuple):
    """A `substage_status` row, typed (the column order of `select(substage_status)`)."""

    visit_id: int
    substage: str
    status: str
    items: list[str]
    completed_by: str | None
    completed_at: datetime | None


_CURRENT_VISIT = Prepared(
    select(stage_visits)
    .where(stage_visits.c.venture_id == bindparam("vid"))
    .order_by(stage_visits.c.id.desc())
    .limit(1),
    VisitRow,
)
_ATTEMPTS = Prepared(
    select(func.count())
    .select_from(stage_visits)
    .where(stage_visits.c.venture_id == bindparam("vid"), stage_visits.c.stage == bindparam("stage"))
)
_INSERT_VISIT = Prepared(
    insert(stage_visits)
    .values(
        venture_id=bindparam("vid"),
        stage=bindparam("stage"),
        attempt=bindparam("attempt"),
        entered_at=bindparam("now"),
        reason=bindparam("reason"),
    )
    .returning(stage_visits.c.id)
)
_INSERT_SUBSTAGE = Prepared(
    insert(substage_status).values(visit_id=bindparam("visit"), substage=bindparam("sub"), status="open", items=[])
)


def current_visit(conn: Connection, venture_id: int) -> VisitRow | None:
    """The venture's current (latest) stage visit, or None for an unknown venture."""
    found: VisitRow | None = _CURRENT_VISIT.first(conn, {"vid": venture_id})
    return found


def attempts(conn: Connection, venture_id: int, stage: int) -> int:
    """How many times the venture has entered `stage`."""
    return int(_ATTEMPTS.scalar(conn, {"vid": venture_id, "stage": stage}))


def open_visit(
    conn: Connection, venture_id: int, stage: int, attempt: int, now: datetime, reason: str, substages: Sequence[str]
) -> int:
    """Insert a visit of `stage` (its `attempt`-th) with its `substages` open and empty; returns the visit's id."""
    visit_id: int = _INSERT_VISIT.scalar(
        conn, {"vid": venture_id, "stage": stage, "attempt": attempt, "now": now, "reason": reason}
    )
    _INSERT_SUBSTAGE.many(conn, [{"visit": visit_id, "sub": sub} for sub in substages])
    return visit_id


def visit_rows(conn: Connection, venture_id: int) -> list[VisitRow]:
    """Every stage visit of a venture, oldest first."""
    rows = conn.execute(select(stage_visits).where(stage_visits.c.venture_id == venture_id).order_by(stage_visits.c.id))
    return [VisitRow._make(r) for r in rows]


def substage_rows(conn: Connection, visit_id: int) -> list[SubstageRow]:
    """The substage states of a visit."""
    rows = conn.execute(select(substage_status).where(substage_status.c.visit_id == visit_id))
    return [SubstageRow._make(r) for r in rows]


def substage(conn: Connection, visit_id: int, substage_id: str) -> SubstageRow:
    """One substage state of a visit (it must exist)."""
    found = conn.execute(
        select(substage_status).where(substage_status.c.visit_id == visit_id, substage_status.c.substage == substage_id)
    ).one()
    return SubstageRow._make(found)


def done_substages(conn: Connection, visit_id: int) -> set[str]:
    """The ids of a visit's completed substages."""
    rows = conn.execute(
        select(substage_status.c.substage).where(
            substage_status.c.visit_id == visit_id, substage_status.c.status == "done"
        )
    )
    return set(rows.scalars())


def set_substage(
    conn: Connection,
    visit_id: int,
    substage_id: str,
    status: str,
    items: list[str],
    completed_by: str | None,
    completed_at: datetime | None,
) -> None:
    """Complete or re-open one substage of a visit."""
    conn.execute(
        update(substage_status)
        .where(substage_status.c.visit_id == visit_id, substage_status.c.substage == substage_id)
        .values(status=status, items=items, completed_by=completed_by, completed_at=completed_at)
    )


def attest(conn: Connection, visit_id: int, criterion: str, actor: str, at: datetime) -> bool:
    """Record an attestation of a criterion in a visit; False when it was attested already."""
    seen = conn.execute(
        select(attestations.c.id).where(attestations.c.visit_id == visit_id, attestations.c.criterion == criterion)
    ).first()
    if seen is not None:
        return False
    conn.execute(insert(attestations).values(visit_id=visit_id, criterion=criterion, actor=actor, at=at))
    return True


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
