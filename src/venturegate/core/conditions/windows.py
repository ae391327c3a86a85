"""Window functions: turning what a window holds into one number, or saying why not.

Each function reads only what it needs, so that its cost does not grow with the window: `last`, `delta` and
`rate` the window's two end samples (`DataAccess.ends`), `avg`, `min`, `max`, `sum` and `count` four
aggregates (`DataAccess.stats`), the percentiles at most `PERCENTILE_CAP` samples, the newest
(`DataAccess.newest`).
"""

from __future__ import annotations

import math
from collections.abc import Sequence

from venturegate.core.conditions.data import Sample, WindowEnds, WindowStats
from venturegate.core.conditions.functions import PERCENTILES
from venturegate.core.durations import format_time

# (value, reason, samples read); the value is None when the window cannot give an answer.
WindowResult = tuple[float | None, str, int | None]

ENDS_FUNCTIONS = frozenset({"last", "delta", "rate"})
"""Functions of the window's oldest and newest sample."""
STATS_FUNCTIONS = frozenset({"avg", "min", "max", "sum", "count"})
"""Functions of the window's count, sum, minimum and maximum."""
PERCENTILE_CAP = 10_000
"""Most samples a percentile reads: of a fuller window, the newest this many (the reason says so)."""


def percentile(values: Sequence[float], fraction: float) -> float:
    """Return the percentile by linear interpolation between closest ranks (numpy's default)."""
    ordered = sorted(values)
    position = (len(ordered) - 1) * fraction
    low = math.floor(position)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (position - low)


def _plural(count: int) -> str:
    return f"{count} sample" if count == 1 else f"{count} samples"


def reduce_stats(name: str, stats: WindowStats, where: str) -> WindowResult:
    """`avg`, `min`, `max`, `sum` or `count` from the window's aggregates."""
    n = stats.count
    if name == "count":  # an empty window is a known answer for count: nothing happened
        return float(n), f"{_plural(n)} {where}", n
    if n == 0 or stats.low is None or stats.high is None:
        return None, f"no samples {where}", 0
    value = {"avg": stats.total / n, "sum": stats.total, "min": stats.low, "max": stats.high}[name]
    return float(value), f"{name} of {_plural(n)} {where}", n


def reduce_ends(name: str, ends: WindowEnds, where: str) -> WindowResult:
    """`last`, `delta` or `rate` from the window's oldest and newest sample."""
    first, last = ends.first, ends.last
    if first is None or last is None:
        return (
            (None, f"no samples {where}", 0)
            if name == "last"
            else (None, f"{name} needs 2 samples {where}, found 0", 0)
        )
    if name == "last":
        return float(last.value), f"last sample {where}, at {format_time(last.at)}", None
    if not ends.several:
        return None, f"{name} needs 2 samples {where}, found 1", 1
    span = f"from {format_time(first.at)} to {format_time(last.at)}"
    change = last.value - first.value
    if name == "delta":
        return float(change), f"last minus first sample {where} ({span})", None
    elapsed = (last.at - first.at).total_seconds()
    if elapsed <= 0:
        return None, f"the first and last samples {where} share one time", None
    return change / elapsed, f"change per second {span} {where}", None


def reduce_newest(name: str, samples: Sequence[Sample], capped: bool, where: str) -> WindowResult:
    """A percentile of the window's samples (`capped`: of its newest `PERCENTILE_CAP`, the window holds more)."""
    if not samples:
        return None, f"no samples {where}", 0
    value = percentile([s.value for s in samples], PERCENTILES[name])
    which = f"the newest {_plural(len(samples))} (of more)" if capped else _plural(len(samples))
    return value, f"{name} of {which} {where}", len(samples)
