"""Printing: canonical text with minimal parentheses, and that parsing reads it back."""

from __future__ import annotations

import pytest
from hypothesis import given, settings

from tests.conditions.strategies import any_tree
from tests.conditions.test_parser import EXAMPLES
from venturegate.core.conditions import parse, to_text
from venturegate.core.conditions.nodes import (
    Arithmetic,
    Compare,
    Duration,
    Expr,
    Logical,
    MetricRef,
    Negate,
    Not,
    Number,
    String,
)


@pytest.mark.parametrize("text", EXAMPLES[:-1])
def test_canonical_examples_print_as_written(text: str) -> None:
    assert to_text(parse(text)) == text


@pytest.mark.parametrize(
    ("written", "canonical"),
    [
        ("((a))>1", "a > 1"),
        ("(a * b) + c > 1", "a * b + c > 1"),
        ("a * (b + c) > 1", "a * (b + c) > 1"),
        ("a - (b - c) > 1", "a - (b - c) > 1"),
        ("(a - b) - c > 1", "a - b - c > 1"),
        ("(p and q) or r", "p and q or r"),
        ("p and (q or r)", "p and (q or r)"),
        ("p or (q or r)", "p or (q or r)"),
        ("not (a > 1)", "not a > 1"),
        (EXAMPLES[-1], "not error_rate > 5 and latency_p95 * 2 + 1 <= target.latency_p95 / 0.5"),
        ("(not p) == q", "(not p) == q"),
        ("not (p and q)", "not (p and q)"),
        ("-(a + 1) < 0", "-(a + 1) < 0"),
        ("- - a < 0", "--a < 0"),
        ("(a < b) == (c < d)", "(a < b) == (c < d)"),
        ("x > 60m", "x > 60m"),
        ("x > 90m", "x > 90m"),
        ("x > 1h30m", "x > 1h30m"),
        ("x > 0.5", "x > 0.5"),
        ("x > 3.0", "x > 3.0"),
        ("x > 1e20", "x > 1e+20"),
        ('s == "quote \\" back \\\\ tab \\t"', 's == "quote \\" back \\\\ tab \\t"'),
        ("days_in_stage()>14", "days_in_stage() > 14"),
    ],
)
def test_minimal_parentheses(written: str, canonical: str) -> None:
    assert to_text(parse(written)) == canonical


@pytest.mark.parametrize(
    ("tree", "text"),
    [
        (Duration(90.0, "m"), "1m30s"),  # not a whole number of minutes: written in mixed units
        (Duration(0.25, "s"), "250ms"),
        (Duration(7200.0, "h"), "2h"),
        (Duration(7200.0), "2h"),
        (Negate(Number(5)), "-5"),
        (Compare("<", Negate(Negate(MetricRef("x"))), Number(0)), "--x < 0"),
        (Not(Not(Compare("==", String("a"), String("b")))), 'not not "a" == "b"'),
        (Logical("and", Logical("or", MetricRef("p"), MetricRef("q")), MetricRef("r")), "(p or q) and r"),
        (Arithmetic("/", MetricRef("a"), Arithmetic("*", MetricRef("b"), MetricRef("c"))), "a / (b * c)"),
        (Arithmetic("-", MetricRef("a"), Negate(MetricRef("b"))), "a - -b"),
    ],
)
def test_printing_trees(tree: Expr, text: str) -> None:
    assert to_text(tree) == text
    assert parse(text) == tree


def test_number_literals_cannot_be_negative() -> None:
    with pytest.raises(ValueError, match="not negative"):
        Number(-1)
    with pytest.raises(ValueError, match="not negative"):
        Number(-0.0)
    with pytest.raises(TypeError):
        Number(True)
    with pytest.raises(ValueError, match="finite"):
        Duration(float("inf"))


@settings(max_examples=200, deadline=None)
@given(any_tree)
def test_parse_reads_back_what_to_text_prints(tree: Expr) -> None:
    text = to_text(tree)
    assert parse(text) == tree
    assert to_text(parse(text)) == text
