"""Escalations: a venture paused because a retry limit or the loop limit was passed, until a person resolves it."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Connection

from venturegate.engine.actors import SYSTEM, Actor
from venturegate.engine.base import as_id
from venturegate.engine.exceptions import BadInput, Conflict, NotFound
from venturegate.engine.plumbing import Plumbing
from venturegate.engine.records import _Record
from venturegate.store import escalations as stored
from venturegate.store import trigger_states, visits
from venturegate.store.escalations import EscalationRow
from venturegate.store.trigger_states import VentureRow


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


def _escalation(r: EscalationRow) -> Escalation:
    """The record of a row (the same fields, in the same order; the history a list of its own)."""
    return Escalation(*r._replace(history=list(r.history)))


class Escalations:
    """Opening, listing and resolving escalations."""

    def __init__(self, plumbing: Plumbing) -> None:
        self.plumbing = plumbing

    def open(
        self, conn: Connection, row: VentureRow, role: str, reason: str, now: datetime, trigger_id: str | None
    ) -> str:
        """Pause the venture with a new escalation for `role`, in the caller's transaction; returns its code."""
        p = self.plumbing
        stage_id = row.stage
        code = stored.next_code(conn, stage_id)
        stored.insert_open(conn, code, row.id, stage_id, trigger_id, role, reason, p._history(conn, row.id), now)
        p._set(conn, row, now, status="paused", status_detail={"escalation": code, "reason": reason})
        p._event(
            conn,
            row.id,
            "escalation.opened",
            SYSTEM,
            now,
            stage=stage_id,
            reason=reason,
            data={"code": code, "role": role, "trigger": trigger_id},
        )
        return code

    def listing(self, status: str | None = None, ref: str | int | None = None) -> list[Escalation]:
        """Escalations, newest first (`Engine.escalations`)."""
        with self.plumbing.tx() as conn:
            vid = None if ref is None else self.plumbing._row(conn, ref).id
            return [_escalation(r) for r in stored.listing(conn, status, vid)]

    def resolve(
        self, ident: str | int, resume_at: str, *, actor: Actor, reason: str = "", now: datetime | None = None
    ) -> Escalation:
        """Close an escalation and resume its venture at a stage (`14`) or a substage of its stage (`28.2`)."""
        p = self.plumbing
        now = p.when(now)
        with p.tx() as conn:
            text = str(ident)
            esc = stored.find(conn, as_id(text), text)
            if esc is None:
                raise NotFound(f"no escalation '{ident}'", where="ID", hint="`venturegate escalations` lists them")
            if esc.status != "open":
                raise Conflict(f"escalation {esc.code} is already {esc.status}")
            if actor.role not in (esc.role, "chairman"):
                raise BadInput(
                    f"escalation {esc.code} is for {esc.role}; {actor.name} acts as {actor.role}", where="--as"
                )
            row = p._row(conn, esc.venture_id, lock=True)
            wf = p.pinned(conn, row.workflow_digest).workflow
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
            resolved = stored.resolve(conn, esc.id, actor.name, now, str(target))
            if esc.trigger_id:
                trigger_states.reset(conn, row.id, esc.trigger_id)
            p._set(conn, row, now, status="active", status_detail=None)
            row = p._row(conn, row.id)
            p._event(
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
                ids = [s.id for s in p._stage(wf, row.stage).substages]
                visits.reopen(conn, row.id, ids[ids.index(target) :])
                p._recheck_entry(conn, row, actor, now)
            else:
                visits.close(conn, p._visit(conn, row.id).id, now, "escalation-resolved")
                p._enter(conn, row, target, actor, now, f"{esc.code} resolved: resume at stage {target}")
            return _escalation(resolved)
