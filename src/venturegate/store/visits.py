"""Stage visits in the store, with their substages and attestations, as typed rows."""

from __future__ import annotations

from datetime import datetime
from typing import NamedTuple

from sqlalchemy import Connection, insert, select, update

from venturegate.store.schema import attestations, stage_visits, substage_status


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
