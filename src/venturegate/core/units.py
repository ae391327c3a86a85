"""What values a metric's unit admits."""

from __future__ import annotations

import math

from venturegate.definitions.model import Unit

NON_NEGATIVE: frozenset[str] = frozenset(
    {
        "ratio",
        "count",
        "ms",
        "seconds",
        "minutes",
        "hours",
        "days",
        "per_second",
        "per_week",
        "currency",
    }
)
"""Units whose values are never below 0."""


def plain(value: float) -> str:
    """A number as people write it in a message: no exponent for everyday sizes (`2904430.5`, `0.25`, `-3`)."""
    if value != 0 and not 1e-6 <= abs(value) < 1e15:
        return f"{value:g}"  # absurd sizes: an exponent is the readable form
    return f"{value:.6f}".rstrip("0").rstrip(".") or "0"


def unit_error(unit: Unit, value: float) -> str:
    """Why `value` cannot be a sample of a metric in `unit`, or '' when it can."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return f"{value!r} is not a number"
    if math.isnan(value) or math.isinf(value):
        return f"{value} is not a finite number"
    if unit == "percent" and not 0 <= value <= 100:
        return f"{plain(value)} is outside 0–100 for a percent metric"
    if unit in NON_NEGATIVE and value < 0:
        return f"{plain(value)} is negative; {unit} values are never below 0"
    return ""
