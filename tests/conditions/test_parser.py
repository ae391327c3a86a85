"""Parsing: the trees the examples give, positions, and readable errors."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from venturegate.core.conditions import ConditionSyntaxError, parse
from venturegate.core.conditions.nodes import (
    Arithmetic,
    Boolean,
    Call,
    Compare,
    ConfigRef,
    Duration,
    LevelRef,
    Logical,
    MetricRef,
    Negate,
    Not,
    Number,
    SegmentRef,
    String,
    walk,
)

EXAMPLES = [
    "p95(latency_ms, 5m) > config.rollback.response_time_threshold",
    "avg(cache_hit_rate, 1h) < 70",
    "max(cpu_utilization, 10m) > 90 or max(memory_utilization, 10m) > 95",
    "integration_success_rate < threshold.integration_success_rate",
    "delta(integration_success_rate, 7d) < -10",
    "count(circuit_breaker_open, 24h) > 5",
    "age(readiness_score) > 1d",
    'days_in_stage() > 14 and segment == "b2b_enterprise"',
    'recursions("PERF-001") >= 3',
    "not (error_rate > 5) and latency_p95 * 2 + 1 <= target.latency_p95 / 0.5",
]


@pytest.mark.parametrize("text", EXAMPLES)
def test_the_design_examples_parse(text: str) -> None:
    assert isinstance(parse(text), Compare | Logical)


def test_window_call_tree() -> None:
    assert parse("p95(latency_ms, 5m) > config.rollback.response_time_threshold") == Compare(
        ">",
        Call("p95", (MetricRef("latency_ms"), Duration(300.0))),
        ConfigRef("rollback.response_time_threshold"),
    )


def test_precedence_or_and_not_compare_sum_product_unary() -> None:
    tree = parse("not a > 1 or b * -2 + 3 == c and true")
    expected = Logical(
        "or",
        Not(Compare(">", MetricRef("a"), Number(1))),
        Logical(
            "and",
            Compare(
                "==",
                Arithmetic("+", Arithmetic("*", MetricRef("b"), Negate(Number(2))), Number(3)),
                MetricRef("c"),
            ),
            Boolean(True),
        ),
    )
    assert tree == expected


def test_binary_operators_are_left_associative() -> None:
    assert parse("a - b - c") == Arithmetic("-", Arithmetic("-", MetricRef("a"), MetricRef("b")), MetricRef("c"))
    assert parse("a / b * c") == Arithmetic("*", Arithmetic("/", MetricRef("a"), MetricRef("b")), MetricRef("c"))
    assert parse("p or q or r") == Logical("or", Logical("or", MetricRef("p"), MetricRef("q")), MetricRef("r"))


def test_literals() -> None:
    assert parse("x == 7") == Compare("==", MetricRef("x"), Number(7))
    number = parse("x == 2.5e3").right  # type: ignore[union-attr]
    assert number == Number(2500.0) and isinstance(number.value, float)
    assert isinstance(parse("x == 7").right.value, int)  # type: ignore[union-attr]
    assert parse('s == "a\\"b\\\\c\\n"').right == String('a"b\\c\n')  # type: ignore[union-attr]
    assert parse("x == false").right == Boolean(False)  # type: ignore[union-attr]


@pytest.mark.parametrize(
    ("text", "seconds", "unit"),
    [
        ("30s", 30, "s"),
        ("500ms", 0.5, "ms"),
        ("5m", 300, "m"),
        ("2h", 7200, "h"),
        ("1d", 86400, "d"),
        ("1w", 604800, "w"),
        ("1h30m", 5400, ""),
    ],
)
def test_durations(text: str, seconds: float, unit: str) -> None:
    duration = parse(f"age(x) > {text}").right  # type: ignore[union-attr]
    assert duration == Duration(seconds)
    assert duration.unit == unit


def test_references() -> None:
    assert parse("segment == x").left == SegmentRef()  # type: ignore[union-attr]
    assert parse("alert.m > 1").left == LevelRef("alert", "m")  # type: ignore[union-attr]
    assert parse("config.rollback.errorRateThreshold > 1").left == ConfigRef(  # type: ignore[union-attr]
        "rollback.errorRateThreshold"
    )
    assert parse("config.a.b_2.c3 > 1").left == ConfigRef("a.b_2.c3")  # type: ignore[union-attr]
    # Without a dot these prefixes are ordinary metric names.
    assert parse("threshold > 1").left == MetricRef("threshold")  # type: ignore[union-attr]


def test_keywords_are_never_names() -> None:
    with pytest.raises(ConditionSyntaxError, match="expected a value after '=='"):
        parse("a == not")
    assert parse("android > 1").left == MetricRef("android")  # type: ignore[union-attr]


def test_positions_are_one_based_and_exclude_equality() -> None:
    tree = parse("avg(x, 5m) >  threshold.x")
    assert isinstance(tree, Compare)
    assert (tree.line, tree.column) == (1, 12)
    assert tree.left.column == 1
    assert tree.right.column == 15
    assert isinstance(tree.left, Call)
    assert [arg.column for arg in tree.left.args] == [5, 8]
    assert tree == parse("avg(x,5m)>threshold.x")


def test_positions_on_later_lines() -> None:
    tree = parse("a > 1\n  and b < 2")
    assert isinstance(tree, Logical)
    assert (tree.line, tree.column) == (2, 3)
    assert (tree.right.line, tree.right.column) == (2, 9)


@pytest.mark.parametrize(
    ("text", "message", "column", "hint"),
    [
        ("", "empty condition", 1, "write an expression"),
        ("a and", "expected a value after 'and'", 6, ""),
        ("a >", "expected a value after '>'", 4, ""),
        ("not", "expected a value after 'not'", 4, ""),
        ("avg(x,", "expected a value after ','", 7, ""),
        ("f(a,)", "expected a value after ',', found ')'", 5, ""),
        ("cost > $5", "unknown character '$'", 8, ""),
        ("a = 1", "unknown character '='", 3, "use '=='"),
        ("a && b", "unknown character '&'", 3, "use 'and'"),
        ("a || b", "unknown character '|'", 3, "use 'or'"),
        ("!a", "unknown character '!'", 1, "use 'not'"),
        ("s == 'x'", 'unknown character "\'"', 6, "double quotes"),
        ('s == "abc', "unterminated string", 6, 'close it with a "'),
        ("a < b < c", "comparisons cannot be chained", 7, "join them with 'and'"),
        ("(a > 1", "missing ')'", 7, "close the '(' opened at column 1"),
        ("a > 1)", "unmatched ')'", 6, ""),
        ("a b", "expected an operator before 'b'", 3, "'and' or 'or'"),
        ("x > 5min", "expected an operator before 'min'", 6, "followed by ms, s, m, h, d or w"),
        ("a , b", "unexpected ','", 3, ""),
        ("config. > 1", "expected a name after '.', found '>'", 9, ""),
        ("foo.bar > 1", "unknown reference 'foo.bar'", 1, "config., threshold., target. or alert."),
        ("x > threshold.a.b", "'threshold.a.b' names more than one metric", 5, "threshold.<metric>"),
        ('s == "a\\qb"', "unknown escape '\\q' in a string", 8, ""),
        ("x > 1e999", "number 1e999 is too large", 5, ""),
    ],
)
def test_syntax_errors(text: str, message: str, column: int, hint: str) -> None:
    with pytest.raises(ConditionSyntaxError) as caught:
        parse(text)
    error = caught.value
    assert error.message == message
    assert (error.line, error.column) == (1, column)
    assert hint in error.hint
    # No lark exception is chained to it, so tracebacks show only our message.
    assert error.__cause__ is None and (error.__suppress_context__ or error.__context__ is None)


def test_error_positions_on_later_lines() -> None:
    with pytest.raises(ConditionSyntaxError) as caught:
        parse("(a > 1\n and b")
    assert (caught.value.line, caught.value.column) == (2, 7)
    assert caught.value.hint == "close the '(' opened at column 1 of line 1"


def test_error_text_names_the_position() -> None:
    with pytest.raises(ConditionSyntaxError, match=r"expected a value after 'and' \(line 1, column 6\)"):
        parse("a and")


@settings(max_examples=300, deadline=None)
@given(st.text(alphabet='ab1.5m ()<=>!"\\,+-*/andortfegs_\n$', max_size=20))
def test_any_text_parses_or_raises_a_located_syntax_error(text: str) -> None:
    try:
        tree = parse(text)
    except ConditionSyntaxError as error:
        lines = text.split("\n") or [""]
        assert 1 <= error.line <= len(lines)
        assert 1 <= error.column <= len(lines[error.line - 1]) + 1
        assert error.message
    else:
        assert walk(tree)
