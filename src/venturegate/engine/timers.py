"""Durable timers: `tick(now)` runs whatever is due. The database holds the truth; a queue only wakes us."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Connection

from venturegate.core.cadence import cadence_seconds, stale_grace
from venturegate.engine.actors import SYSTEM
from venturegate.engine.escalations import Escalations
from venturegate.engine.plumbing import Plumbing
from venturegate.engine.records import Fired
from venturegate.engine.triggers import Triggers
from venturegate.store import approvals as approval_requests
from venturegate.store import timers as stored
from venturegate.store.timers import TimerRow
from venturegate.store.trigger_states import VentureRow


@dataclass
class TickReport:
    """What one tick did."""

    now: datetime
    timers: int = 0
    fired: list[Fired] = field(default_factory=list)
    expired: list[int] = field(default_factory=list)
    stale: list[tuple[int, str]] = field(default_factory=list)
    next_due: datetime | None = None

    def as_dict(self) -> dict[str, Any]:
        """JSON form."""
        return {
            "now": self.now.isoformat(),
            "timers": self.timers,
            "fired": [f.as_dict() for f in self.fired],
            "expired_approvals": self.expired,
            "stale": [{"venture_id": v, "metric": m} for v, m in self.stale],
            "next_due": self.next_due.isoformat() if self.next_due else None,
        }


class Timers:
    """Running due timers: trigger `for` and cooldown ends, approval timeouts, measurement cadence."""

    def __init__(self, plumbing: Plumbing, triggers: Triggers, escalations: Escalations) -> None:
        self.plumbing = plumbing
        self.triggers = triggers
        self.escalations = escalations

    def tick(self, *, now: datetime | None = None, limit: int = 1000) -> TickReport:
        """Run every timer due at `now` (each in its own transaction, so one failure loses nothing else)."""
        p = self.plumbing
        now = p.when(now)
        report = TickReport(now)
        with p.tx() as conn:
            due = stored.due(conn, now, limit)
        for timer_id in due:
            with p.tx() as conn:
                t = stored.pending(conn, timer_id)
                if t is None:
                    continue  # another worker took it
                # Lock the venture first, as every other writer of its trigger states does (venture, then
                # timers): judging from states read without it, a timer and a sample batch of the same venture
                # both fired one trigger episode, the later write keeping one count for two `trigger.fired`.
                row = p._row(conn, t.venture_id, lock=True)
                # The claim re-checks `done_at` and `due_at` under the row lock: on PostgreSQL a worker that read
                # the timer before another committed its claim (or moved it later) would otherwise run it now.
                if not stored.claim(conn, t.id, now):
                    continue
                self._run(conn, t, row, now, report)
                report.timers += 1
        with p.tx() as conn:
            report.next_due = stored.next_due(conn)
        return report

    def _run(self, conn: Connection, t: TimerRow, row: VentureRow, now: datetime, report: TickReport) -> None:
        """Run a claimed timer of the venture `row` (locked on PostgreSQL)."""
        if t.kind == "trigger":
            if row.status == "active":
                report.fired += self.triggers.evaluate(conn, row, now, None, only=t.ref)
        elif t.kind == "approval":
            self._expire(conn, row, int(t.ref), now, report)
        elif t.kind == "stale":
            self._check_stale(conn, row, t.ref, now, report)

    def _expire(self, conn: Connection, row: VentureRow, approval_id: int, now: datetime, report: TickReport) -> None:
        a = approval_requests.approval(conn, approval_id)
        if a is None or a.status != "pending" or a.expires_at is None or a.expires_at > now:
            return
        approval_requests.update_approval(conn, a.id, status="expired")
        report.expired.append(a.id)
        p = self.plumbing
        p._event(
            conn,
            row.id,
            "approval.expired",
            SYSTEM,
            now,
            stage=a.stage,
            reason=a.reason,
            data={"approval": a.id, "role": a.role, "trigger": (a.payload or {}).get("trigger")},
        )
        wf = p.pinned(conn, row.workflow_digest).workflow
        if wf.approval_policy(a.stage, a.role).on_timeout == "escalate" and row.status in ("active", "blocked"):
            self.escalations.open(conn, row, a.role, f"approval #{a.id} for {a.role} expired", now, None)

    def _check_stale(self, conn: Connection, row: VentureRow, metric: str, now: datetime, report: TickReport) -> None:
        p = self.plumbing
        m = p.pinned(conn, row.workflow_digest).workflow.metric(metric)
        cadence = cadence_seconds(m.frequency) if m else None
        if cadence is None:
            return
        last = stored.last_sample_at(conn, row.id, metric)
        limit = timedelta(seconds=cadence + stale_grace(cadence))
        if last is None or last + limit <= now:
            report.stale.append((row.id, metric))
            p._event(
                conn,
                row.id,
                "metric.stale",
                SYSTEM,
                now,
                stage=row.stage,
                reason=metric,
                data={
                    "metric": metric,
                    "last": last.isoformat() if last else None,
                    "cadence": m.frequency if m else None,
                },
            )
