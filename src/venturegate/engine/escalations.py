"""Escalations: a venture paused because a retry limit or the loop limit was passed, until a person resolves it."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Row, select, update

from venturegate.engine.actors import Actor
from venturegate.engine.base import as_id
from venturegate.engine.exceptions import BadInput, Conflict, NotFound
from venturegate.engine.records import _Record
from venturegate.engine.timers import TimerOps
from venturegate.store.schema import escalations, stage_visits, trigger_state


@dataclass(frozen=True)
class Escalation(_Record):
    """An escalation directive (`SD-<STAGE>-ESCALATION-<n>`) and the history that led to it."""

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


def _escalation(r: Row[Any]) -> Escalation:
    return Escalation(
        int(r.id),
        r.code,
        int(r.venture_id),
        int(r.stage),
        r.trigger_id,
        r.role,
        r.status,
        r.reason,
        list(r.history),
        r.created_at,
        r.resolved_by,
        r.resolved_at,
        r.resume_at,
    )


class EscalationOps(TimerOps):
    """Listing and resolving escalations."""

    def escalations(self, status: str | None = None, ref: str | int | None = None) -> list[Escalation]:
        """Escalations, newest first."""
        query = select(escalations).order_by(escalations.c.id.desc())
        with self.tx() as conn:
            if status is not None:
                query = query.where(escalations.c.status == status)
            if ref is not None:
                query = query.where(escalations.c.venture_id == self._row(conn, ref).id)
            return [_escalation(r) for r in conn.execute(query)]

    def resolve_escalation(
        self, ident: str | int, resume_at: str, *, actor: Actor, reason: str = "", now: datetime | None = None
    ) -> Escalation:
        """Close an escalation and resume its venture at a stage (`14`) or a substage of its stage (`28.2`)."""
        now = self.when(now)
        with self.tx() as conn:
            text = str(ident)
            number = as_id(text)
            cond = escalations.c.id == number if number is not None else escalations.c.code == text
            esc = conn.execute(select(escalations).where(cond)).first()
            if esc is None:
                raise NotFound(f"no escalation '{ident}'", where="ID", hint="`venturegate escalations` lists them")
            if esc.status != "open":
                raise Conflict(f"escalation {esc.code} is already {esc.status}")
            if actor.role not in (esc.role, "chairman"):
                raise BadInput(
                    f"escalation {esc.code} is for {esc.role}; {actor.name} acts as {actor.role}", where="--as"
                )
            row = self._row(conn, int(esc.venture_id), lock=True)
            wf = self.pinned(conn, row.workflow_digest).workflow
            target: int | str = int(resume_at) if resume_at.strip().isdigit() else resume_at.strip()
            if isinstance(target, str):
                found = wf.find_substage(target)
                if found is None:
                    raise NotFound(f"no substage '{resume_at}'", where="--resume-at", hint="e.g. 28.2")
                if found[0].id != row.stage:
                    raise Conflict(
                        f"'{resume_at}' is not a substage of stage {row.stage}, where the venture is: "
                        "give a substage of the current stage (e.g. 28.2) or a stage number"
                    )
            elif wf.stage(target) is None:
                raise NotFound(f"no stage {target}", where="--resume-at")
            conn.execute(
                update(escalations)
                .where(escalations.c.id == esc.id)
                .values(status="resolved", resolved_by=actor.name, resolved_at=now, resume_at=str(target))
            )
            if esc.trigger_id:
                conn.execute(
                    update(trigger_state)
                    .where(trigger_state.c.venture_id == row.id, trigger_state.c.trigger_id == esc.trigger_id)
                    .values(acted_count=0, state="inactive", since=None)
                )
            self._set(conn, row, now, status="active", status_detail=None)
            row = self._row(conn, row.id)
            self._event(
                conn,
                row.id,
                "escalation.resolved",
                actor,
                now,
                stage=row.stage,
                reason=reason,
                data={"code": esc.code, "resume_at": str(target)},
            )
            if isinstance(target, str):
                self._reopen(conn, row.id, self._stage(wf, row.stage), target)
                self._recheck_entry(conn, row, actor, now)
            else:
                visit = self._visit(conn, row.id)
                conn.execute(
                    update(stage_visits)
                    .where(stage_visits.c.id == visit.id)
                    .values(exited_at=now, outcome="escalation-resolved")
                )
                self._enter(conn, row, target, actor, now, f"{esc.code} resolved: resume at stage {target}")
            return _escalation(conn.execute(select(escalations).where(escalations.c.id == esc.id)).one())
