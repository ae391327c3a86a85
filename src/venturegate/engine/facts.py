"""Gathering what gates and conditions read, from the store, for one venture at one moment."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import cast

from sqlalchemy import Connection, and_, bindparam, func, select

from venturegate.core.cadence import cadence_seconds, stale_grace
from venturegate.core.conditions.data import ConfigValue, Sample, WindowEnds, WindowStats
from venturegate.core.durations import format_time, parse_duration
from venturegate.core.gates import ApprovalFact, GateFacts
from venturegate.core.settings import effective_config, metric_levels, retention_days
from venturegate.definitions.model import LevelKind, ParamValue, Workflow
from venturegate.store.prepared import Prepared
from venturegate.store.schema import (
    approvals,
    artifacts,
    attestations,
    events,
    samples,
    substage_status,
)

_LATEST = Prepared(
    select(samples.c.at, samples.c.value)
    .where(
        samples.c.venture_id == bindparam("vid"),
        samples.c.metric == bindparam("metric"),
        samples.c.at <= bindparam("now"),
    )
    .order_by(samples.c.at.desc(), samples.c.id.desc())
    .limit(1)
)
_WINDOW = Prepared(
    select(samples.c.at, samples.c.value)
    .where(
        samples.c.venture_id == bindparam("vid"),
        samples.c.metric == bindparam("metric"),
        samples.c.at > bindparam("start"),
        samples.c.at <= bindparam("end"),
    )
    .order_by(samples.c.at, samples.c.id)
)
# Window reads that do not grow with the window (docs/decisions.md, "Window functions read only what they need"):
# the two ends are one index probe each, the aggregates one range scan of the index, percentiles a bounded read.
_RANGE = (
    samples.c.venture_id == bindparam("vid"),
    samples.c.metric == bindparam("metric"),
    samples.c.at > bindparam("start"),
    samples.c.at <= bindparam("end"),
)
_FIRST = Prepared(
    select(samples.c.id, samples.c.at, samples.c.value).where(*_RANGE).order_by(samples.c.at, samples.c.id).limit(1)
)
_LAST = Prepared(
    select(samples.c.id, samples.c.at, samples.c.value)
    .where(*_RANGE)
    .order_by(samples.c.at.desc(), samples.c.id.desc())
    .limit(1)
)
_STATS = Prepared(
    select(
        func.count().label("n"),
        func.sum(samples.c.value).label("total"),
        func.min(samples.c.value).label("low"),
        func.max(samples.c.value).label("high"),
    ).where(*_RANGE)
)
_NEWEST = Prepared(
    select(samples.c.at, samples.c.value)
    .where(*_RANGE)
    .order_by(samples.c.at.desc(), samples.c.id.desc())
    .limit(bindparam("limit"))
)
_SUBSTAGES = Prepared(
    select(substage_status.c.substage, substage_status.c.status).where(substage_status.c.visit_id == bindparam("visit"))
)
_ARTIFACTS = Prepared(
    select(artifacts.c.name, func.max(artifacts.c.version).label("version"))
    .where(artifacts.c.venture_id == bindparam("vid"), artifacts.c.valid.is_(True))
    .group_by(artifacts.c.name)
)
_NEWEST_APPROVALS = (
    select(approvals.c.role, func.max(approvals.c.id).label("id"))
    .where(approvals.c.visit_id == bindparam("visit"))
    .group_by(approvals.c.role)
    .subquery()
)
_APPROVALS = Prepared(
    select(
        approvals.c.id,
        approvals.c.role,
        approvals.c.status,
        approvals.c.expires_at,
        approvals.c.decided_by,
        approvals.c.decision_reason,
    ).join(_NEWEST_APPROVALS, and_(approvals.c.id == _NEWEST_APPROVALS.c.id))
)
_ATTESTED = Prepared(select(attestations.c.criterion).where(attestations.c.visit_id == bindparam("visit")))


@dataclass
class StoreData:
    """The condition language's data access over the samples table (segment-resolved levels, effective config)."""

    conn: Connection
    venture_id: int
    workflow: Workflow
    stage_id: int
    venture_segment: str
    entered_at: datetime | None
    now: datetime
    overrides: Mapping[str, ParamValue] = field(default_factory=dict)
    _config: dict[str, ParamValue] | None = None
    entered_loader: Callable[[], datetime | None] | None = None
    """Reads `entered_at` on first use when it was not given (trigger conditions rarely need it)."""
    known_latest: Mapping[str, Sample] = field(default_factory=dict)
    """Per metric, the sample the caller knows is the newest at or before `now` (just stored at `now`): no query."""

    def latest(self, metric: str) -> Sample | None:
        """Newest sample at or before now."""
        row = self.known_latest.get(metric) or _LATEST.first(
            self.conn, {"vid": self.venture_id, "metric": metric, "now": self.now}
        )
        if row is None:
            return None
        m = self.workflow.metric(metric, self.stage_id)
        cadence = cadence_seconds(m.frequency) if m else None
        if cadence is not None and row.at + timedelta(seconds=cadence + stale_grace(cadence)) <= self.now:
            why = f"{metric} is stale: last measured {format_time(row.at)}, expected {m.frequency if m else ''}"
            return Sample(row.at, row.value, why)
        return Sample(row.at, row.value)

    def window(self, metric: str, start: datetime, end: datetime) -> Sequence[Sample]:
        """Samples with start < at <= end, oldest first."""
        rows = _WINDOW.all(self.conn, {"vid": self.venture_id, "metric": metric, "start": start, "end": end})
        return [Sample(r.at, r.value) for r in rows]

    def ends(self, metric: str, start: datetime, end: datetime) -> WindowEnds:
        """The oldest and newest sample with start < at <= end: one index probe each."""
        params = {"vid": self.venture_id, "metric": metric, "start": start, "end": end}
        last = _LAST.first(self.conn, params)
        if last is None:
            return WindowEnds(None, None, False)
        first = _FIRST.first(self.conn, params) or last  # a sample deleted in between: the window holds `last`
        return WindowEnds(Sample(first.at, first.value), Sample(last.at, last.value), first.id != last.id)

    def stats(self, metric: str, start: datetime, end: datetime) -> WindowStats:
        """Count, sum, min and max of the samples with start < at <= end, aggregated by the database."""
        r = _STATS.first(self.conn, {"vid": self.venture_id, "metric": metric, "start": start, "end": end})
        if r is None or not r.n:
            return WindowStats(0, 0.0, None, None)
        return WindowStats(int(r.n), float(r.total), float(r.low), float(r.high))

    def newest(self, metric: str, start: datetime, end: datetime, limit: int) -> Sequence[Sample]:
        """The newest `limit` samples with start < at <= end, oldest first."""
        params = {"vid": self.venture_id, "metric": metric, "start": start, "end": end, "limit": limit}
        return [Sample(r.at, r.value) for r in reversed(_NEWEST.all(self.conn, params))]

    def horizon(self) -> datetime | None:
        """The time before which retention may have removed this venture's samples (`metrics_retention_days`)."""
        days = retention_days(self.workflow, self.venture_segment, self.overrides)
        return None if days is None else self.now - timedelta(days=days)

    def level(self, kind: LevelKind, metric: str) -> float | None:
        """The metric's level for the venture (definition → segment → venture override)."""
        m = self.workflow.metric(metric, self.stage_id)
        if m is None:
            return None
        if self.venture_segment not in m.segments and not self.overrides:  # the common case, without a `Levels`
            return cast(float | None, getattr(m, kind))
        return cast(float | None, getattr(metric_levels(metric, m, self.venture_segment, self.overrides), kind))

    def config(self, key: str) -> ConfigValue | None:
        """The venture's effective configuration value."""
        if self._config is None:
            eff = effective_config(self.workflow, self.stage_id, self.venture_segment, self.overrides)
            self._config = {k: s.value for k, s in eff.items()}
        value = self._config.get(key)
        param = self.workflow.config_param(key, self.stage_id)
        if param is not None and param.type == "duration" and isinstance(value, str):
            return parse_duration(value)  # conditions see durations as seconds
        return list(value) if isinstance(value, list) else value

    def segment(self) -> str | None:
        """The venture's segment."""
        return self.venture_segment

    def days_in_stage(self, now: datetime) -> float | None:
        """Days since the current stage visit began."""
        if self.entered_at is None and self.entered_loader is not None:
            self.entered_at, self.entered_loader = self.entered_loader(), None
        if self.entered_at is None:
            return None
        return (now - self.entered_at).total_seconds() / 86400

    def recursions(self, trigger_id: str) -> int:
        """How many times the trigger sent this venture back."""
        n = self.conn.execute(
            select(func.count())
            .select_from(events)
            .where(
                events.c.venture_id == self.venture_id,
                events.c.kind == "recursion",
                events.c.reason.like(f"{trigger_id}:%"),
            )
        ).scalar_one()
        return int(n)


def gate_facts(conn: Connection, data: StoreData, visit_id: int) -> GateFacts:
    """Substages, artifacts, approvals and attestations of a venture's current visit."""
    subs = {r.substage: r.status == "done" for r in _SUBSTAGES.all(conn, {"visit": visit_id})}
    stage = data.workflow.stage(data.stage_id)
    order = [s.id for s in stage.substages] if stage else []
    subs = {sid: subs.get(sid, False) for sid in order} | {k: v for k, v in subs.items() if k not in order}
    arts = {r.name: int(r.version) for r in _ARTIFACTS.all(conn, {"vid": data.venture_id})}
    rows = _APPROVALS.all(conn, {"visit": visit_id})
    apprs = {r.role: ApprovalFact(int(r.id), r.status, r.expires_at, r.decided_by, r.decision_reason) for r in rows}
    attested = frozenset(r.criterion for r in _ATTESTED.all(conn, {"visit": visit_id}))
    return GateFacts(data=data, substages=subs, artifacts=arts, approvals=apprs, attested=attested)
