"""Approval requests for a role, with a timeout from the stage's policy, their decisions and emergency bypasses."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Connection

from venturegate.core.durations import format_time, parse_duration
from venturegate.engine.actors import Actor
from venturegate.engine.exceptions import BadInput, Conflict, Forbidden, NotFound
from venturegate.engine.plumbing import Plumbing
from venturegate.engine.records import Approval
from venturegate.engine.triggers import Triggers
from venturegate.store import approvals as store
from venturegate.store.approvals import ApprovalRow


@dataclass(frozen=True)
class ReviewedApproval(Approval):
    """An approval with the review of its emergency bypass; `awaiting_review` flags the venture."""

    reviewed_by: str | None = None
    reviewed_at: datetime | None = None
    review_reason: str | None = None
    awaiting_review: bool = False


def _approval(r: ApprovalRow) -> ReviewedApproval:
    return ReviewedApproval(
        r.id,
        r.venture_id,
        r.stage,
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
        r.reviewed_by,
        r.reviewed_at,
        r.review_reason,
        r.status == "bypassed" and r.reviewed_at is None,
    )


class Approvals:
    """Requesting, deciding, bypassing approvals and reviewing bypasses (the engine's `approval_requests`).

    Depends on the plumbing and the triggers (a decision can act on a trigger waiting for it, and is a fact).
    """

    def __init__(self, plumbing: Plumbing, triggers: Triggers) -> None:
        self.plumbing = plumbing
        self.triggers = triggers

    def request(
        self,
        ref: str | int,
        role: str,
        *,
        actor: Actor,
        reason: str = "",
        payload: dict[str, Any] | None = None,
        now: datetime | None = None,
    ) -> ReviewedApproval:
        """Ask a role to approve something in the current stage (an open request for that role is returned as is)."""
        now = self.plumbing.when(now)
        with self.plumbing.tx() as conn:
            row = self.plumbing._row(conn, ref, lock=True)
            if row.status in ("killed", "completed"):
                raise Conflict(f"venture '{row.name}' is {row.status}")
            wf = self.plumbing.pinned(conn, row.workflow_digest).workflow
            if role not in wf.roles:
                raise NotFound(f"unknown role '{role}'", where="--role", hint="roles: " + ", ".join(wf.roles))
            visit = self.plumbing._visit(conn, row.id)
            open_ = store.pending(conn, visit.id, role)
            if open_ is not None and (open_.expires_at is None or open_.expires_at > now):
                return _approval(open_)
            policy = wf.approval_policy(row.stage, role)
            timeout = policy.timeout
            if timeout.startswith("config."):
                timeout = str(self.plumbing._effective(conn, wf, row)[timeout.removeprefix("config.")].value)
            expires = now + timedelta(seconds=parse_duration(timeout))
            aid = store.insert_request(
                conn,
                venture_id=row.id,
                visit_id=visit.id,
                stage=row.stage,
                role=role,
                reason=reason,
                payload=payload,
                requested_by=actor.name,
                requested_at=now,
                expires_at=expires,
            )
            self.plumbing._set(conn, row, now)
            self.plumbing._schedule(conn, row.id, "approval", str(aid), expires)
            self.plumbing._event(
                conn,
                row,
                "approval.requested",
                actor,
                now,
                reason=reason,
                data={"approval": aid, "role": role, "expires_at": expires.isoformat()},
            )
            return _approval(self._approval_row(conn, aid))

    def decide(
        self,
        approval_id: int,
        approve: bool,
        *,
        actor: Actor,
        reason: str = "",
        now: datetime | None = None,
    ) -> ReviewedApproval:
        """Approve or reject a pending request; only its role may decide."""
        now = self.plumbing.when(now)
        with self.plumbing.tx() as conn:
            r = self._approval_or_404(conn, approval_id)
            if actor.role != r.role:
                raise Forbidden(f"approval #{approval_id} is for {r.role}; {actor.name} acts as {actor.role}")
            row = self.plumbing._row(conn, r.venture_id, lock=True)
            if r.status == "pending" and r.expires_at is not None and now >= r.expires_at:
                store.update_approval(conn, r.id, status="expired")
                self.plumbing._event(
                    conn,
                    row,
                    "approval.expired",
                    actor,
                    now,
                    stage=r.stage,
                    data={"approval": r.id, "role": r.role},
                )
                raise_after = Conflict(
                    f"approval #{approval_id} expired at {format_time(r.expires_at)}; request a new one"
                )
            elif r.status != "pending":
                raise Conflict(f"approval #{approval_id} is already {r.status}")
            else:
                raise_after = None
            if raise_after is None:
                status = "approved" if approve else "rejected"
                store.update_approval(
                    conn, r.id, status=status, decided_by=actor.name, decided_at=now, decision_reason=reason
                )
                self.plumbing._set(conn, row, now)
                self.plumbing._event(
                    conn,
                    row,
                    f"approval.{status}",
                    actor,
                    now,
                    stage=r.stage,
                    reason=reason,
                    data={"approval": r.id, "role": r.role},
                )
                self.triggers.after_decision(conn, self._approval_row(conn, r.id), approve, actor, now)
                self.plumbing._recheck_entry(conn, self.plumbing._row(conn, row.id), actor, now)
                self.triggers.facts_changed(conn, self.plumbing._row(conn, row.id), now)
            result = _approval(self._approval_row(conn, approval_id))
        if raise_after is not None:
            raise raise_after
        return result

    def bypass(
        self,
        approval_id: int,
        *,
        actor: Actor,
        reason: str = "",
        now: datetime | None = None,
    ) -> ReviewedApproval:
        """Grant a pending approval in an emergency, without its role: the venture is flagged until reviewed.

        Only a role the approval's policy lists under `bypass.roles` may, with a reason when the policy
        requires one; the approval becomes `bypassed` (decided_by/at/reason say who, when and why).
        """
        now = self.plumbing.when(now)
        reason = reason.strip()
        with self.plumbing.tx() as conn:
            r = self._approval_or_404(conn, approval_id)
            row = self.plumbing._row(conn, r.venture_id, lock=True)
            wf = self.plumbing.pinned(conn, row.workflow_digest).workflow
            policy = wf.approval_policy(r.stage, r.role).bypass
            if policy is None:
                raise Forbidden(
                    f"approval #{approval_id} ({r.role}, stage {r.stage}) may not be bypassed: "
                    "its policy says bypass: null"
                )
            if actor.role not in policy.roles:
                raise Forbidden(
                    f"only {' or '.join(policy.roles)} may bypass approval #{approval_id}; "
                    f"{actor.name} acts as {actor.role}"
                )
            if policy.reason_required and not reason:
                raise BadInput(
                    f"bypassing approval #{approval_id} needs a reason",
                    where="--reason",
                    hint='say why it cannot wait, e.g. --reason "payment outage, launch today"',
                )
            if r.status != "pending":
                raise Conflict(f"approval #{approval_id} is {r.status}; only a pending approval can be bypassed")
            if r.expires_at is not None and now >= r.expires_at:
                raise Conflict(f"approval #{approval_id} expired at {format_time(r.expires_at)}; request a new one")
            if row.status in ("killed", "completed"):
                raise Conflict(f"venture '{row.name}' is {row.status}")
            store.update_approval(
                conn, r.id, status="bypassed", decided_by=actor.name, decided_at=now, decision_reason=reason
            )
            self.plumbing._set(conn, row, now)
            self.plumbing._event(
                conn,
                row,
                "approval.bypassed",
                actor,
                now,
                stage=r.stage,
                reason=reason,
                data={"approval": r.id, "role": r.role, "review_role": wf.defaults.escalation_role},
            )
            self.triggers.after_decision(conn, self._approval_row(conn, r.id), True, actor, now)
            self.plumbing._recheck_entry(conn, self.plumbing._row(conn, row.id), actor, now)
            self.triggers.facts_changed(conn, self.plumbing._row(conn, row.id), now)
            return _approval(self._approval_row(conn, r.id))

    def _approval_or_404(self, conn: Connection, approval_id: int) -> ApprovalRow:
        r = store.approval(conn, approval_id)
        if r is None:
            raise NotFound(f"no approval #{approval_id}", where="ID", hint="`venturegate approval list` shows them")
        return r

    def review(
        self,
        approval_id: int,
        *,
        actor: Actor,
        reason: str,
        now: datetime | None = None,
    ) -> ReviewedApproval:
        """Review an emergency bypass, which lifts the venture's flag once no other bypass awaits review.

        The reviewer is the workflow's escalation role (`defaults.escalation_role`, chairman by default)
        and must be someone other than the person who bypassed.
        """
        now = self.plumbing.when(now)
        reason = reason.strip()
        with self.plumbing.tx() as conn:
            r = self._approval_or_404(conn, approval_id)
            row = self.plumbing._row(conn, r.venture_id, lock=True)
            reviewer = self.plumbing.pinned(conn, row.workflow_digest).workflow.defaults.escalation_role
            if actor.role != reviewer:
                raise Forbidden(f"bypass reviews are for {reviewer}; {actor.name} acts as {actor.role}")
            if not reason:
                raise BadInput(
                    f"reviewing the bypass of approval #{approval_id} needs a reason",
                    where="--reason",
                    hint='e.g. --reason "justified: outage confirmed"',
                )
            if r.status != "bypassed":
                raise Conflict(f"approval #{approval_id} is {r.status}, not bypassed; there is nothing to review")
            if r.reviewed_at is not None:
                raise Conflict(
                    f"the bypass of approval #{approval_id} was already reviewed by {r.reviewed_by} "
                    f"at {format_time(r.reviewed_at)}"
                )
            if actor.name == r.decided_by:
                raise Forbidden(f"{actor.name} bypassed approval #{approval_id}; another {reviewer} must review it")
            store.update_approval(conn, r.id, reviewed_by=actor.name, reviewed_at=now, review_reason=reason)
            self.plumbing._set(conn, row, now)
            still = store.unreviewed_ids(conn, row.id)
            self.plumbing._event(
                conn,
                row,
                "approval.reviewed",
                actor,
                now,
                stage=r.stage,
                reason=reason,
                data={"approval": r.id, "role": r.role, "bypassed_by": r.decided_by, "still_flagged": still},
            )
            return _approval(self._approval_row(conn, r.id))

    def _approval_row(self, conn: Connection, approval_id: int) -> ApprovalRow:
        found = store.approval(conn, approval_id)
        assert found is not None, "the approval was read in this transaction"
        return found

    def listing(
        self, ref: str | int | None = None, status: str | None = None, *, unreviewed: bool = False
    ) -> list[ReviewedApproval]:
        """Approval requests, newest first; `unreviewed` keeps the bypasses that await review."""
        with self.plumbing.tx() as conn:
            vid = None if ref is None else self.plumbing._row(conn, ref).id
            return [_approval(r) for r in store.approval_rows(conn, vid, status, unreviewed)]

    def unreviewed(self, ref: str | int | None = None) -> list[ReviewedApproval]:
        """Bypassed approvals awaiting review (what flags a venture), newest first."""
        return self.listing(ref, unreviewed=True)
