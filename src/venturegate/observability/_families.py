"""The metric families of `/metrics`, each built from one aggregate query on the store.

Every function takes an open connection and returns one family. Counters count rows of append-only
tables (samples, events, stage visits, rollbacks, timers that ran), so they only grow and agree
between processes; gauges count rows in a state right now. The README ("Observability") lists them.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from datetime import datetime
from typing import Any

from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric, SummaryMetricFamily
from sqlalchemy import Connection, Select, bindparam, func, literal, select

from venturegate.definitions.model import Workflow
from venturegate.observability._sql import seconds_between
from venturegate.store.schema import (
    approvals,
    escalations,
    events,
    jobs,
    outbox,
    rollbacks,
    samples,
    stage_visits,
    timers,
    ventures,
)

PREFIX = "venturegate"

GATE_EVENTS: dict[str, tuple[str, str]] = {
    "stage.exited": ("exit", "passed"),  # an advance whose exit gate passed
    "trigger.waiting": ("exit", "failed"),  # an advance trigger fired but the exit gate did not pass
    "venture.blocked": ("entry", "failed"),  # the entry gate failed on entry (or on a recheck)
    "venture.unblocked": ("entry", "passed"),  # a blocked venture's entry gate passed on a recheck
}
"""The events that record a gate verdict, and the verdict each records."""

LIVE_STATUSES = ("active", "blocked", "paused")
"""Ventures whose latest metric values are exposed (completed and killed ones are history)."""

OUTBOX_BACKLOG = ("pending", "dead")
"""Outbox statuses that are a backlog (sent rows are history, and not counted on every scrape)."""

Pinned = Callable[[Connection, str], Workflow]


def _label(value: object) -> str:
    return "" if value is None else str(value)


def ventures_by_stage(conn: Connection) -> Metric:
    """`venturegate_ventures{stage, status}`: ventures now at each stage in each status."""
    fam = GaugeMetricFamily(f"{PREFIX}_ventures", "Ventures by current stage and status.", labels=["stage", "status"])
    q = select(ventures.c.stage, ventures.c.status, func.count()).group_by(ventures.c.stage, ventures.c.status)
    for stage, status, n in conn.execute(q.order_by(ventures.c.stage, ventures.c.status)):
        fam.add_metric([_label(stage), status], float(n))
    return fam


def samples_ingested(conn: Connection) -> Metric:
    """`venturegate_samples_ingested_total`: stored samples (a duplicate by idempotency key is stored once).

    A plain `count(*)`: grouping by metric would sort the whole sample history on every scrape.
    """
    fam = CounterMetricFamily(f"{PREFIX}_samples_ingested", "Metric samples stored (each idempotency key once).")
    fam.add_metric([], float(conn.execute(select(func.count()).select_from(samples)).scalar_one()))
    return fam


def trigger_firings(conn: Connection) -> Metric:
    """`venturegate_trigger_firings_total{stage, trigger}`: `trigger.fired` events by their `data.trigger`."""
    fam = CounterMetricFamily(
        f"{PREFIX}_trigger_firings",
        "Trigger firings (trigger.fired events), by stage and trigger id.",
        labels=["stage", "trigger"],
    )
    trigger = events.c.data["trigger"].as_string().label("trigger")  # json_extract on SQLite, ->> on PostgreSQL
    q = (
        select(events.c.stage, trigger, func.count())
        .where(events.c.kind == "trigger.fired")
        .group_by(events.c.stage, trigger)
    )
    for stage, trig, n in sorted(conn.execute(q), key=lambda r: (r[0] or 0, r[1] or "")):
        fam.add_metric([_label(stage), _label(trig)], float(n))
    return fam


def gate_verdicts(conn: Connection) -> Metric:
    """`venturegate_gate_verdicts_total{stage, gate, verdict}`: gate verdicts the event log records (`GATE_EVENTS`)."""
    fam = CounterMetricFamily(
        f"{PREFIX}_gate_verdicts",
        "Recorded gate verdicts, by stage, gate and verdict.",
        labels=["stage", "gate", "verdict"],
    )
    counts: dict[tuple[str, str, str], float] = {}
    q = (
        select(events.c.stage, events.c.kind, func.count())
        .where(events.c.kind.in_(list(GATE_EVENTS)))
        .group_by(events.c.stage, events.c.kind)
    )
    for stage, kind, n in conn.execute(q):
        gate, verdict = GATE_EVENTS[kind]
        key = (_label(stage), gate, verdict)
        counts[key] = counts.get(key, 0.0) + float(n)
    for labels, n in sorted(counts.items()):
        fam.add_metric(list(labels), n)
    return fam


def stage_entries(conn: Connection) -> Metric:
    """`venturegate_stage_entries_total{stage}`: stage visits opened (each entry judges the entry gate once)."""
    fam = CounterMetricFamily(f"{PREFIX}_stage_entries", "Entries into a stage (stage visits).", labels=["stage"])
    q = select(stage_visits.c.stage, func.count()).group_by(stage_visits.c.stage).order_by(stage_visits.c.stage)
    for stage, n in conn.execute(q):
        fam.add_metric([_label(stage)], float(n))
    return fam


def approvals_pending(conn: Connection) -> Metric:
    """`venturegate_approvals_pending{stage, role}`: approval requests waiting for a decision."""
    fam = GaugeMetricFamily(
        f"{PREFIX}_approvals_pending", "Approvals waiting for a decision.", labels=["stage", "role"]
    )
    q = (
        select(approvals.c.stage, approvals.c.role, func.count())
        .where(approvals.c.status == "pending")
        .group_by(approvals.c.stage, approvals.c.role)
        .order_by(approvals.c.stage, approvals.c.role)
    )
    for stage, role, n in conn.execute(q):
        fam.add_metric([_label(stage), role], float(n))
    return fam


def escalations_open(conn: Connection) -> Metric:
    """`venturegate_escalations_open{stage, role}`: escalations not yet resolved."""
    fam = GaugeMetricFamily(f"{PREFIX}_escalations_open", "Open escalations.", labels=["stage", "role"])
    q = (
        select(escalations.c.stage, escalations.c.role, func.count())
        .where(escalations.c.status == "open")
        .group_by(escalations.c.stage, escalations.c.role)
        .order_by(escalations.c.stage, escalations.c.role)
    )
    for stage, role, n in conn.execute(q):
        fam.add_metric([_label(stage), role], float(n))
    return fam


def outbox_backlog(conn: Connection, channels: Iterable[str]) -> Metric:
    """`venturegate_outbox_messages{status, channel}`: notifications pending (incl. retrying) or dead-lettered.

    Every configured channel has both series (0 when empty), so an alert on dead letters has a series to watch.
    """
    fam = GaugeMetricFamily(
        f"{PREFIX}_outbox_messages",
        "Outbox notifications pending or dead-lettered, by channel.",
        labels=["status", "channel"],
    )
    q = (
        select(outbox.c.status, outbox.c.channel, func.count())
        .where(outbox.c.status.in_(OUTBOX_BACKLOG))
        .group_by(outbox.c.status, outbox.c.channel)
    )
    found = dict.fromkeys(((status, channel) for status in OUTBOX_BACKLOG for channel in channels), 0.0)
    found.update({(status, channel): float(n) for status, channel, n in conn.execute(q)})
    for (status, channel), n in sorted(found.items()):
        fam.add_metric([status, channel], n)
    return fam


def outbox_oldest(conn: Connection, now: datetime) -> Metric:
    """`venturegate_outbox_oldest_pending_seconds`: age of the oldest pending notification (0 when none)."""
    fam = GaugeMetricFamily(f"{PREFIX}_outbox_oldest_pending_seconds", "Age of the oldest pending notification.")
    oldest = conn.execute(select(func.min(outbox.c.created_at)).where(outbox.c.status == "pending")).scalar()
    fam.add_metric([], max(0.0, (now - oldest).total_seconds()) if oldest is not None else 0.0)
    return fam


def timers_due(conn: Connection, now: datetime) -> Metric:
    """`venturegate_timers_due{kind}`: timers due at `now` that no tick has run yet (a stalled worker shows here)."""
    fam = GaugeMetricFamily(f"{PREFIX}_timers_due", "Timers due and not yet run, by kind.", labels=["kind"])
    q = (
        select(timers.c.kind, func.count())
        .where(timers.c.done_at.is_(None), timers.c.due_at <= now)
        .group_by(timers.c.kind)
        .order_by(timers.c.kind)
    )
    for kind, n in conn.execute(q):
        fam.add_metric([kind], float(n))
    return fam


def _summary(fam: SummaryMetricFamily, rows: Iterable[Sequence[Any]]) -> SummaryMetricFamily:
    """Add (labels..., count, sum) rows to a summary, skipping empty groups."""
    for row in sorted(rows, key=lambda r: tuple(_label(v) for v in r[:-2])):
        *labels, count, total = row
        if count:
            fam.add_metric([_label(v) for v in labels], count_value=int(count), sum_value=float(total or 0.0))
    return fam


def timer_lag(conn: Connection) -> Metric:
    """`venturegate_timer_lag_seconds{kind}`: how late ticks ran timed work (`done_at - due_at`), count and sum."""
    lag = seconds_between(timers.c.due_at, timers.c.done_at, conn.dialect.name)
    q = select(timers.c.kind, func.count(), func.sum(lag)).where(timers.c.done_at.is_not(None)).group_by(timers.c.kind)
    fam = SummaryMetricFamily(
        f"{PREFIX}_timer_lag_seconds", "Delay between a timer falling due and a tick running it.", labels=["kind"]
    )
    return _summary(fam, conn.execute(q))


def stage_durations(conn: Connection) -> Metric:
    """`venturegate_stage_duration_seconds{stage, outcome}`: time from entering to leaving a stage, per closed visit."""
    spent = seconds_between(stage_visits.c.entered_at, stage_visits.c.exited_at, conn.dialect.name)
    q = (
        select(stage_visits.c.stage, stage_visits.c.outcome, func.count(), func.sum(spent))
        .where(stage_visits.c.exited_at.is_not(None))
        .group_by(stage_visits.c.stage, stage_visits.c.outcome)
    )
    fam = SummaryMetricFamily(
        f"{PREFIX}_stage_duration_seconds", "Time spent in a stage, per finished visit.", labels=["stage", "outcome"]
    )
    return _summary(fam, conn.execute(q))


def rollback_durations(conn: Connection) -> Metric:
    """`venturegate_rollback_duration_seconds{stage, outcome}`: restore-plus-handlers time the rollback log stores."""
    q = select(rollbacks.c.stage, rollbacks.c.outcome, func.count(), func.sum(rollbacks.c.duration_ms) / 1000.0)
    q = q.group_by(rollbacks.c.stage, rollbacks.c.outcome)
    fam = SummaryMetricFamily(
        f"{PREFIX}_rollback_duration_seconds", "Duration of configuration rollbacks.", labels=["stage", "outcome"]
    )
    return _summary(fam, conn.execute(q))


def job_durations(conn: Connection) -> Metric:
    """`venturegate_job_duration_seconds{stage, crew, status}`: start to finish of each finished crew job."""
    spent = seconds_between(jobs.c.started_at, jobs.c.finished_at, conn.dialect.name)
    q = (
        select(jobs.c.stage, jobs.c.crew, jobs.c.status, func.count(), func.sum(spent))
        .where(jobs.c.started_at.is_not(None), jobs.c.finished_at.is_not(None))
        .group_by(jobs.c.stage, jobs.c.crew, jobs.c.status)
    )
    fam = SummaryMetricFamily(
        f"{PREFIX}_job_duration_seconds", "Run time of finished crew jobs.", labels=["stage", "crew", "status"]
    )
    return _summary(fam, conn.execute(q))


def jobs_active(conn: Connection) -> Metric:
    """`venturegate_jobs{stage, crew, status}` for jobs queued or running right now."""
    q = (
        select(jobs.c.stage, jobs.c.crew, jobs.c.status, func.count())
        .where(jobs.c.status.in_(("queued", "running")))
        .group_by(jobs.c.stage, jobs.c.crew, jobs.c.status)
    )
    fam = GaugeMetricFamily(f"{PREFIX}_jobs", "Crew jobs queued or running.", labels=["stage", "crew", "status"])
    for stage, crew, status, count in sorted(conn.execute(q), key=lambda r: (r[0], r[1], r[2])):
        fam.add_metric([_label(stage), crew, status], int(count))
    return fam


_LATEST: dict[tuple[str, ...], Select[Any]] = {}
"""The per-stage statements of `metric_latest`, by the stage's metric names (built once: building costs)."""

_IDS_PER_QUERY = 900


def _latest_values(names: tuple[str, ...]) -> Select[Any]:
    """Ventures by id with their latest sample (by time, then id) of each metric in `names`: an index seek each."""
    found = _LATEST.get(names)
    if found is None:
        columns = [
            select(samples.c.value)
            .where(samples.c.venture_id == ventures.c.id, samples.c.metric == literal(name))
            .order_by(samples.c.at.desc(), samples.c.id.desc())
            .limit(1)
            .scalar_subquery()
            for name in names
        ]
        found = _LATEST[names] = select(ventures.c.id, *columns).where(
            ventures.c.id.in_(bindparam("ids", expanding=True))
        )
    return found


LatestRow = tuple[str, str, int, str, float]
"""(venture, segment, stage, metric, value)."""


def latest_values(conn: Connection, pinned: Pinned) -> list[LatestRow]:
    """The latest sample (by time) of each live venture for each metric of its current stage.

    The live ventures are read once; then, per stage, their latest values come from index seeks, so the
    cost grows with the ventures and their stages' metrics, not with the length of the sample history.
    """
    live = select(ventures.c.id, ventures.c.name, ventures.c.segment, ventures.c.stage, ventures.c.workflow_digest)
    groups: dict[tuple[int, str], dict[int, tuple[str, str]]] = {}
    for vid, name, segment, stage_id, digest in conn.execute(live.where(ventures.c.status.in_(LIVE_STATUSES))):
        groups.setdefault((int(stage_id), digest), {})[int(vid)] = (name, segment)
    rows: list[LatestRow] = []
    for (stage_id, digest), about in sorted(groups.items()):
        stage = pinned(conn, digest).stage(stage_id)
        names = tuple(stage.metrics) if stage else ()
        if not names:
            continue
        ids = sorted(about)
        for i in range(0, len(ids), _IDS_PER_QUERY):
            for vid, *values in conn.execute(_latest_values(names), {"ids": ids[i : i + _IDS_PER_QUERY]}):
                name, segment = about[vid]
                rows += [(name, segment, stage_id, m, v) for m, v in zip(names, values, strict=True) if v is not None]
    return rows


def metric_latest(rows: Iterable[LatestRow]) -> Metric:
    """`venturegate_metric_latest{venture, segment, stage, metric}` from `latest_values`: no series for a metric
    a venture has no sample of yet. Bounded by live ventures × metrics per stage.
    """
    fam = GaugeMetricFamily(
        f"{PREFIX}_metric_latest",
        "Latest sample of each metric of a live venture's current stage.",
        labels=["venture", "segment", "stage", "metric"],
    )
    for name, segment, stage_id, metric, value in rows:
        fam.add_metric([name, segment, str(stage_id), metric], float(value))
    return fam
