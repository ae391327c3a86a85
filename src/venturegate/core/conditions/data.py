"""What a condition reads: samples, levels, config, segment, stage time and recursion counts."""

from __future__ import annotations

import bisect
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Protocol, TypeAlias

from venturegate.core.conditions.nodes import LevelKind

ConfigValue: TypeAlias = int | float | str | bool | list[int | float | str]


@dataclass(frozen=True, slots=True)
class Sample:
    """One measured value of a metric at a time; `stale` says why it no longer counts (missed cadence)."""

    at: datetime
    value: float
    stale: str = ""


@dataclass(frozen=True, slots=True)
class WindowEnds:
    """The oldest and the newest sample of a window (`several`: they are two different samples)."""

    first: Sample | None
    last: Sample | None
    several: bool


@dataclass(frozen=True, slots=True)
class WindowStats:
    """How many samples a window holds, their sum, lowest and highest value (None when empty)."""

    count: int
    total: float
    low: float | None
    high: float | None


def stats_of(series: Sequence[Sample]) -> WindowStats:
    """The `WindowStats` of samples in hand."""
    if not series:
        return WindowStats(0, 0.0, None, None)
    values = [s.value for s in series]
    return WindowStats(len(values), math.fsum(values), min(values), max(values))


def ends_of(series: Sequence[Sample]) -> WindowEnds:
    """The `WindowEnds` of samples in hand, oldest first."""
    if not series:
        return WindowEnds(None, None, False)
    return WindowEnds(series[0], series[-1], len(series) > 1)


class DataAccess(Protocol):
    """The venture's data as a condition sees it; durations are numbers of seconds."""

    def latest(self, metric: str) -> Sample | None:
        """Return the metric's most recent sample, or None if it was never measured."""

    def window(self, metric: str, start: datetime, end: datetime) -> Sequence[Sample]:
        """Return the samples with `start < at <= end`, oldest first."""

    def ends(self, metric: str, start: datetime, end: datetime) -> WindowEnds:
        """Return the oldest and newest sample with `start < at <= end` (a store: two index lookups)."""

    def stats(self, metric: str, start: datetime, end: datetime) -> WindowStats:
        """Return count, sum, min and max of the samples with `start < at <= end` (a store: one aggregate)."""

    def newest(self, metric: str, start: datetime, end: datetime, limit: int) -> Sequence[Sample]:
        """Return the newest `limit` samples with `start < at <= end`, oldest first."""

    def horizon(self) -> datetime | None:
        """Return the time before which samples may have been removed by retention, or None (all are kept)."""

    def level(self, kind: LevelKind, metric: str) -> float | None:
        """Return the metric's level of this kind for the venture's segment, or None."""

    def config(self, key: str) -> ConfigValue | None:
        """Return the venture's effective config value (a duration in seconds), or None."""

    def segment(self) -> str | None:
        """Return the venture's market segment, or None if it has none."""

    def days_in_stage(self, now: datetime) -> float | None:
        """Return the days since the venture entered its current stage, or None."""

    def recursions(self, trigger_id: str) -> int:
        """Return how many times the trigger has sent the venture back."""


def _at(sample: Sample) -> datetime:
    return sample.at


@dataclass
class InMemoryData:
    """A `DataAccess` held in dictionaries, for tests and for judging data not yet stored."""

    samples: dict[str, list[Sample]] = field(default_factory=dict)
    levels: dict[tuple[LevelKind, str], float] = field(default_factory=dict)
    config_values: dict[str, ConfigValue] = field(default_factory=dict)
    segment_name: str | None = None
    stage_entered_at: datetime | None = None
    recursion_counts: dict[str, int] = field(default_factory=dict)
    retained_from: datetime | None = None
    """Samples before this time count as removed by retention (windows reaching past it are unknown)."""

    def __post_init__(self) -> None:
        # Keep every series sorted by time so that reads can bisect; callers may pass any order.
        self.samples = {metric: sorted(series, key=_at) for metric, series in self.samples.items()}

    def add(self, metric: str, at: datetime, value: float) -> None:
        """Record one sample, keeping the series in time order."""
        bisect.insort(self.samples.setdefault(metric, []), Sample(at, value), key=_at)

    def extend(self, series: Mapping[str, Sequence[tuple[datetime, float]]]) -> None:
        """Record many samples: metric → (time, value) pairs."""
        for metric, points in series.items():
            for at, value in points:
                self.add(metric, at, value)

    def latest(self, metric: str) -> Sample | None:
        """Return the metric's most recent sample, or None if it was never measured."""
        series = self.samples.get(metric)
        return series[-1] if series else None

    def window(self, metric: str, start: datetime, end: datetime) -> Sequence[Sample]:
        """Return the samples with `start < at <= end`, oldest first."""
        series = self.samples.get(metric, [])
        low = bisect.bisect_right(series, start, key=_at)
        high = bisect.bisect_right(series, end, key=_at)
        return series[low:high]

    def ends(self, metric: str, start: datetime, end: datetime) -> WindowEnds:
        """Return the oldest and newest sample with `start < at <= end`."""
        return ends_of(self.window(metric, start, end))

    def stats(self, metric: str, start: datetime, end: datetime) -> WindowStats:
        """Return count, sum, min and max of the samples with `start < at <= end`."""
        return stats_of(self.window(metric, start, end))

    def newest(self, metric: str, start: datetime, end: datetime, limit: int) -> Sequence[Sample]:
        """Return the newest `limit` samples with `start < at <= end`, oldest first."""
        return self.window(metric, start, end)[-limit:] if limit > 0 else []

    def horizon(self) -> datetime | None:
        """Return `retained_from`."""
        return self.retained_from

    def level(self, kind: LevelKind, metric: str) -> float | None:
        """Return the metric's level of this kind, or None."""
        return self.levels.get((kind, metric))

    def config(self, key: str) -> ConfigValue | None:
        """Return the config value, or None."""
        return self.config_values.get(key)

    def segment(self) -> str | None:
        """Return the venture's segment, or None."""
        return self.segment_name

    def days_in_stage(self, now: datetime) -> float | None:
        """Return the days since `stage_entered_at`, or None if it is not set."""
        if self.stage_entered_at is None:
            return None
        return (now - self.stage_entered_at).total_seconds() / 86400

    def recursions(self, trigger_id: str) -> int:
        """Return the recursion count of the trigger (0 if never)."""
        return self.recursion_counts.get(trigger_id, 0)
