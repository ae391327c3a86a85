"""Durations as text: parsing, formatting, and that one reads what the other writes."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from venturegate.core.durations import format_duration, format_in_unit, format_time, parse_duration


@pytest.mark.parametrize(
    ("text", "seconds"),
    [
        ("0s", 0.0),
        ("30s", 30.0),
        ("500ms", 0.5),
        ("5m", 300.0),
        ("2h", 7200.0),
        ("1d", 86400.0),
        ("1w", 604800.0),
        ("1h30m", 5400.0),
        ("1m30s250ms", 90.25),
        ("1.5h", 5400.0),
        (" 10m ", 600.0),
    ],
)
def test_parse_duration(text: str, seconds: float) -> None:
    assert parse_duration(text) == seconds


@pytest.mark.parametrize("text", ["", "5", "m", "5 m", "-5m", "5min", "5M", "1h 30m", "5m!", "٣m", "1e3s"])
def test_parse_duration_rejects_bad_text(text: str) -> None:
    with pytest.raises(ValueError, match="invalid duration") as caught:
        parse_duration(text)
    assert "for example 30s, 5m or 1h30m" in str(caught.value)


@pytest.mark.parametrize(
    ("seconds", "text"),
    [
        (0.0, "0s"),
        (30.0, "30s"),
        (0.5, "500ms"),
        (300.0, "5m"),
        (5400.0, "1h30m"),
        (90.25, "1m30s250ms"),
        (694861.0, "1w1d1h1m1s"),
        (-90.0, "-1m30s"),
        (0.0001, "0.0001s"),
        (1e-10, "0.0000000001s"),
    ],
)
def test_format_duration(seconds: float, text: str) -> None:
    assert format_duration(seconds) == text


def test_format_duration_rejects_infinity() -> None:
    with pytest.raises(ValueError, match="cannot format"):
        format_duration(float("inf"))


def test_format_in_unit_keeps_the_written_unit_only_when_exact() -> None:
    assert format_in_unit(86400.0, "h") == "24h"
    assert format_in_unit(0.25, "ms") == "250ms"
    assert format_in_unit(90.0, "m") is None
    assert format_in_unit(60.0, "parsec") is None


@settings(max_examples=300)
@given(st.floats(min_value=0, max_value=1e15, allow_nan=False))
def test_format_then_parse_gives_the_same_seconds(seconds: float) -> None:
    assert parse_duration(format_duration(seconds)) == seconds


def test_a_moment_in_a_message_is_utc_to_the_second() -> None:
    at = datetime(2026, 11, 2, 10, 0, 0, 123456, tzinfo=timezone(timedelta(hours=2)))
    assert format_time(at) == "2026-11-02 08:00:00 UTC"
    assert format_time(datetime(2026, 11, 2, 8, 0, tzinfo=UTC)) == "2026-11-02 08:00:00 UTC"
