"""Syntax tree → canonical text, with only the parentheses the grammar needs."""

from __future__ import annotations

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
from venturegate.core.durations import format_duration, format_in_unit

# Binding strength, loosest first; mirrors the grammar's rule order.
_OR, _AND, _NOT, _COMPARE, _SUM, _PRODUCT, _UNARY, _ATOM = range(1, 9)
_BINARY = {"or": _OR, "and": _AND, "+": _SUM, "-": _SUM, "*": _PRODUCT, "/": _PRODUCT}
_ESCAPES = str.maketrans({"\\": "\\\\", '"': '\\"', "\n": "\\n", "\t": "\\t", "\r": "\\r"})


def to_text(expr: Expr) -> str:
    """Return the canonical text of `expr`; `parse(to_text(e)) == e`."""
    return _print(expr)[0]


def precedence(expr: Expr) -> int:
    """Return how tightly `expr`'s outermost operator binds (higher binds tighter)."""
    match expr:
        case Logical(op=op) | Arithmetic(op=op):
            return _BINARY[op]
        case Not():
            return _NOT
        case Compare():
            return _COMPARE
        case Negate():
            return _UNARY
        case _:
            return _ATOM


def _print(expr: Expr) -> tuple[str, int]:
    match expr:
        case Number(value=value):
            return (str(value) if isinstance(value, int) else repr(value)), _ATOM
        case Duration(seconds=seconds, unit=unit):
            return (format_in_unit(seconds, unit) or format_duration(seconds)), _ATOM
        case String(value=value):
            return '"' + value.translate(_ESCAPES) + '"', _ATOM
        case Boolean(value=value):
            return ("true" if value else "false"), _ATOM
        case MetricRef(name=name):
            return name, _ATOM
        case SegmentRef():
            return "segment", _ATOM
        case LevelRef(kind=kind, metric=metric):
            return f"{kind}.{metric}", _ATOM
        case ConfigRef(key=key):
            return f"config.{key}", _ATOM
        case Call(function=function, args=args):
            return f"{function}({', '.join(_print(arg)[0] for arg in args)})", _ATOM
        case Negate(operand=operand):
            return "-" + _operand(operand, _UNARY), _UNARY
        case Not(operand=operand):
            return "not " + _operand(operand, _NOT), _NOT
        case Compare(op=op, left=left, right=right):
            # Comparisons do not chain, so both sides must bind tighter than a comparison.
            text = f"{_operand(left, _SUM)} {op} {_operand(right, _SUM)}"
            return text, _COMPARE
        case Logical(op=op, left=left, right=right) | Arithmetic(op=op, left=left, right=right):
            # Left-associative: an equally strong operator needs parentheses only on the right.
            strength = _BINARY[op]
            text = f"{_operand(left, strength)} {op} {_operand(right, strength + 1)}"
            return text, strength


def _operand(expr: Expr, needed: int) -> str:
    text, strength = _print(expr)
    return text if strength >= needed else f"({text})"
