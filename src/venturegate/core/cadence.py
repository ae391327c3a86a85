"""Measurement cadence: how often a metric is expected, and how late a sample may be before it is stale."""

from __future__ import annotations

from venturegate.core.durations import parse_duration

NAMED = {"hourly": 3600.0, "daily": 86400.0, "weekly": 604800.0}


def cadence_seconds(frequency: str) -> float | None:
    """Seconds between expected measurements, or None for `continuous` and `per_run` (never stale)."""
    if frequency in NAMED:
        return NAMED[frequency]
    if frequency in ("continuous", "per_run"):
        return None
    return parse_duration(frequency)


def stale_grace(cadence: float) -> float:
    """How late a measurement may be before it counts as missing: a tenth of the cadence, at least a minute."""
    return max(60.0, cadence / 10)
