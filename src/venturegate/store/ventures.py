"""Ventures in the store: listed with filters and counted by stage and status, as typed rows."""

from __future__ import annotations

from collections.abc import Collection
from datetime import datetime

from sqlalchemy import Connection, bindparam, func, insert, select

from venturegate.store.prepared import Prepared
from venturegate.store.schema import ventures
from venturegate.store.trigger_states import VentureRow

_INSERT = Prepared(
    insert(ventures)
    .values(
        name=bindparam("name"),
        segment=bindparam("segment"),
        workflow_digest=bindparam("digest"),
        stage=bindparam("stage"),
        status="active",
        revision=1,  # what entering the start stage sets (see `EngineBase._enter(created=True)`)
        created_at=bindparam("now"),
        updated_at=bindparam("now"),
    )
    .returning(*ventures.c),
    VentureRow,
)


def insert_venture(conn: Connection, name: str, segment: str, digest: str, stage: int, now: datetime) -> VentureRow:
    """Insert an active venture at `stage`, pinned to the workflow version `digest`; returns its row."""
    row: VentureRow = _INSERT.one(
        conn, {"name": name, "segment": segment, "digest": digest, "stage": stage, "now": now}
    )
    return row


def venture_rows(
    conn: Connection,
    *,
    stage: int | None,
    status: str | None,
    ids: Collection[int] | None,
    statuses: Collection[str] | None,
    exclude: Collection[int],
    limit: int | None,
    offset: int,
) -> list[VentureRow]:
    """Ventures by id, filtered (by stage, status, ids or ids to leave out) and paged."""
    query = select(ventures).order_by(ventures.c.id)
    if stage is not None:
        query = query.where(ventures.c.stage == stage)
    if status is not None:
        query = query.where(ventures.c.status == status)
    if ids is not None:
        query = query.where(ventures.c.id.in_(sorted(set(ids))))
    if statuses is not None:
        query = query.where(ventures.c.status.in_(sorted(set(statuses))))
    if exclude:
        query = query.where(ventures.c.id.not_in(sorted(set(exclude))))
    if limit is not None:
        query = query.limit(limit)
    if offset:
        query = query.offset(offset)
    return [VentureRow._make(r) for r in conn.execute(query)]


def all_ventures(conn: Connection) -> list[VentureRow]:
    """Every venture."""
    return [VentureRow._make(r) for r in conn.execute(select(ventures))]


def venture_counts(conn: Connection) -> dict[tuple[int, str], int]:
    """How many ventures are at each (stage, status), counted in the database."""
    query = select(ventures.c.stage, ventures.c.status, func.count()).group_by(ventures.c.stage, ventures.c.status)
    out: dict[tuple[int, str], int] = {}
    for stage, status, n in conn.execute(query):
        out[(stage, status)] = n
    return out


def ids_by_name(conn: Connection, names: Collection[str]) -> dict[str, int]:
    """The ids of the ventures with these names (unknown names are left out)."""
    query = select(ventures.c.name, ventures.c.id).where(ventures.c.name.in_(set(names)))
    out: dict[str, int] = {}
    for name, vid in conn.execute(query):
        out[name] = vid
    return out
