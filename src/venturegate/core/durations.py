"""Durations written as text (`30s`, `5m`, `1h30m`, `500ms`) and their value in seconds."""

from __future__ import annotations

import functools
import math
import re
from datetime import UTC, datetime
from decimal import Decimal
from fractions import Fraction

# Seconds per unit, as exact fractions so that `1h30m` and `5400s` give the same float.
UNIT_SECONDS: dict[str, Fraction] = {
    "w": Fraction(604800),
    "d": Fraction(86400),
    "h": Fraction(3600),
    "m": Fraction(60),
    "s": Fraction(1),
    "ms": Fraction(1, 1000),
}

# `ms` comes before `m` and `s` so that `500ms` is not read as 500 minutes and a stray `s`.
_PART = re.compile(r"([0-9]+(?:\.[0-9]+)?)(ms|w|d|h|m|s)")
_WHOLE = re.compile(r"(?:[0-9]+(?:\.[0-9]+)?(?:ms|w|d|h|m|s))+")

_MS_PER_UNIT: tuple[tuple[str, int], ...] = (
    ("w", 604_800_000),
    ("d", 86_400_000),
    ("h", 3_600_000),
    ("m", 60_000),
    ("s", 1_000),
    ("ms", 1),
)

# Beyond this many seconds, whole milliseconds no longer fit exactly in a float.
_EXACT_LIMIT = 2.0**52 / 1000


@functools.lru_cache(maxsize=1024)
def parse_duration(text: str) -> float:
    """Return the number of seconds in a duration such as `30s`, `500ms`, `5m` or `1h30m` (cached: it is pure)."""
    stripped = text.strip()
    if not _WHOLE.fullmatch(stripped):
        raise ValueError(
            f"invalid duration {text!r}: write a number followed by a unit "
            "(ms, s, m, h, d or w), for example 30s, 5m or 1h30m"
        )
    total = Fraction(0)
    for amount, unit in _PART.findall(stripped):
        total += Fraction(amount) * UNIT_SECONDS[unit]
    try:
        return float(total)
    except OverflowError:
        raise ValueError(f"duration {text!r} is too long") from None


def format_duration(seconds: float) -> str:
    """Return the shortest text for `seconds` in whole units, such as `1h30m`; `parse_duration` reads it back."""
    if not math.isfinite(seconds):
        raise ValueError(f"cannot format a duration of {seconds} seconds")
    if seconds < 0:
        return "-" + format_duration(-seconds)
    if seconds < _EXACT_LIMIT:
        millis = round(seconds * 1000)
        if millis / 1000 == seconds:
            return _format_millis(millis)
    # Not a whole number of milliseconds: write plain decimal seconds, never exponent notation.
    return format(Decimal(repr(seconds)), "f") + "s"


def format_in_unit(seconds: float, unit: str) -> str | None:
    """Return `seconds` written as a whole number of `unit` (`300.0, "m"` → `5m`), or None if inexact."""
    factor = UNIT_SECONDS.get(unit)
    if factor is None or not math.isfinite(seconds) or seconds < 0:
        return None
    amount = round(Fraction(seconds) / factor)
    if float(amount * factor) != seconds:
        return None
    return f"{amount}{unit}"


def _format_millis(millis: int) -> str:
    if millis == 0:
        return "0s"
    parts: list[str] = []
    for unit, size in _MS_PER_UNIT:
        amount, millis = divmod(millis, size)
        if amount:
            parts.append(f"{amount}{unit}")
    return "".join(parts)


def format_time(at: datetime) -> str:
    """A moment as people read it in a message: UTC, to the second (`2026-11-02 08:00:00 UTC`)."""
    if at.tzinfo is not None:
        at = at.astimezone(UTC)
    return at.strftime("%Y-%m-%d %H:%M:%S UTC")
