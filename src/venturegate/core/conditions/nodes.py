"""The syntax tree of a condition: frozen, comparable nodes that remember where they came from."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Literal, TypeAlias

LevelKind: TypeAlias = Literal["target", "threshold", "alert"]
LogicalOp: TypeAlias = Literal["and", "or"]
CompareOp: TypeAlias = Literal["<", "<=", ">", ">=", "==", "!="]
ArithmeticOp: TypeAlias = Literal["+", "-", "*", "/"]

LEVEL_KINDS: frozenset[str] = frozenset({"target", "threshold", "alert"})
COMPARE_OPS: frozenset[str] = frozenset({"<", "<=", ">", ">=", "==", "!="})
ARITHMETIC_OPS: frozenset[str] = frozenset({"+", "-", "*", "/"})


def _position() -> int:
    # Positions are 1-based and excluded from equality: `a>1` and `a > 1` are the same tree.
    return field(default=1, compare=False, repr=False, kw_only=True)


@dataclass(frozen=True, slots=True)
class Number:
    """A non-negative numeric literal; `-5` is `Negate(Number(5))`."""

    value: int | float
    line: int = _position()
    column: int = _position()

    def __post_init__(self) -> None:
        if isinstance(self.value, bool) or not isinstance(self.value, int | float):
            raise TypeError(f"a number literal holds an int or float, not {self.value!r}")
        if not math.isfinite(self.value) or math.copysign(1, self.value) < 0:
            raise ValueError(f"a number literal is finite and not negative, not {self.value!r}")


@dataclass(frozen=True, slots=True)
class Duration:
    """A duration literal in seconds; `unit` only remembers how it was written (`5m`)."""

    seconds: float
    unit: str = field(default="", compare=False)
    line: int = _position()
    column: int = _position()

    def __post_init__(self) -> None:
        if not math.isfinite(self.seconds) or self.seconds < 0:
            raise ValueError(f"a duration literal is finite and not negative, not {self.seconds!r}")


@dataclass(frozen=True, slots=True)
class String:
    """A double-quoted string literal."""

    value: str
    line: int = _position()
    column: int = _position()


@dataclass(frozen=True, slots=True)
class Boolean:
    """`true` or `false`."""

    value: bool
    line: int = _position()
    column: int = _position()


@dataclass(frozen=True, slots=True)
class MetricRef:
    """A bare metric name: the metric's latest sample."""

    name: str
    line: int = _position()
    column: int = _position()


@dataclass(frozen=True, slots=True)
class SegmentRef:
    """`segment`: the venture's market segment."""

    line: int = _position()
    column: int = _position()


@dataclass(frozen=True, slots=True)
class LevelRef:
    """`threshold.M`, `target.M` or `alert.M`: a metric's level for the venture's segment."""

    kind: LevelKind
    metric: str
    line: int = _position()
    column: int = _position()


@dataclass(frozen=True, slots=True)
class ConfigRef:
    """`config.a.b`: the venture's effective value of config parameter `a.b`."""

    key: str
    line: int = _position()
    column: int = _position()


@dataclass(frozen=True, slots=True)
class Call:
    """A function call such as `avg(latency_ms, 5m)`; arguments are checked by `analyze`."""

    function: str
    args: tuple[Expr, ...]
    line: int = _position()
    column: int = _position()


@dataclass(frozen=True, slots=True)
class Negate:
    """Unary minus."""

    operand: Expr
    line: int = _position()
    column: int = _position()


@dataclass(frozen=True, slots=True)
class Arithmetic:
    """`+ - * /`; the position is the operator's."""

    op: ArithmeticOp
    left: Expr
    right: Expr
    line: int = _position()
    column: int = _position()


@dataclass(frozen=True, slots=True)
class Compare:
    """A comparison; the position is the operator's."""

    op: CompareOp
    left: Expr
    right: Expr
    line: int = _position()
    column: int = _position()


@dataclass(frozen=True, slots=True)
class Not:
    """`not x`."""

    operand: Expr
    line: int = _position()
    column: int = _position()


@dataclass(frozen=True, slots=True)
class Logical:
    """`and` / `or`; the position is the operator's."""

    op: LogicalOp
    left: Expr
    right: Expr
    line: int = _position()
    column: int = _position()


Expr: TypeAlias = (
    Number
    | Duration
    | String
    | Boolean
    | MetricRef
    | SegmentRef
    | LevelRef
    | ConfigRef
    | Call
    | Negate
    | Arithmetic
    | Compare
    | Not
    | Logical
)


def children(expr: Expr) -> tuple[Expr, ...]:
    """Return the direct sub-expressions of `expr`, left to right."""
    match expr:
        case Call(args=args):
            return args
        case Negate(operand=operand) | Not(operand=operand):
            return (operand,)
        case Arithmetic(left=left, right=right) | Compare(left=left, right=right):
            return (left, right)
        case Logical(left=left, right=right):
            return (left, right)
        case _:
            return ()


def walk(expr: Expr) -> list[Expr]:
    """Return `expr` and all its sub-expressions, parents before children."""
    found: list[Expr] = []
    stack = [expr]
    while stack:
        node = stack.pop()
        found.append(node)
        stack.extend(reversed(children(node)))
    return found
