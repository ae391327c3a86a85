"""Property tests: `evaluate` agrees with a deliberately simple reference evaluator on random data."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from hypothesis import given, settings
from hypothesis import strategies as st

from tests.conditions import strategies as trees
from venturegate.core.conditions import ConditionSchema, InMemoryData, Sample, analyze, evaluate, parse
from venturegate.core.conditions.nodes import (
    Arithmetic,
    Boolean,
    Call,
    Compare,
    ConfigRef,
    Duration,
    Expr,
    LevelRef,
    Logical,
    MetricRef,
    Negate,
    Not,
    Number,
    SegmentRef,
    String,
)
from venturegate.core.conditions.windows import ENDS_FUNCTIONS

BASE = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)

# --- the reference: plain recursion, truth tables, nothing shared with the implementation -------

U = None  # unknown
AND = {(True, True): True, (True, False): False, (False, True): False, (False, False): False,
       (True, U): U, (U, True): U, (False, U): False, (U, False): False, (U, U): U}  # fmt: skip
OR = {(True, True): True, (True, False): True, (False, True): True, (False, False): False,
      (True, U): True, (U, True): True, (False, U): U, (U, False): U, (U, U): U}  # fmt: skip


@dataclass
class World:
    """Random venture data in plain lists, read by the reference and copied into InMemoryData."""

    now: datetime
    series: dict[str, list[tuple[datetime, float]]]
    levels: dict[tuple[str, str], float]
    config: dict[str, float | str | bool]
    segment: str | None
    entered: datetime | None
    recursions: dict[str, int] = field(default_factory=dict)

    def data(self) -> InMemoryData:
        return InMemoryData(
            samples={m: [Sample(at, value) for at, value in points] for m, points in self.series.items()},
            levels=dict(self.levels),  # type: ignore[arg-type]
            config_values=dict(self.config),
            segment_name=self.segment,
            stage_entered_at=self.entered,
            recursion_counts=dict(self.recursions),
        )


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    rank = q * (len(ordered) - 1)
    below = int(rank)
    above = below + 1 if below + 1 < len(ordered) else below
    return ordered[below] + (ordered[above] - ordered[below]) * (rank - below)


def reference(expr: Expr, world: World) -> float | str | bool | None:
    def points(metric: str) -> list[tuple[datetime, float]]:
        return sorted(world.series.get(metric, []), key=lambda point: point[0])

    match expr:
        case Number(value=value):
            return float(value)
        case Duration(seconds=seconds):
            return seconds
        case String(value=value) | Boolean(value=value):
            return value
        case SegmentRef():
            return world.segment
        case MetricRef(name=name):
            series = points(name)
            return series[-1][1] if series else None
        case LevelRef(kind=kind, metric=metric):
            return world.levels.get((kind, metric))
        case ConfigRef(key=key):
            configured = world.config.get(key)
            if isinstance(configured, bool) or not isinstance(configured, int):
                return configured
            return float(configured)
        case Call(function="days_in_stage"):
            return None if world.entered is None else (world.now - world.entered).total_seconds() / 86400
        case Call(function="recursions", args=(String(value=trigger),)):
            return float(world.recursions.get(trigger, 0))
        case Call(function="age", args=(MetricRef(name=name),)):
            series = points(name)
            return (world.now - series[-1][0]).total_seconds() if series else None
        case Call(function=function, args=(MetricRef(name=name), window)):
            size = reference(window, world)
            if not isinstance(size, float) or size <= 0:
                return None
            values = [(at, v) for at, v in points(name) if world.now - timedelta(seconds=size) < at <= world.now]
            if function == "count":
                return float(len(values))
            if not values or (function in ("rate", "delta") and len(values) < 2):
                return None
            only = [v for _, v in values]
            if function == "rate":
                elapsed = (values[-1][0] - values[0][0]).total_seconds()
                return (only[-1] - only[0]) / elapsed if elapsed > 0 else None
            if function.startswith("p"):
                return percentile(only, int(function[1:]) / 100)
            return {
                "avg": sum(only) / len(only),
                "min": min(only),
                "max": max(only),
                "sum": sum(only),
                "last": only[-1],
                "delta": only[-1] - only[0],
            }[function]
        case Negate(operand=operand):
            number = reference(operand, world)
            return None if number is None else -number  # type: ignore[operator]
        case Arithmetic(op=op, left=left, right=right):
            a, b = reference(left, world), reference(right, world)
            if a is None or b is None or (op == "/" and b == 0):
                return None
            return {"+": a + b, "-": a - b, "*": a * b, "/": a / b if b else 0}[op]  # type: ignore[operator]
        case Compare(op=op, left=left, right=right):
            a, b = reference(left, world), reference(right, world)
            if a is None or b is None:
                return None
            return {"<": a < b, "<=": a <= b, ">": a > b, ">=": a >= b, "==": a == b, "!=": a != b}[op]  # type: ignore[operator]
        case Not(operand=operand):
            truth = reference(operand, world)
            return None if truth is None else not truth
        case Logical(op=op, left=left, right=right):
            table = AND if op == "and" else OR
            return table[(reference(left, world), reference(right, world))]  # type: ignore[index]
    raise AssertionError(f"no reference for {expr!r}")


# --- random worlds ------------------------------------------------------------------------------

_values = st.integers(-50, 50).map(float)
_times = st.integers(0, 3 * 3600).map(lambda seconds: BASE + timedelta(seconds=seconds))


# Strategies are built once: building them inside the composite made each example slow.
_series = st.dictionaries(st.sampled_from(trees.METRICS), st.lists(st.tuples(_times, _values), max_size=12))
_levels = st.dictionaries(st.tuples(st.sampled_from(trees.LEVEL_KINDS), st.sampled_from(trees.METRICS)), _values)
_config = st.fixed_dictionaries(
    {},
    optional={
        trees.NUMBER_CONFIG: _values,
        trees.DURATION_CONFIG: st.sampled_from([0.0, 60.0, 600.0, 3600.0]),
        trees.STRING_CONFIG: st.sampled_from(trees.SEGMENTS),
        trees.BOOL_CONFIG: st.booleans(),
    },
)
worlds = st.builds(
    World,
    now=_times,
    series=_series,
    levels=_levels,
    config=_config,
    segment=st.none() | st.sampled_from(trees.SEGMENTS),
    entered=st.none() | _times,
    recursions=st.dictionaries(st.sampled_from(trees.TRIGGERS), st.integers(0, 5)),
)


def same(actual: object, expected: object) -> bool:
    if isinstance(actual, float) and isinstance(expected, float):
        return actual == expected or (math.isnan(actual) and math.isnan(expected))
    return type(actual) is type(expected) and actual == expected


SCHEMA = ConditionSchema(
    metrics=frozenset(trees.METRICS),
    metric_levels={metric: frozenset(trees.LEVEL_KINDS) for metric in trees.METRICS},
    config_types={
        trees.NUMBER_CONFIG: "number",
        trees.DURATION_CONFIG: "duration",
        trees.STRING_CONFIG: "string",
        trees.BOOL_CONFIG: "bool",
    },
)


@settings(max_examples=200, deadline=None)
@given(trees.typed_bool, worlds)
def test_conditions_agree_with_the_reference(expr: Expr, world: World) -> None:
    assert analyze(expr, SCHEMA) == []
    result = evaluate(expr, world.data(), world.now)
    expected = reference(expr, world)
    assert same(result.value, expected), (result.value, expected)
    assert result.verdict == {True: "pass", False: "fail", None: "unknown"}[expected]  # type: ignore[index]


@settings(max_examples=100, deadline=None)
@given(st.one_of(trees.typed_number, trees.typed_duration), worlds)
def test_numbers_agree_with_the_reference(expr: Expr, world: World) -> None:
    expected = reference(expr, world)
    assert same(evaluate(expr, world.data(), world.now).value, expected)


@settings(max_examples=50, deadline=None)
@given(trees.typed_bool, worlds)
def test_unknown_results_say_why(expr: Expr, world: World) -> None:
    result = evaluate(expr, world.data(), world.now)
    if result.value is None:
        assert result.reason


@settings(max_examples=100, deadline=None)
@given(
    st.sampled_from(trees.WINDOW_FUNCTIONS), st.sampled_from(trees.METRICS), st.sampled_from(["5m", "1h", "3h"]), worlds
)
def test_window_functions_agree_with_the_reference(function: str, metric: str, window: str, world: World) -> None:
    expr = parse(f"{function}({metric}, {window})")
    result = evaluate(expr, world.data(), world.now)
    assert same(result.value, reference(expr, world))
    # last, delta and rate read the window's two ends: they do not count its samples (unless it has fewer than two).
    assert (result.samples is not None or function in ENDS_FUNCTIONS) and result.reason
