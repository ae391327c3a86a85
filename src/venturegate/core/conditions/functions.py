"""The functions a condition may call: their parameters and what they return."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal, TypeAlias

ValueType: TypeAlias = Literal["number", "duration", "string", "bool"]
# What an argument must be: a bare metric name, a string literal, or a value of a type.
ParamKind: TypeAlias = Literal["metric", "string literal", "duration"]


@dataclass(frozen=True, slots=True)
class Signature:
    """A function's parameters, in order, and its result type."""

    params: tuple[ParamKind, ...]
    result: ValueType
    summary: str


WINDOW_FUNCTIONS: dict[str, str] = {
    "avg": "the mean",
    "min": "the smallest sample",
    "max": "the largest sample",
    "sum": "the sum",
    "count": "the number of samples (0 when there are none)",
    "last": "the latest sample",
    "p50": "the median",
    "p90": "the 90th percentile",
    "p95": "the 95th percentile",
    "p99": "the 99th percentile",
    "rate": "the change per second between the first and the last sample",
    "delta": "the last sample minus the first",
}

PERCENTILES: dict[str, float] = {"p50": 0.50, "p90": 0.90, "p95": 0.95, "p99": 0.99}

FUNCTIONS: dict[str, Signature] = {
    **{
        name: Signature(("metric", "duration"), "number", f"{summary} of a metric over a window")
        for name, summary in WINDOW_FUNCTIONS.items()
    },
    "age": Signature(("metric",), "duration", "time since the metric's latest sample"),
    "days_in_stage": Signature((), "number", "days since the venture entered its stage"),
    "recursions": Signature(("string literal",), "number", "times a trigger sent the venture back"),
}
