"""Operators on explained values: unknown in, unknown out (with the reason), Kleene logic."""

from __future__ import annotations

import operator
from collections.abc import Callable
from typing import TypeGuard

from venturegate.core.conditions.explanation import Explanation, Value, ValueKind, format_value

_ORDERED: dict[str, Callable[[float, float], bool]] = {
    "<": operator.lt,
    "<=": operator.le,
    ">": operator.gt,
    ">=": operator.ge,
    "==": operator.eq,
    "!=": operator.ne,
}
_ARITHMETIC: dict[str, Callable[[float, float], float]] = {
    "+": operator.add,
    "-": operator.sub,
    "*": operator.mul,
    "/": operator.truediv,
}


def is_number(value: Value) -> TypeGuard[float]:
    """Return whether a run-time value is a number (every number is a float by then)."""
    return type(value) is float


def _unknown_reason(*parts: Explanation) -> str:
    return next((part.reason for part in parts if part.value is None), "")


def negate(text: str, inner: Explanation, kind: ValueKind | None) -> Explanation:
    """Return `-inner`."""
    value = inner.value
    if is_number(value):
        return Explanation(text, -value, "", (inner,), kind=kind)
    reason = inner.reason if value is None else f"cannot negate {format_value(value)}"
    return Explanation(text, None, reason, (inner,), kind=kind)


def arithmetic(text: str, op: str, left: Explanation, right: Explanation, kind: ValueKind | None) -> Explanation:
    """Return `left op right` for + - * /; division by zero is unknown."""
    a, b = left.value, right.value
    children = (left, right)
    if is_number(a) and is_number(b):
        if op == "/" and b == 0:
            return Explanation(text, None, f"division by zero: {right.text} is 0", children, kind=kind)
        return Explanation(text, _ARITHMETIC[op](a, b), "", children, kind=kind)
    if a is None or b is None:
        return Explanation(text, None, _unknown_reason(left, right), children, kind=kind)
    reason = f"cannot use '{op}' on {format_value(a)} and {format_value(b)}"
    return Explanation(text, None, reason, children, kind=kind)


def compare(text: str, op: str, left: Explanation, right: Explanation) -> Explanation:
    """Return `left op right`, recording both values and the operator."""
    a, b = left.value, right.value
    children = (left, right)
    value: bool | None = None
    reason = ""
    if a is None or b is None:
        reason = _unknown_reason(left, right)
    elif is_number(a) and is_number(b):
        value = _ORDERED[op](a, b)
    elif type(a) is type(b) and op in ("==", "!="):
        value = (a == b) == (op == "==")
    else:
        reason = f"cannot compare {format_value(a)} {op} {format_value(b)}"
    return Explanation(text, value, reason, children, op, a, b, kind="bool")


def not_(text: str, inner: Explanation) -> Explanation:
    """Return `not inner`; not unknown is unknown."""
    value = inner.value
    if isinstance(value, bool):
        return Explanation(text, not value, "", (inner,), kind="bool")
    reason = inner.reason if value is None else f"'not' needs true or false, not {format_value(value)}"
    return Explanation(text, None, reason, (inner,), kind="bool")


def logical(text: str, op: str, left: Explanation, right: Explanation) -> Explanation:
    """Return Kleene `and` / `or`: a decisive side wins over an unknown one."""
    a, b = left.value, right.value
    children = (left, right)
    # `and` is decided by a false side, `or` by a true one.
    decisive = op == "or"
    if a is decisive or b is decisive:
        return Explanation(text, decisive, "", children, kind="bool")
    if isinstance(a, bool) and isinstance(b, bool):
        return Explanation(text, not decisive, "", children, kind="bool")
    reasons: list[str] = []
    for side in children:
        if side.value is None:
            reason = side.reason
        elif not isinstance(side.value, bool):
            reason = f"'{op}' needs true or false, not {format_value(side.value)}"
        else:
            continue
        if reason and reason not in reasons:
            reasons.append(reason)
    return Explanation(text, None, "; ".join(reasons), children, kind="bool")
