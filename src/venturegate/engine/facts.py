"""Gathering what gates and conditions read, from the store, for one venture at one moment."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import cast

from sqlalchemy import Connection

from venturegate.core.cadence import cadence_seconds, stale_grace
from venturegate.core.conditions.data import ConfigValue, Sample, WindowEnds, WindowStats
from venturegate.core.durations import format_time, parse_duration
from venturegate.core.gates import ApprovalFact, GateFacts, GateName, JSONValue, metrics_read
from venturegate.core.settings import effective_config, metric_levels, retention_days
from venturegate.definitions.model import ConditionCheck, LevelKind, ParamValue, Stage, Workflow
from venturegate.store import facts as store
from venturegate.store.windows import (
    PointRow,
    SamplePoint,
    WindowReads,
    aggregate_of,
    ends_of,
    latest_of,
    newest_of,
    read_window,
)


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
    shared: WindowReads | None = None
    """A batch's window reads: this venture's windows are read together with the other ventures' of the batch."""

    def latest(self, metric: str) -> Sample | None:
        """Newest sample at or before now."""
        row: Sample | SamplePoint | PointRow | None = self.known_latest.get(metric)
        if row is None:
            vid, shared = self.venture_id, self.shared
            row = (
                latest_of(self.conn, vid, metric, self.now) if shared is None else shared.latest(vid, metric, self.now)
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
        return [Sample(p.at, p.value) for p in read_window(self.conn, self.venture_id, metric, start, end)]

    def ends(self, metric: str, start: datetime, end: datetime) -> WindowEnds:
        """The oldest and newest sample with start < at <= end: one index probe each."""
        vid = self.venture_id
        got = (
            ends_of(self.conn, vid, metric, start, end)
            if self.shared is None
            else self.shared.ends(vid, metric, start, end)
        )
        if got.first is None or got.last is None:
            return WindowEnds(None, None, False)
        first, last = Sample(got.first.at, got.first.value), Sample(got.last.at, got.last.value)
        return WindowEnds(first, last, got.first.id != got.last.id)

    def stats(self, metric: str, start: datetime, end: datetime) -> WindowStats:
        """Count, sum, min and max of the samples with start < at <= end, aggregated by the database."""
        vid = self.venture_id
        shared = self.shared
        a = (
            aggregate_of(self.conn, vid, metric, start, end)
            if shared is None
            else shared.aggregate(vid, metric, start, end)
        )
        return WindowStats(a.count, a.total, a.low, a.high)

    def newest(self, metric: str, start: datetime, end: datetime, limit: int) -> Sequence[Sample]:
        """The newest `limit` samples with start < at <= end, oldest first."""
        vid, shared = self.venture_id, self.shared
        got = (
            newest_of(self.conn, vid, metric, start, end, limit)
            if shared is None
            else shared.newest(vid, metric, start, end, limit)
        )
        return [Sample(p.at, p.value) for p in reversed(got)]

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
        return store.recursions(self.conn, self.venture_id, trigger_id)


def gate_facts(conn: Connection, data: StoreData, visit_id: int, gate: GateName | None = None) -> GateFacts:
    """Substages, artifacts, approvals and attestations of a venture's current visit; with `gate`, the
    recorded breakdowns (`Metric.explained_by`) of the metrics its checks read."""
    subs = {r.substage: r.status == "done" for r in store.substages(conn, visit_id)}
    stage = data.workflow.stage(data.stage_id)
    order = [s.id for s in stage.substages] if stage else []
    subs = {sid: subs.get(sid, False) for sid in order} | {k: v for k, v in subs.items() if k not in order}
    arts = dict(store.artifact_versions(conn, data.venture_id))
    rows = store.newest_approvals(conn, visit_id)
    apprs = {r.role: ApprovalFact(r.id, r.status, r.expires_at, r.decided_by, r.decision_reason) for r in rows}
    attested = store.attested(conn, visit_id)
    evidence = _evidence(conn, data, stage, gate, arts) if stage is not None and gate is not None else {}
    return GateFacts(data=data, substages=subs, artifacts=arts, approvals=apprs, attested=attested, evidence=evidence)


def _evidence(
    conn: Connection, data: StoreData, stage: Stage, gate: GateName, versions: Mapping[str, int]
) -> dict[str, JSONValue]:
    """Metric → `{artifact, version, content}` of the newest valid version of the artifact that explains it."""
    out: dict[str, JSONValue] = {}
    for chk in stage.gates.entry if gate == "entry" else stage.gates.exit:
        if not isinstance(chk, ConditionCheck):
            continue
        for metric in sorted(metrics_read(chk.check)):
            found = data.workflow.metric(metric, stage.id)
            name = found.explained_by if found is not None else None
            if name is None or metric in out:
                continue
            version = versions.get(name)
            content = store.artifact_content(conn, data.venture_id, name, version) if version is not None else None
            out[metric] = {"artifact": name, "version": version, "content": content}
    return out
