"""Window functions: turning the samples of a window into one number, or saying why not."""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence

from venturegate.core.conditions.data import Sample
from venturegate.core.conditions.functions import PERCENTILES

# (value, reason); the value is None when the window cannot give an answer.
WindowResult = tuple[float | None, str]
Reducer = Callable[[Sequence[Sample], str], WindowResult]


def percentile(values: Sequence[float], fraction: float) -> float:
    """Return the percentile by linear interpolation between closest ranks (numpy's default)."""
    ordered = sorted(values)
    position = (len(ordered) - 1) * fraction
    low = math.floor(position)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (position - low)


def _plural(count: int) -> str:
    return f"{count} sample" if count == 1 else f"{count} samples"


def _empty(where: str) -> WindowResult:
    return None, f"no samples {where}"


def _simple(name: str, compute: Callable[[Sequence[Sample]], float]) -> Reducer:
    def reduce(samples: Sequence[Sample], where: str) -> WindowResult:
        if not samples:
            return _empty(where)
        return float(compute(samples)), f"{name} of {_plural(len(samples))} {where}"

    return reduce


def _count(samples: Sequence[Sample], where: str) -> WindowResult:
    # An empty window is a known answer for count: nothing happened.
    return float(len(samples)), f"{_plural(len(samples))} {where}"


def _delta(samples: Sequence[Sample], where: str) -> WindowResult:
    if len(samples) < 2:
        return None, f"delta needs 2 samples {where}, found {len(samples)}"
    return float(samples[-1].value - samples[0].value), f"last minus first of {_plural(len(samples))} {where}"


def _rate(samples: Sequence[Sample], where: str) -> WindowResult:
    if len(samples) < 2:
        return None, f"rate needs 2 samples {where}, found {len(samples)}"
    elapsed = (samples[-1].at - samples[0].at).total_seconds()
    if elapsed <= 0:
        return None, f"all {_plural(len(samples))} {where} share one time"
    change = samples[-1].value - samples[0].value
    return change / elapsed, f"change per second over {_plural(len(samples))} {where}"


def _percentile_of(fraction: float) -> Callable[[Sequence[Sample]], float]:
    return lambda samples: percentile([sample.value for sample in samples], fraction)


REDUCERS: dict[str, Reducer] = {
    "avg": _simple("avg", lambda samples: math.fsum(s.value for s in samples) / len(samples)),
    "min": _simple("min", lambda samples: min(s.value for s in samples)),
    "max": _simple("max", lambda samples: max(s.value for s in samples)),
    "sum": _simple("sum", lambda samples: math.fsum(s.value for s in samples)),
    "last": _simple("last", lambda samples: samples[-1].value),
    "count": _count,
    "delta": _delta,
    "rate": _rate,
    **{name: _simple(name, _percentile_of(q)) for name, q in PERCENTILES.items()},
}
