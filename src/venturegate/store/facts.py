"""What gates read of a venture's current visit, from the store: substages, artifacts, approvals, attestations.

Every gate judgement runs these, so they are `Prepared` statements whose rows are typed named tuples as read.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal, NamedTuple

from sqlalchemy import Connection, and_, bindparam, func, select

from venturegate.store.prepared import Prepared
from venturegate.store.schema import approvals, artifacts, attestations, events, substage_status


class SubstageFact(NamedTuple):
    """A substage of a visit and its status."""

    substage: str
    status: str


class ArtifactVersion(NamedTuple):
    """An artifact's name and newest valid version."""

    name: str
    version: int


class ApprovalFactRow(NamedTuple):
    """The newest approval request of a visit for a role."""

    id: int
    role: str
    status: Literal["pending", "approved", "rejected", "expired", "bypassed"]
    expires_at: datetime | None
    decided_by: str | None
    decision_reason: str | None


class _Criterion(NamedTuple):
    criterion: str


_SUBSTAGES = Prepared(
    select(substage_status.c.substage, substage_status.c.status).where(
        substage_status.c.visit_id == bindparam("visit")
    ),
    SubstageFact,
)
_ARTIFACTS = Prepared(
    select(artifacts.c.name, func.max(artifacts.c.version).label("version"))
    .where(artifacts.c.venture_id == bindparam("vid"), artifacts.c.valid.is_(True))
    .group_by(artifacts.c.name),
    ArtifactVersion,
)
_CONTENT = Prepared(
    select(artifacts.c.content).where(
        artifacts.c.venture_id == bindparam("vid"),
        artifacts.c.name == bindparam("name"),
        artifacts.c.version == bindparam("version"),
    )
)
_NEWEST_APPROVALS = (
    select(approvals.c.role, func.max(approvals.c.id).label("id"))
    .where(approvals.c.visit_id == bindparam("visit"))
    .group_by(approvals.c.role)
    .subquery()
)
_APPROVALS = Prepared(
    select(
        approvals.c.id,
        approvals.c.role,
        approvals.c.status,
        approvals.c.expires_at,
        approvals.c.decided_by,
        approvals.c.decision_reason,
    ).join(_NEWEST_APPROVALS, and_(approvals.c.id == _NEWEST_APPROVALS.c.id)),
    ApprovalFactRow,
)
_ATTESTED = Prepared(select(attestations.c.criterion).where(attestations.c.visit_id == bindparam("visit")), _Criterion)


def substages(conn: Connection, visit_id: int) -> list[SubstageFact]:
    """The visit's substages with their status (the rows that exist)."""
    rows: list[SubstageFact] = _SUBSTAGES.all(conn, {"visit": visit_id})
    return rows


def artifact_versions(conn: Connection, venture_id: int) -> list[ArtifactVersion]:
    """Each artifact of the venture with its newest valid version."""
    rows: list[ArtifactVersion] = _ARTIFACTS.all(conn, {"vid": venture_id})
    return rows


def artifact_content(conn: Connection, venture_id: int, name: str, version: int) -> Any:
    """The content of one artifact version."""
    return _CONTENT.scalar(conn, {"vid": venture_id, "name": name, "version": version})


def newest_approvals(conn: Connection, visit_id: int) -> list[ApprovalFactRow]:
    """The newest approval request of the visit for each role."""
    rows: list[ApprovalFactRow] = _APPROVALS.all(conn, {"visit": visit_id})
    return rows


def attested(conn: Connection, visit_id: int) -> frozenset[str]:
    """The criteria attested in the visit."""
    return frozenset(r.criterion for r in _ATTESTED.all(conn, {"visit": visit_id}))


def recursions(conn: Connection, venture_id: int, trigger_id: str) -> int:
    """How many `recursion` events the trigger wrote for the venture."""
    n: int = conn.execute(
        select(func.count())
        .select_from(events)
        .where(
            events.c.venture_id == venture_id,
            events.c.kind == "recursion",
            events.c.reason.like(f"{trigger_id}:%"),
        )
    ).scalar_one()
    return n
