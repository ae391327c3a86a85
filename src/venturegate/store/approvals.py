"""Approval requests in the store: opened, decided, bypassed, reviewed; read back as typed rows."""

from __future__ import annotations

from datetime import datetime
from typing import Any, NamedTuple

from sqlalchemy import Connection, insert, select, update

from venturegate.store.schema import approvals


class ApprovalRow(NamedTuple):
    """An `approvals` row, typed (the column order of `select(approvals)`)."""

    id: int
    venture_id: int
    visit_id: int
    stage: int
    role: str
    status: str
    reason: str
    payload: dict[str, Any] | None
    requested_by: str
    requested_at: datetime
    expires_at: datetime | None
    decided_by: str | None
    decided_at: datetime | None
    decision_reason: str | None
    reviewed_by: str | None
    reviewed_at: datetime | None
    review_reason: str | None


def approval(conn: Connection, approval_id: int) -> ApprovalRow | None:
    """One approval request, or None."""
    found = conn.execute(select(approvals).where(approvals.c.id == approval_id)).first()
    return None if found is None else ApprovalRow._make(found)


def pending(conn: Connection, visit_id: int, role: str) -> ApprovalRow | None:
    """The pending request of a visit for a role, if any (expired or not)."""
    found = conn.execute(
        select(approvals).where(
            approvals.c.visit_id == visit_id,
            approvals.c.role == role,
            approvals.c.status == "pending",
        )
    ).first()
    return None if found is None else ApprovalRow._make(found)


def insert_request(
    conn: Connection,
    *,
    venture_id: int,
    visit_id: int,
    stage: int,
    role: str,
    reason: str,
    payload: dict[str, Any] | None,
    requested_by: str,
    requested_at: datetime,
    expires_at: datetime,
) -> int:
    """Open a pending request; returns its id."""
    aid: int = conn.execute(
        insert(approvals)
        .values(
            venture_id=venture_id,
            visit_id=visit_id,
            stage=stage,
            role=role,
            status="pending",
            reason=reason,
            payload=payload,
            requested_by=requested_by,
            requested_at=requested_at,
            expires_at=expires_at,
        )
        .returning(approvals.c.id)
    ).scalar_one()
    return aid


def update_approval(conn: Connection, approval_id: int, **values: Any) -> None:
    """Set columns of one approval (its status, decision or review)."""
    conn.execute(update(approvals).where(approvals.c.id == approval_id).values(**values))


def unreviewed_ids(conn: Connection, venture_id: int) -> list[int]:
    """Ids of the venture's bypassed approvals that await review."""
    rows = conn.execute(
        select(approvals.c.id).where(
            approvals.c.venture_id == venture_id,
            approvals.c.status == "bypassed",
            approvals.c.reviewed_at.is_(None),
        )
    )
    return list(rows.scalars())


def approval_rows(conn: Connection, venture_id: int | None, status: str | None, unreviewed: bool) -> list[ApprovalRow]:
    """Approval requests, newest first (one venture's, of one status, or the bypasses awaiting review)."""
    query = select(approvals).order_by(approvals.c.id.desc())
    if venture_id is not None:
        query = query.where(approvals.c.venture_id == venture_id)
    if status is not None:
        query = query.where(approvals.c.status == status)
    if unreviewed:
        query = query.where(approvals.c.status == "bypassed", approvals.c.reviewed_at.is_(None))
    return [ApprovalRow._make(r) for r in conn.execute(query)]
