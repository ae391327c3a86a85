"""Approval requests for a role, with a timeout from the stage's policy, and their decisions."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Connection, Row, insert, select, update

from venturegate.core.durations import parse_duration
from venturegate.engine.actors import Actor
from venturegate.engine.base import EngineBase
from venturegate.engine.errors import BadInput, Conflict, Forbidden, NotFound
from venturegate.engine.records import Approval
from venturegate.store.schema import approvals


def _approval(r: Row[Any]) -> Approval:
    return Approval(
        int(r.id),
        int(r.venture_id),
        int(r.stage),
        r.role,
        r.status,
        r.reason,
        r.requested_by,
        r.requested_at,
        r.expires_at,
        r.decided_by,
        r.decided_at,
        r.decision_reason,
        r.payload,
    )


class ApprovalOps(EngineBase):
    """Requesting and deciding approvals."""

    def request_approval(
        self,
        ref: str | int,
        role: str,
        *,
        actor: Actor,
        reason: str = "",
        payload: dict[str, Any] | None = None,
        now: datetime | None = None,
    ) -> Approval:
        """Ask a role to approve something in the current stage (an open request for that role is returned as is)."""
        now = self.when(now)
        with self.tx() as conn:
            row = self._row(conn, ref, lock=True)
            if row.status in ("killed", "completed"):
                raise Conflict(f"venture '{row.name}' is {row.status}")
            wf = self.pinned(conn, row.workflow_digest).workflow
            if role not in wf.roles:
                raise BadInput(f"unknown role '{role}'", where="--role", hint="roles: " + ", ".join(wf.roles))
            visit = self._visit(conn, int(row.id))
            open_ = conn.execute(
                select(approvals).where(
                    approvals.c.visit_id == visit.id,
                    approvals.c.role == role,
                    approvals.c.status == "pending",
                )
            ).first()
            if open_ is not None and (open_.expires_at is None or open_.expires_at > now):
                return _approval(open_)
            policy = wf.approval_policy(int(row.stage), role)
            timeout = policy.timeout
            if timeout.startswith("config."):
                timeout = str(self._effective(conn, wf, row)[timeout.removeprefix("config.")].value)
            expires = now + timedelta(seconds=parse_duration(timeout))
            aid = conn.execute(
                insert(approvals)
                .values(
                    venture_id=row.id,
                    visit_id=visit.id,
                    stage=row.stage,
                    role=role,
                    status="pending",
                    reason=reason,
                    payload=payload,
                    requested_by=actor.name,
                    requested_at=now,
                    expires_at=expires,
                )
                .returning(approvals.c.id)
            ).scalar_one()
            self._set(conn, row, now)
            self._schedule(conn, int(row.id), "approval", str(aid), expires)
            self._event(
                conn,
                int(row.id),
                "approval.requested",
                actor,
                now,
                stage=int(row.stage),
                reason=reason,
                data={"approval": aid, "role": role, "expires_at": expires.isoformat()},
            )
            return _approval(conn.execute(select(approvals).where(approvals.c.id == aid)).one())

    def decide_approval(
        self,
        approval_id: int,
        approve: bool,
        *,
        actor: Actor,
        reason: str = "",
        now: datetime | None = None,
    ) -> Approval:
        """Approve or reject a pending request; only its role may decide."""
        now = self.when(now)
        with self.tx() as conn:
            r = conn.execute(select(approvals).where(approvals.c.id == approval_id)).first()
            if r is None:
                raise NotFound(f"no approval #{approval_id}", where="ID")
            if actor.role != r.role:
                raise Forbidden(f"approval #{approval_id} is for {r.role}; {actor.name} acts as {actor.role}")
            row = self._row(conn, int(r.venture_id), lock=True)
            if r.status == "pending" and r.expires_at is not None and now >= r.expires_at:
                conn.execute(update(approvals).where(approvals.c.id == r.id).values(status="expired"))
                self._event(
                    conn,
                    int(row.id),
                    "approval.expired",
                    actor,
                    now,
                    stage=int(r.stage),
                    data={"approval": int(r.id), "role": r.role},
                )
                raise_after = Conflict(
                    f"approval #{approval_id} expired at {r.expires_at.isoformat()}; request a new one"
                )
            elif r.status != "pending":
                raise Conflict(f"approval #{approval_id} is already {r.status}")
            else:
                raise_after = None
            if raise_after is None:
                status = "approved" if approve else "rejected"
                conn.execute(
                    update(approvals)
                    .where(approvals.c.id == r.id)
                    .values(status=status, decided_by=actor.name, decided_at=now, decision_reason=reason)
                )
                self._set(conn, row, now)
                self._event(
                    conn,
                    int(row.id),
                    f"approval.{status}",
                    actor,
                    now,
                    stage=int(r.stage),
                    reason=reason,
                    data={"approval": int(r.id), "role": r.role},
                )
                self._after_decision(conn, self._approval_row(conn, int(r.id)), approve, actor, now)
                self._recheck_entry(conn, self._row(conn, int(row.id)), actor, now)
                self._facts_changed(conn, self._row(conn, int(row.id)), now)
            result = _approval(conn.execute(select(approvals).where(approvals.c.id == approval_id)).one())
        if raise_after is not None:
            raise raise_after
        return result

    def _approval_row(self, conn: Connection, approval_id: int) -> Row[Any]:
        return conn.execute(select(approvals).where(approvals.c.id == approval_id)).one()

    def approvals(self, ref: str | int | None = None, status: str | None = None) -> list[Approval]:
        """Approval requests, newest first."""
        query = select(approvals).order_by(approvals.c.id.desc())
        with self.tx() as conn:
            if ref is not None:
                query = query.where(approvals.c.venture_id == self._row(conn, ref).id)
            if status is not None:
                query = query.where(approvals.c.status == status)
            return [_approval(r) for r in conn.execute(query)]
