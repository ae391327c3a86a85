"""Evaluation: every function, three-valued logic, unknowns with reasons, and explanations."""

from __future__ import annotations

import itertools
from collections import Counter
from datetime import UTC, datetime, timedelta
from typing import ClassVar

import pytest

from venturegate.core.conditions import (
    ConditionError,
    Explanation,
    InMemoryData,
    Sample,
    evaluate,
    explain_lines,
    parse,
    prepare,
)
from venturegate.core.conditions.data import WindowEnds, WindowStats
from venturegate.core.conditions.nodes import Call, Compare, MetricRef, Number
from venturegate.core.conditions.windows import PERCENTILE_CAP
from venturegate.core.durations import format_time

NOW = datetime(2026, 3, 1, 10, 0, tzinfo=UTC)


def ago(**delta: float) -> datetime:
    return NOW - timedelta(**delta)


def data(**overrides: object) -> InMemoryData:
    """Latency samples each minute from 10m to 1m ago (values 10, 20, … 100, newest last)."""
    base = InMemoryData(
        samples={"latency_ms": [Sample(ago(minutes=10 - i), 10.0 * (i + 1)) for i in range(10)]},
        levels={("target", "latency_ms"): 50.0},
        config_values={"rollback.threshold": 500, "stage.max_age": 3600, "mode": "canary", "on": True, "steps": [1, 2]},
        segment_name="b2b_enterprise",
        stage_entered_at=ago(days=15),
        recursion_counts={"PERF-001": 3},
    )
    for name, value in overrides.items():
        setattr(base, name, value)
    return base


def value_of(text: str, source: InMemoryData | None = None) -> float | str | bool | None:
    return evaluate(parse(text), source or data(), NOW).value


def explain(text: str, source: InMemoryData | None = None) -> Explanation:
    return evaluate(parse(text), source or data(), NOW)


# Window (now - 5m, now] holds the samples at -4m … 0m: 70, 80, 90, 100 and the one at -5m is out.
@pytest.mark.parametrize(
    ("function", "expected", "samples"),
    [
        ("avg", 85.0, 4),
        ("min", 70.0, 4),
        ("max", 100.0, 4),
        ("sum", 340.0, 4),
        ("count", 4.0, 4),
        ("last", 100.0, None),  # last, delta, rate read the window's two ends, not its samples
        ("p50", 85.0, 4),
        ("p90", 97.0, 4),
        ("p95", 98.5, 4),
        ("p99", 99.7, 4),
        ("delta", 30.0, None),
        ("rate", 30.0 / 180.0, None),
    ],
)
def test_window_functions(function: str, expected: float, samples: int | None) -> None:
    result = explain(f"{function}(latency_ms, 5m) > 0").children[0]
    assert result.value == pytest.approx(expected)
    assert result.samples == samples
    assert "of latency_ms in the last 5m" in result.reason


def test_window_excludes_its_start_and_includes_now() -> None:
    source = InMemoryData(
        samples={"x": [Sample(ago(minutes=5), 1.0), Sample(NOW, 2.0), Sample(NOW + timedelta(seconds=1), 4.0)]}
    )
    assert value_of("count(x, 5m) == 1", source) is True
    assert value_of("sum(x, 5m) == 2", source) is True


@pytest.mark.parametrize("function", ["avg", "min", "max", "sum", "last", "p50", "p90", "p95", "p99", "rate", "delta"])
def test_an_empty_window_is_unknown(function: str) -> None:
    result = explain(f"{function}(cache_hit_rate, 1h) < 70")
    assert result.verdict == "unknown"
    assert result.reason == "no samples of cache_hit_rate in the last 1h" or "found 0" in result.reason


def test_count_of_an_empty_window_is_zero() -> None:
    result = explain("count(circuit_breaker_open, 24h) > 5")
    assert result.verdict == "fail"
    assert result.children[0].value == 0.0 and result.children[0].samples == 0


@pytest.mark.parametrize("function", ["rate", "delta"])
def test_rate_and_delta_need_two_samples(function: str) -> None:
    result = explain(f"{function}(latency_ms, 2m) > 0").children[0]
    assert result.value is None and result.samples == 1
    assert result.reason == f"{function} needs 2 samples of latency_ms in the last 2m, found 1"


def test_rate_of_samples_at_one_time_is_unknown() -> None:
    source = InMemoryData(samples={"x": [Sample(NOW, 1.0), Sample(NOW, 3.0)]})
    assert "share one time" in explain("rate(x, 1m) > 0", source).reason


def test_percentile_of_one_sample_is_that_sample() -> None:
    assert value_of("p99(latency_ms, 2m) == 100") is True


def test_window_from_config_and_bad_windows() -> None:
    assert value_of("count(latency_ms, config.stage.max_age) == 10") is True
    assert explain("count(latency_ms, config.nope) > 1").reason == "config nope is not set"
    assert "positive duration" in explain("count(latency_ms, -5m) > 1").reason
    assert value_of("count(latency_ms, 100000w) == 10") is True


def test_latest_sample_age_and_stage_functions() -> None:
    assert value_of("latency_ms") == 100.0
    assert explain("latency_ms > 1").children[0].reason == f"latest sample, at {format_time(ago(minutes=1))}"
    assert value_of("age(latency_ms) == 1m") is True
    source = data(samples={"readiness_score": [Sample(ago(hours=26), 5.0)]})
    age = explain("age(readiness_score) > 1d", source)
    assert age.verdict == "pass" and age.children[0].value == 26 * 3600.0
    assert age.children[0].kind == "duration"
    assert value_of("days_in_stage() > 14") is True
    assert value_of('recursions("PERF-001") >= 3') is True
    assert value_of('recursions("OTHER") == 0') is True


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("never_measured > 1", "never_measured has never been measured"),
        ("age(never_measured) > 1h", "never_measured has never been measured"),
        ("latency_ms < threshold.latency_ms", "latency_ms has no threshold level for this venture's segment"),
        ("latency_ms < config.missing", "config missing is not set"),
        ("config.steps == 1", "config steps is a list, not a single value"),
        ("latency_ms / 0 > 1", "division by zero: 0 is 0"),
        ("latency_ms / (latency_ms - 100) > 1", "division by zero: latency_ms - 100 is 0"),
        ("config.mode > 1", 'cannot compare "canary" > 1'),
        ("config.mode + 1 > 1", "cannot use '+' on \"canary\" and 1"),
        ("-config.mode == 1", 'cannot negate "canary"'),
        ("not config.mode", "'not' needs true or false, not \"canary\""),
        ("config.mode and true", "'and' needs true or false, not \"canary\""),
    ],
)
def test_unknowns_say_why(text: str, reason: str) -> None:
    result = explain(text)
    assert result.verdict == "unknown"
    assert result.reason == reason


def test_missing_segment_and_stage_start() -> None:
    assert explain('segment == "b2c_mass"', data(segment_name=None)).reason == "the venture has no segment"
    assert explain("days_in_stage() > 1", data(stage_entered_at=None)).reason == "the stage's start time is unknown"


def test_levels_config_and_segment() -> None:
    assert value_of("latency_ms > target.latency_ms") is True
    assert value_of("latency_ms < config.rollback.threshold") is True
    assert value_of('config.mode == "canary" and config.on') is True
    assert value_of('segment == "b2b_enterprise"') is True
    assert value_of('segment != "b2b_enterprise"') is False


def test_arithmetic_and_precedence() -> None:
    assert value_of("latency_ms * 2 + 1 - -1") == 202.0
    assert value_of("(latency_ms - 40) / 3 * 2") == 40.0
    assert value_of("1h30m / 30m") == 3.0


TRUE, FALSE, UNKNOWN = "true", "false", "never_measured > 1"
VALUES = {TRUE: True, FALSE: False, UNKNOWN: None}


@pytest.mark.parametrize(("left", "right"), list(itertools.product(VALUES, repeat=2)))
def test_kleene_and_or(left: str, right: str) -> None:
    a, b = VALUES[left], VALUES[right]
    expected_and = False if False in (a, b) else (None if None in (a, b) else True)
    expected_or = True if True in (a, b) else (None if None in (a, b) else False)
    assert value_of(f"({left}) and ({right})") is expected_and
    assert value_of(f"({left}) or ({right})") is expected_or


@pytest.mark.parametrize(("operand", "expected"), [(TRUE, False), (FALSE, True), (UNKNOWN, None)])
def test_kleene_not(operand: str, expected: bool | None) -> None:
    assert value_of(f"not ({operand})") is expected


@pytest.mark.parametrize("op", ["<", "<=", ">", ">=", "==", "!="])
def test_comparisons_with_an_unknown_side_are_unknown(op: str) -> None:
    result = explain(f"never_measured {op} 1")
    assert (result.value, result.op, result.left, result.right) == (None, op, None, 1.0)
    assert result.reason == "never_measured has never been measured"


def test_unknown_reasons_are_joined_without_repeats() -> None:
    result = explain("never_measured > 1 and never_measured < 5 and age(other) > 1h")
    assert result.reason == "never_measured has never been measured; other has never been measured"


def test_comparison_explanation_records_both_sides() -> None:
    result = explain("p95(latency_ms, 5m) > config.rollback.threshold")
    assert (result.verdict, result.op, result.left, result.right) == ("fail", ">", 98.5, 500.0)
    assert [child.text for child in result.children] == ["p95(latency_ms, 5m)", "config.rollback.threshold"]
    assert result.children[0].reason == "p95 of 4 samples of latency_ms in the last 5m"


def test_explain_lines_renders_an_indented_tree() -> None:
    source = data(samples={"readiness_score": [Sample(ago(hours=26), 5.0)]})
    lines = explain_lines(explain('age(readiness_score) > 1d and not segment == "b2c_mass"', source))
    assert lines == [
        'PASS  age(readiness_score) > 1d and not segment == "b2c_mass"',
        "  PASS  age(readiness_score) > 1d  (1d2h > 1d)",
        f"    age(readiness_score) = 1d2h  — latest sample of readiness_score at {format_time(ago(hours=26))}",
        '  PASS  not segment == "b2c_mass"',
        '    FAIL  segment == "b2c_mass"  ("b2b_enterprise" == "b2c_mass")',
        '      segment = "b2b_enterprise"',
    ]


def test_explain_lines_marks_unknowns() -> None:
    assert explain_lines(explain("avg(cache_hit_rate, 1h) < 70")) == [
        "UNKNOWN  avg(cache_hit_rate, 1h) < 70  (? < 70)  — no samples of cache_hit_rate in the last 1h",
        "  avg(cache_hit_rate, 1h) = ?  — no samples of cache_hit_rate in the last 1h",
    ]


def test_to_dict_is_json_ready() -> None:
    result = explain("avg(latency_ms, 5m) / 0 > 1 or latency_ms > 1").to_dict()
    assert result["verdict"] == "pass" and result["kind"] == "bool"
    first = result["children"][0]  # type: ignore[index]
    assert first["verdict"] == "unknown" and first["op"] == ">" and first["left"] is None
    assert first["children"][0]["children"][0]["samples"] == 4


def test_prepare_and_evaluate_agree_and_reject_invalid_trees() -> None:
    tree = parse("avg(latency_ms, 5m) > 80")
    assert prepare(tree)(data(), NOW) == evaluate(tree, data(), NOW)
    with pytest.raises(ConditionError, match="analyze"):
        evaluate(parse("avgg(latency_ms, 5m) > 1"), data(), NOW)
    with pytest.raises(ConditionError, match="analyze"):
        evaluate(Compare(">", Call("avg", (Number(5), Number(1))), MetricRef("x")), data(), NOW)


def test_a_window_is_read_once_per_evaluation() -> None:
    class Counting(InMemoryData):
        reads: ClassVar[Counter[str]] = Counter()

        def stats(self, metric: str, start: datetime, end: datetime) -> WindowStats:
            Counting.reads["stats"] += 1
            return super().stats(metric, start, end)

        def ends(self, metric: str, start: datetime, end: datetime) -> WindowEnds:
            Counting.reads["ends"] += 1
            return super().ends(metric, start, end)

        def newest(self, metric: str, start: datetime, end: datetime, limit: int) -> list[Sample]:
            Counting.reads["newest"] += 1
            return list(super().newest(metric, start, end, limit))

        def window(self, metric: str, start: datetime, end: datetime) -> list[Sample]:
            Counting.reads["window"] += 1
            return list(super().window(metric, start, end))

    source = Counting(samples={"x": [Sample(NOW, 1.0)]})
    text = "max(x, 10m) > 90 or min(x, 10m) < 5 or avg(x, 5m) > 1 or delta(x, 5m) > 1 or last(x, 5m) > 1"
    evaluate(parse(text + " or p95(x, 5m) > 1 or p99(x, 5m) > 1"), source, NOW)
    # One aggregate per window size, one pair of ends, one bounded read for both percentiles; `window` is what
    # InMemoryData builds them from.
    assert (Counting.reads["stats"], Counting.reads["ends"], Counting.reads["newest"]) == (2, 1, 1)


def test_percentiles_read_at_most_the_cap() -> None:
    many = InMemoryData(samples={"x": [Sample(ago(seconds=i), float(i)) for i in range(PERCENTILE_CAP + 5)]})
    result = explain("p50(x, 1d) > 0", many).children[0]
    assert result.samples == PERCENTILE_CAP and "the newest 10000 samples (of more)" in result.reason
    assert result.value == pytest.approx((PERCENTILE_CAP - 1) / 2)  # the newest are the seconds 0 … 9999 ago


def test_in_memory_data_keeps_series_sorted() -> None:
    source = InMemoryData(samples={"x": [Sample(NOW, 3.0), Sample(ago(minutes=2), 1.0)]})
    source.add("x", ago(minutes=1), 2.0)
    source.extend({"y": [(NOW, 9.0)]})
    assert [sample.value for sample in source.window("x", ago(hours=1), NOW)] == [1.0, 2.0, 3.0]
    assert source.latest("x") == Sample(NOW, 3.0)
    assert source.latest("y") == Sample(NOW, 9.0) and source.latest("z") is None


@pytest.mark.parametrize("function", ["count", "sum", "delta", "last", "p50"])
def test_a_window_reaching_past_retention_is_unknown(function: str) -> None:
    source = InMemoryData(samples={"x": [Sample(ago(hours=2), 1.0), Sample(NOW, 2.0)]}, retained_from=ago(hours=3))
    past = explain(f"{function}(x, 4h) > 0", source)
    assert past.verdict == "unknown" and "past the samples' retention" in past.children[0].reason
    assert explain(f"{function}(x, 3h) > -10", source).verdict == "pass"  # ends exactly at the horizon: known
