"""Escalations in the store: numbered per stage, opened with the venture's history, listed and resolved."""

from __future__ import annotations

from datetime import datetime
from typing import Any, NamedTuple

from sqlalchemy import Connection, bindparam, insert, select, update
from sqlalchemy.dialects import postgresql, sqlite

from venturegate.store.prepared import Prepared, RawJSON
from venturegate.store.schema import escalation_numbers, escalations


class EscalationRow(NamedTuple):
    """An `escalations` row, typed (the column order of `select(escalations)`)."""

    id: int
    code: str
    venture_id: int
    stage: int
    trigger_id: str | None
    role: str
    status: str
    reason: str
    history: list[dict[str, Any]]
    created_at: datetime
    resolved_by: str | None
    resolved_at: datetime | None
    resume_at: str | None


_NEXT_NUMBER = {
    # One atomic upsert per code: concurrent escalations at a stage get distinct numbers, without a retry.
    d.__name__.rsplit(".", 1)[-1]: Prepared(
        d.insert(escalation_numbers)
        .values(stage=bindparam("stage"), last=1)
        .on_conflict_do_update(index_elements=["stage"], set_={"last": escalation_numbers.c.last + 1})
        .returning(escalation_numbers.c.last)
    )
    for d in (sqlite, postgresql)
}
_COLUMNS = ("code", "venture_id", "stage", "trigger_id", "role", "status", "reason", "history", "created_at")
_INSERT = Prepared(insert(escalations).values({c: bindparam(c) for c in _COLUMNS}))


def next_code(conn: Connection, stage: int) -> str:
    """The next escalation code of a stage, `SD-<stage>-ESCALATION-<n>` (numbers are never reused)."""
    n = _NEXT_NUMBER[conn.dialect.name].scalar(conn, {"stage": stage})
    return f"SD-{stage}-ESCALATION-{n}"


def insert_open(
    conn: Connection,
    code: str,
    venture_id: int,
    stage: int,
    trigger_id: str | None,
    role: str,
    reason: str,
    history: RawJSON,
    now: datetime,
) -> None:
    """Store an open escalation (`history`: the venture's last events as JSON text)."""
    _INSERT.run(
        conn,
        {
            "code": code,
            "venture_id": venture_id,
            "stage": stage,
            "trigger_id": trigger_id,
            "role": role,
            "status": "open",
            "reason": reason,
            "history": history,
            "created_at": now,
        },
    )


def listing(conn: Connection, status: str | None, venture_id: int | None) -> list[EscalationRow]:
    """Escalations (with `status`, of one venture, when given), newest first."""
    query = select(escalations).order_by(escalations.c.id.desc())
    if status is not None:
        query = query.where(escalations.c.status == status)
    if venture_id is not None:
        query = query.where(escalations.c.venture_id == venture_id)
    return [EscalationRow._make(r) for r in conn.execute(query)]


def find(conn: Connection, number: int | None, code: str) -> EscalationRow | None:
    """The escalation with id `number` (when given), else with `code`."""
    cond = escalations.c.id == number if number is not None else escalations.c.code == code
    found = conn.execute(select(escalations).where(cond)).first()
    return None if found is None else EscalationRow._make(found)


def resolve(conn: Connection, escalation_id: int, by: str, now: datetime, resume_at: str) -> EscalationRow:
    """Mark an escalation resolved; returns it as stored."""
    conn.execute(
        update(escalations)
        .where(escalations.c.id == escalation_id)
        .values(status="resolved", resolved_by=by, resolved_at=now, resume_at=resume_at)
    )
    return EscalationRow._make(conn.execute(select(escalations).where(escalations.c.id == escalation_id)).one())


def counts_by_stage(conn: Connection) -> dict[int, int]:
    """How many escalations each stage has had."""
    out: dict[int, int] = {}
    for (stage,) in conn.execute(select(escalations.c.stage)):
        out[stage] = out.get(stage, 0) + 1
    return out
