"""Ventures in the store, as typed rows: one looked up by id or name (locked on PostgreSQL), the optimistic update of
its columns, listed with filters and counted by stage and status."""

from __future__ import annotations

from collections.abc import Collection
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, bindparam, func, insert, select, update

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


_BY_ID = Prepared(select(ventures).where(ventures.c.id == bindparam("ref")), VentureRow)
_BY_ID_LOCKED = Prepared(select(ventures).where(ventures.c.id == bindparam("ref")).with_for_update(), VentureRow)
_BY_NAME = Prepared(select(ventures).where(ventures.c.name == bindparam("ref")), VentureRow)
_BY_NAME_LOCKED = Prepared(select(ventures).where(ventures.c.name == bindparam("ref")).with_for_update(), VentureRow)
_UPDATES: dict[tuple[str, ...], Prepared] = {}


def find_venture(conn: Connection, ref: int | str, *, lock: bool = False) -> VentureRow | None:
    """The venture with id `ref` (an int) or name `ref` (a str), or None.

    `lock`: on PostgreSQL, lock the row (`FOR UPDATE`) until the transaction ends; SQLite serializes writers, so
    there it reads the row as is.
    """
    lock = lock and conn.dialect.name == "postgresql"
    if isinstance(ref, int):
        found: VentureRow | None = (_BY_ID_LOCKED if lock else _BY_ID).first(conn, {"ref": ref})
    else:
        found = (_BY_NAME_LOCKED if lock else _BY_NAME).first(conn, {"ref": ref})
    return found


def _update_statement(keys: tuple[str, ...]) -> Prepared:
    """The optimistic update of a venture's columns `keys` (one compiled statement per column set)."""
    found = _UPDATES.get(keys)
    if found is None:
        found = _UPDATES[keys] = Prepared(
            update(ventures)
            .where(ventures.c.id == bindparam("vid"), ventures.c.revision == bindparam("rev"))
            .values(
                revision=bindparam("new_rev"), updated_at=bindparam("now"), **{k: bindparam(f"v_{k}") for k in keys}
            )
        )
    return found


def update_venture(conn: Connection, row: VentureRow, now: datetime, values: dict[str, Any]) -> bool:
    """Set the venture's columns `values` and bump its revision, if it is still at `row`'s revision (a
    compare-and-set); False when another transaction changed it first (nothing is written)."""
    keys = tuple(sorted(values))
    params = {"vid": row.id, "rev": row.revision, "new_rev": row.revision + 1, "now": now}
    params.update({f"v_{k}": values[k] for k in keys})
    return _update_statement(keys).run(conn, params) == 1


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
