"""Text → syntax tree, with readable errors that point at the offending column."""

from __future__ import annotations

import functools
import math
import re
from typing import Any, cast

from lark import Lark, Token
from lark.exceptions import UnexpectedCharacters, UnexpectedInput, UnexpectedToken

from venturegate.core.conditions.errors import ConditionSyntaxError
from venturegate.core.conditions.grammar import GRAMMAR
from venturegate.core.conditions.nodes import (
    Arithmetic,
    ArithmeticOp,
    Boolean,
    Call,
    Compare,
    CompareOp,
    ConfigRef,
    Duration,
    Expr,
    LevelKind,
    LevelRef,
    Logical,
    LogicalOp,
    MetricRef,
    Negate,
    Not,
    Number,
    SegmentRef,
    String,
)
from venturegate.core.durations import UNIT_SECONDS, parse_duration


def parse(text: str) -> Expr:
    """Parse a condition; raise `ConditionSyntaxError` with a 1-based line and column."""
    if not text.strip():
        raise ConditionSyntaxError("empty condition", 1, 1, 'write an expression such as "avg(latency_ms, 5m) < 200"')
    try:
        # The builder turns every reduction into a node, so lark's "tree" is our syntax tree.
        return cast("Expr", _lark().parse(text))
    except UnexpectedInput as error:
        raise _explain(text, error) from None


@functools.cache
def _lark() -> Lark:
    # Built once, on first use: building the tables takes milliseconds. The basic lexer (not the
    # contextual one) keeps `and`, `not`, `true` keywords everywhere, never metric names.
    return Lark(GRAMMAR, parser="lalr", lexer="basic", transformer=_Builder(), maybe_placeholders=True)


_ESCAPES = {'"': '"', "\\": "\\", "n": "\n", "t": "\t", "r": "\r"}
_SINGLE_DURATION = re.compile(r"([0-9]+)(ms|w|d|h|m|s)")


def _at(token: Token) -> dict[str, int]:
    # The basic lexer always sets positions; lark's types allow None for hand-made tokens.
    return {"line": token.line or 1, "column": token.column or 1}


def _where(token: Token) -> tuple[int, int]:
    return token.line or 1, token.column or 1


class _Builder:
    """Callbacks that lark's LALR parser runs as it reduces, so no parse tree is ever built."""

    # lark hands over lists of tokens and already-built nodes; their types are checked by the
    # grammar, so `Any` stays inside this class.

    def number(self, children: list[Any]) -> Number:
        (token,) = children
        text = str(token)
        try:
            value: int | float = int(text) if text.isdigit() else float(text)
            if not math.isfinite(value):
                raise ValueError(text)
        except ValueError:
            raise ConditionSyntaxError(f"number {text} is too large", *_where(token)) from None
        return Number(value, **_at(token))

    def duration(self, children: list[Any]) -> Duration:
        (token,) = children
        single = _SINGLE_DURATION.fullmatch(token)
        unit = single.group(2) if single else ""
        try:
            seconds = parse_duration(token)
        except ValueError:
            seconds = math.inf
        if not math.isfinite(seconds):
            raise ConditionSyntaxError(f"duration {token} is too long", *_where(token))
        return Duration(seconds, unit if unit in UNIT_SECONDS else "", **_at(token))

    def string(self, children: list[Any]) -> String:
        (token,) = children
        body = str(token)[1:-1]
        if "\\" not in body:
            return String(body, **_at(token))
        chars: list[str] = []
        index = 0
        while index < len(body):
            char = body[index]
            if char == "\\":
                escaped = body[index + 1]
                if escaped not in _ESCAPES:
                    raise ConditionSyntaxError(
                        f"unknown escape '\\{escaped}' in a string",
                        token.line,
                        token.column + 1 + index,
                        'write \\" for a quote, \\\\ for a backslash, \\n for a new line',
                    )
                chars.append(_ESCAPES[escaped])
                index += 2
            else:
                chars.append(char)
                index += 1
        return String("".join(chars), **_at(token))

    def boolean(self, children: list[Any]) -> Boolean:
        (token,) = children
        return Boolean(token == "true", **_at(token))

    def name(self, children: list[Any]) -> MetricRef | SegmentRef:
        (token,) = children
        if token == "segment":
            return SegmentRef(**_at(token))
        return MetricRef(str(token), **_at(token))

    def dotted(self, children: list[Any]) -> LevelRef | ConfigRef:
        first, *rest = (child for child in children if child.type == "NAME")
        path = ".".join(str(part) for part in rest)
        if first == "config":
            return ConfigRef(path, **_at(first))
        if first in ("target", "threshold", "alert"):
            if len(rest) != 1:
                raise ConditionSyntaxError(
                    f"'{first}.{path}' names more than one metric",
                    first.line,
                    first.column,
                    f"write {first}.<metric>, for example {first}.{rest[0]}",
                )
            kind: LevelKind = first.value
            return LevelRef(kind, path, **_at(first))
        raise ConditionSyntaxError(
            f"unknown reference '{first}.{path}'",
            first.line,
            first.column,
            "dotted names start with config., threshold., target. or alert.",
        )

    def call(self, children: list[Any]) -> Call:
        name, _, arguments, _ = children
        return Call(str(name), tuple(arguments or ()), **_at(name))

    def arguments(self, children: list[Any]) -> list[Expr]:
        return [child for child in children if not isinstance(child, Token)]

    def group(self, children: list[Any]) -> Expr:
        _, inner, _ = children
        result: Expr = inner
        return result

    def negate(self, children: list[Any]) -> Negate:
        minus, operand = children
        return Negate(operand, **_at(minus))

    def not_(self, children: list[Any]) -> Not:
        keyword, operand = children
        return Not(operand, **_at(keyword))

    def arithmetic(self, children: list[Any]) -> Arithmetic:
        left, op, right = children
        arithmetic_op: ArithmeticOp = op.value
        return Arithmetic(arithmetic_op, left, right, **_at(op))

    def compare(self, children: list[Any]) -> Compare:
        left, op, right = children
        compare_op: CompareOp = op.value
        return Compare(compare_op, left, right, **_at(op))

    def logical(self, children: list[Any]) -> Logical:
        left, op, right = children
        logical_op: LogicalOp = op.value
        return Logical(logical_op, left, right, **_at(op))


# --- errors ------------------------------------------------------------------------------------

_VALUE_STARTS = frozenset({"NUMBER", "DURATION", "STRING", "TRUE", "FALSE", "NAME", "LPAR", "MINUS", "NOT"})
# `(` and `-` also follow a value (a call, a subtraction), so they do not show that one is missing.
_VALUE_NEEDED = _VALUE_STARTS - {"LPAR", "MINUS"}
_OPERATOR_BEFORE = re.compile(r"(<=|>=|==|!=|[<>+\-*/(,.]|\b(?:and|or|not))\s*\Z")
_CHARACTER_HINTS = {
    "=": "use '==' to test equality",
    "&": "use 'and'",
    "|": "use 'or'",
    "!": "use 'not', or '!=' for 'not equal'",
    "'": 'strings are written in double quotes: "b2b_enterprise"',
}


def _explain(text: str, error: UnexpectedInput) -> ConditionSyntaxError:
    if isinstance(error, UnexpectedToken):
        return _unexpected_token(text, error)
    if isinstance(error, UnexpectedCharacters):
        char = text[error.pos_in_stream or 0]
        if char == '"':
            return ConditionSyntaxError("unterminated string", error.line, error.column, 'close it with a "')
        return ConditionSyntaxError(
            f"unknown character {char!r}", error.line, error.column, _CHARACTER_HINTS.get(char, "")
        )
    return ConditionSyntaxError(str(error).splitlines()[0], error.line, error.column)


def _unexpected_token(text: str, error: UnexpectedToken) -> ConditionSyntaxError:
    token: Token = error.token
    expected = frozenset(error.expected)
    at_end = token.type == "$END"
    offset = len(text.rstrip()) if at_end else (token.start_pos or 0)
    line, column = _line_column(text, offset)
    found = "the end of the condition" if at_end else f"'{token}'"
    before = _OPERATOR_BEFORE.search(text, 0, offset)
    if expected == {"NAME"}:
        return ConditionSyntaxError(f"expected a name after '.', found {found}", line, column)
    if expected & _VALUE_NEEDED:
        after = f" after '{before.group(1)}'" if before else ""
        message = f"expected a value{after}" + ("" if at_end else f", found {found}")
        return ConditionSyntaxError(message, line, column)
    if token.type == "COMPARE_OP":
        return ConditionSyntaxError(
            "comparisons cannot be chained", line, column, "join them with 'and': a < b and b < c"
        )
    if at_end and "RPAR" in expected:
        opened_line, opened_column = _unclosed_parenthesis(text)
        where = f"column {opened_column}" + (f" of line {opened_line}" if line > 1 else "")
        return ConditionSyntaxError("missing ')'", line, column, f"close the '(' opened at {where}")
    if token.type == "RPAR":
        return ConditionSyntaxError("unmatched ')'", line, column, "remove it or add a '('")
    if token.type in _VALUE_STARTS:
        hint = "join conditions with 'and' or 'or'"
        if offset > 0 and text[offset - 1].isdigit():
            hint = "a duration is a whole number followed by ms, s, m, h, d or w, such as 5m"
        return ConditionSyntaxError(f"expected an operator before {found}", line, column, hint)
    return ConditionSyntaxError(f"unexpected {found}", line, column)


def _line_column(text: str, offset: int) -> tuple[int, int]:
    line = text.count("\n", 0, offset) + 1
    return line, offset - (text.rfind("\n", 0, offset) + 1) + 1


def _unclosed_parenthesis(text: str) -> tuple[int, int]:
    """Return the line and column of the last '(' that is never closed (strings skipped)."""
    opened: list[int] = []
    in_string = escaped = False
    for offset, char in enumerate(text):
        if in_string:
            if escaped:
                escaped = False
            elif char == "\\":
                escaped = True
            elif char == '"':
                in_string = False
        elif char == '"':
            in_string = True
        elif char == "(":
            opened.append(offset)
        elif char == ")" and opened:
            opened.pop()
    return _line_column(text, opened[-1] if opened else 0)
