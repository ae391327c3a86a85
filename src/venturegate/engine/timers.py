"""Durable timers: `tick(now)` runs whatever is due. The database holds the truth; a queue only wakes us."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Connection, Row, select, update

from venturegate.core.cadence import cadence_seconds, stale_grace
from venturegate.engine.actors import SYSTEM
from venturegate.engine.records import Fired
from venturegate.engine.triggers import TriggerOps
from venturegate.store.schema import approvals, samples, timers
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


class TimerOps(TriggerOps):
    """Running due timers: trigger `for` and cooldown ends, approval timeouts, measurement cadence."""

    def tick(self, *, now: datetime | None = None, limit: int = 1000) -> TickReport:
        """Run every timer due at `now` (each in its own transaction, so one failure loses nothing else)."""
        now = self.when(now)
        report = TickReport(now)
        with self.tx() as conn:
            due = (
                conn.execute(
                    select(timers.c.id)
                    .where(timers.c.done_at.is_(None), timers.c.due_at <= now)
                    .order_by(timers.c.due_at, timers.c.id)
                    .limit(limit)
                )
                .scalars()
                .all()
            )
        for timer_id in due:
            with self.tx() as conn:
                t = conn.execute(select(timers).where(timers.c.id == timer_id, timers.c.done_at.is_(None))).first()
                if t is None:
                    continue  # another worker took it
                # Lock the venture first, as every other writer of its trigger states does (venture, then
                # timers): judging from states read without it, a timer and a sample batch of the same venture
                # both fired one trigger episode, the later write keeping one count for two `trigger.fired`.
                row = self._row(conn, int(t.venture_id), lock=True)
                # The claim re-checks `done_at` and `due_at` under the row lock: on PostgreSQL a worker that read
                # the timer before another committed its claim (or moved it later) would otherwise run it now.
                claimed = conn.execute(
                    update(timers)
                    .where(timers.c.id == t.id, timers.c.done_at.is_(None), timers.c.due_at <= now)
                    .values(done_at=now)
                ).rowcount
                if claimed != 1:
                    continue
                self._run_timer(conn, t, row, now, report)
                report.timers += 1
        with self.tx() as conn:
            report.next_due = conn.execute(
                select(timers.c.due_at).where(timers.c.done_at.is_(None)).order_by(timers.c.due_at).limit(1)
            ).scalar()
        return report

    def _run_timer(self, conn: Connection, t: Row[Any], row: VentureRow, now: datetime, report: TickReport) -> None:
        """Run a claimed timer of the venture `row` (locked on PostgreSQL)."""
        if t.kind == "trigger":
            if row.status == "active":
                report.fired += self._evaluate_triggers(conn, row, now, None, only=t.ref)
        elif t.kind == "approval":
            self._expire(conn, row, int(t.ref), now, report)
        elif t.kind == "stale":
            self._check_stale(conn, row, t.ref, now, report)

    def _expire(self, conn: Connection, row: VentureRow, approval_id: int, now: datetime, report: TickReport) -> None:
        a = conn.execute(select(approvals).where(approvals.c.id == approval_id)).one()
        if a.status != "pending" or a.expires_at is None or a.expires_at > now:
            return
        conn.execute(update(approvals).where(approvals.c.id == a.id).values(status="expired"))
        report.expired.append(int(a.id))
        self._event(
            conn,
            row.id,
            "approval.expired",
            SYSTEM,
            now,
            stage=int(a.stage),
            reason=a.reason,
            data={"approval": int(a.id), "role": a.role, "trigger": (a.payload or {}).get("trigger")},
        )
        wf = self.pinned(conn, row.workflow_digest).workflow
        if wf.approval_policy(int(a.stage), a.role).on_timeout == "escalate" and row.status in ("active", "blocked"):
            self._escalate(conn, row, a.role, f"approval #{a.id} for {a.role} expired", now, None)

    def _check_stale(self, conn: Connection, row: VentureRow, metric: str, now: datetime, report: TickReport) -> None:
        m = self.pinned(conn, row.workflow_digest).workflow.metric(metric)
        cadence = cadence_seconds(m.frequency) if m else None
        if cadence is None:
            return
        last = conn.execute(
            select(samples.c.at)
            .where(samples.c.venture_id == row.id, samples.c.metric == metric)
            .order_by(samples.c.at.desc())
            .limit(1)
        ).scalar()
        limit = timedelta(seconds=cadence + stale_grace(cadence))
        if last is None or last + limit <= now:
            report.stale.append((row.id, metric))
            self._event(
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
