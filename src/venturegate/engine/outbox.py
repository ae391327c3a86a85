"""The notification outbox: rows written with their events, delivered later by the worker.

Delivery is at-least-once and crash-safe: a deliverer *claims* a due group (a token, and a lease
written into `next_attempt_at`) and commits; sends; then, in a second transaction, marks the rows
it still holds sent, or counts the failed attempt and schedules the next one with exponential
backoff — or dead-letters the rows after the last attempt. A deliverer that dies after claiming
leaves its rows pending; they fall due again when the lease ends and are sent again.
"""

from __future__ import annotations

import hashlib
import logging
import time
import uuid
from collections import defaultdict
from dataclasses import asdict, dataclass, field
from datetime import datetime, timedelta
from typing import Any, Literal

from sqlalchemy import Connection
from sqlalchemy.exc import OperationalError

from venturegate.core.durations import parse_duration
from venturegate.definitions.loader import LoadedWorkflow
from venturegate.engine.actors import Actor
from venturegate.engine.exceptions import BadInput, Collision, Conflict, NotFound, StoreUnavailable
from venturegate.engine.plumbing import Plumbing
from venturegate.engine.records import Event
from venturegate.notify.messages import Batch, Item
from venturegate.notify.routing import RoutingPlan
from venturegate.store import outbox as store
from venturegate.store.outbox import OutboxRow

log = logging.getLogger("venturegate.outbox")

OutboxStatus = Literal["pending", "sent", "dead"]
STATUSES: tuple[OutboxStatus, ...] = ("pending", "sent", "dead")
LEASE = timedelta(minutes=10)
"""How long a claimed group is held by its deliverer before another may send it again (`notifications.lease`)."""
MAX_GROUP = 100
"""Most notifications in one message; a larger group goes out as several."""
CLAIM_GROUPS = 200
"""Most groups one delivery run claims."""
SETTLE_ATTEMPTS = 5
"""Tries at recording a delivery run's outcome (each only changes rows its claim still holds: safe to repeat)."""


def _iso(value: Any) -> Any:
    return value.isoformat() if isinstance(value, datetime) else value


@dataclass(frozen=True)
class OutboxEntry:
    """One notification in the outbox: where it goes, its state and its delivery history."""

    id: int
    event_id: int
    venture_id: int | None
    channel: str
    kind: str
    severity: str
    stage: int | None
    group_key: str
    status: str
    attempts: int
    created_at: datetime
    next_attempt_at: datetime
    sent_at: datetime | None
    delivery: str | None
    last_error: str | None

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready dict (datetimes as ISO 8601)."""
        return {k: _iso(v) for k, v in asdict(self).items()}


@dataclass
class DeliveryReport:
    """What one delivery run did."""

    claimed: int = 0
    """Notifications claimed (due, or waiting in a due group)."""
    messages: int = 0
    """Messages the channels took (a message carries a whole group)."""
    sent: int = 0
    """Notifications delivered."""
    retrying: int = 0
    """Notifications whose attempt failed and that will be tried again."""
    dead: list[int] = field(default_factory=list)
    """Ids of notifications dead-lettered by this run."""
    errors: list[str] = field(default_factory=list)
    """`channel: error` for each failed message."""
    next_due: datetime | None = None
    """When the next pending notification falls due."""

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready dict."""
        return {k: _iso(v) for k, v in asdict(self).items()}


@dataclass(frozen=True)
class _Claimed:
    batch: Batch
    claim: str


def _entry(r: OutboxRow) -> OutboxEntry:
    return OutboxEntry(
        r.id,
        r.event_id,
        r.venture_id,
        r.channel,
        r.kind,
        r.severity,
        r.stage,
        r.group_key,
        r.status,
        r.attempts,
        r.created_at,
        r.next_attempt_at,
        r.sent_at,
        r.delivery,
        r.last_error,
    )


def _delivery_id(ids: list[int]) -> str:
    """Stable for the same set of notifications, so a retried message keeps its id (receivers deduplicate)."""
    return "d-" + hashlib.sha256(",".join(map(str, ids)).encode()).hexdigest()[:24]


class Outbox:
    """Routing events to notification channels through the outbox, and its delivery (the engine's `outbox`).

    `notify` runs for every event (the engine's `_notify` hook calls it, in the event's transaction); it holds
    the routing plan of the plumbing's workflow, compiled once per workflow object.
    """

    def __init__(self, plumbing: Plumbing) -> None:
        self.plumbing = plumbing
        self._plan: tuple[LoadedWorkflow, RoutingPlan, timedelta, timedelta] | None = None

    def routing(self) -> tuple[RoutingPlan, timedelta]:
        """The routing plan of the engine's workflow and its group wait, compiled once (deployment config)."""
        cached = self._settings()
        return cached[1], cached[2]

    def _settings(self) -> tuple[LoadedWorkflow, RoutingPlan, timedelta, timedelta]:
        """The workflow, its routing plan, its group wait and its claim lease."""
        cached = self._plan
        workflow = self.plumbing.workflow
        if cached is None or cached[0] is not workflow:
            plan = RoutingPlan.for_workflow(workflow.workflow)
            wait = timedelta(seconds=parse_duration(plan.config.group_wait))
            cached = (workflow, plan, wait, timedelta(seconds=parse_duration(plan.config.lease)))
            self._plan = cached
        return cached

    def notify(self, conn: Connection, event: Event) -> None:
        """Queue the event's notifications in the outbox, in the event's transaction (no query when none match)."""
        plan, wait = self.routing()
        routed = plan.route(event.kind, event.venture_id, event.stage, event.data)
        if not routed:
            return
        due = event.at + wait
        store.queue(
            conn,
            [
                {
                    "event_id": event.id,
                    "venture_id": event.venture_id,
                    "channel": r.channel,
                    "kind": event.kind,
                    "severity": r.severity,
                    "stage": event.stage,
                    "group_key": r.group_key,
                    "status": "pending",
                    "attempts": 0,
                    "created_at": event.at,
                    "next_attempt_at": due,
                }
                for r in routed
            ],
        )

    # -- reading and retrying ----------------------------------------------------------------
    def entries(self, status: str | None = None, *, limit: int = 200) -> list[OutboxEntry]:
        """Notifications, newest first; `status` is pending, sent or dead."""
        if status is not None and status not in STATUSES:
            raise BadInput(f"unknown status '{status}'", where="--status", hint="pending, sent or dead")
        with self.plumbing.tx() as conn:
            return [_entry(r) for r in store.entries(conn, status, limit)]

    def retry(self, outbox_id: int, *, actor: Actor, now: datetime | None = None) -> OutboxEntry:
        """Put a dead-lettered notification back to pending, due now, with its attempts reset."""
        now = self.plumbing.when(now)
        with self.plumbing.tx() as conn:
            r = store.entry(conn, outbox_id)
            if r is None:
                raise NotFound(f"no notification #{outbox_id}", where="ID", hint="`venturegate outbox` lists them")
            if r.status != "dead":
                raise Conflict(f"notification #{outbox_id} is {r.status}; only a dead one can be retried")
            store.retry(conn, outbox_id, now)
            self.plumbing._event(
                conn,
                r.venture_id,
                "outbox.retried",
                actor,
                now,
                stage=r.stage,
                reason=f"notification #{outbox_id} to {r.channel}",
                data={"outbox": outbox_id, "channel": r.channel, "last_error": r.last_error},
            )
            found = store.entry(conn, outbox_id)
            assert found is not None, "the notification was read in this transaction"
            return _entry(found)

    # -- delivery ----------------------------------------------------------------------------
    def deliver(self, now: datetime | None = None, *, limit: int = CLAIM_GROUPS) -> DeliveryReport:
        """Send every due group as one message per group; count failures, back off, dead-letter the exhausted."""
        started = self.plumbing.when(now)
        plan, _ = self.routing()
        claimed = self.claim(started, limit)
        from venturegate.notify.delivery import deliver  # aiohttp: only when there is something to send

        outcomes = deliver([c.batch for c in claimed], plan.config.channels) if claimed else {}
        finished = started if now is not None else self.plumbing.when(None)
        # Messages are out: recording that must survive a dropped connection, or they go out again after the lease.
        for attempt in range(SETTLE_ATTEMPTS):
            try:
                return self.settle(claimed, outcomes, finished, plan)
            except (OperationalError, StoreUnavailable, Collision):  # the engine's transaction translates the first
                if attempt == SETTLE_ATTEMPTS - 1:
                    raise
                log.warning("outbox: recording %d sent messages failed; trying again", len(outcomes), exc_info=True)
                time.sleep(0.1 * 2**attempt)
        raise AssertionError("unreachable")

    def claim(self, now: datetime, limit: int) -> list[_Claimed]:
        """Claim due groups (a group is due when its oldest pending notification is) in one transaction."""
        found: list[_Claimed] = []
        with self.plumbing.tx() as conn:
            keys = store.due_groups(conn, now, limit)
            lease = self._settings()[3]
            for key in keys:
                claimed = self._claim_group(conn, key, now, lease)
                if claimed is not None:
                    found.append(claimed)
        return found

    def _claim_group(self, conn: Connection, key: str, now: datetime, lease: timedelta = LEASE) -> _Claimed | None:
        rows = store.group_rows(conn, key, now, MAX_GROUP)
        if not rows or rows[0].next_attempt_at > now:
            return None
        ids = [r.id for r in rows]
        claim = uuid.uuid4().hex
        store.claim(conn, ids, claim, now + lease)
        items = tuple(
            Item(r.id, r.event_id, r.kind, r.severity, r.name, r.stage, r.reason, r.at, r.actor, r.data) for r in rows
        )
        return _Claimed(Batch(_delivery_id(ids), rows[0].channel, key, items), claim)

    def settle(
        self, claimed: list[_Claimed], outcomes: dict[str, str | None], now: datetime, plan: RoutingPlan
    ) -> DeliveryReport:
        """Record each message's outcome on the rows the claim still holds (a lost lease changes nothing)."""
        report = DeliveryReport(claimed=sum(len(c.batch.items) for c in claimed))
        cfg = plan.config
        with self.plumbing.tx() as conn:
            for c in claimed:
                error = outcomes.get(c.batch.delivery, "not attempted")
                if error is None:
                    report.messages += 1
                    report.sent += self._mark_sent(conn, c, now)
                else:
                    report.errors.append(f"{c.batch.channel}: {error}")
                    self._mark_failed(conn, c, error, now, cfg.max_attempts, cfg.backoff, cfg.max_backoff, report)
            report.next_due = self._next_due(conn)
        return report

    @staticmethod
    def _next_due(conn: Connection) -> datetime | None:
        """When the next group falls due: the earliest next attempt of each group's oldest pending row."""
        return store.next_due(conn)

    @staticmethod
    def _mark_sent(conn: Connection, c: _Claimed, now: datetime) -> int:
        return store.mark_sent(conn, [i.outbox_id for i in c.batch.items], c.claim, c.batch.delivery, now)

    @staticmethod
    def _mark_failed(
        conn: Connection,
        c: _Claimed,
        error: str,
        now: datetime,
        max_attempts: int,
        backoff: str,
        max_backoff: str,
        report: DeliveryReport,
    ) -> None:
        held = store.held_attempts(conn, [i.outbox_id for i in c.batch.items], c.claim)
        by_attempts: dict[int, list[int]] = defaultdict(list)
        for r in held:
            by_attempts[r.attempts + 1].append(r.id)
        for attempts, ids in by_attempts.items():
            dead = attempts >= max_attempts
            wait = backoff_seconds(attempts, backoff, max_backoff)
            due = now if dead else now + timedelta(seconds=wait)
            store.mark_failed(conn, ids, dead=dead, attempts=attempts, next_attempt_at=due, error=error[:2000])
            if dead:
                report.dead += ids
                log.warning("dead-lettered notifications %s to %s: %s", ids, c.batch.channel, error)
            else:
                report.retrying += len(ids)


def backoff_seconds(attempts: int, backoff: str, max_backoff: str) -> float:
    """Wait after the `attempts`-th failed attempt: `backoff`, doubled for each further attempt, capped."""
    return float(min(parse_duration(backoff) * 2 ** (attempts - 1), parse_duration(max_backoff)))
