"""Static checks of a parsed condition against the workflow's metrics and config, and what it reads."""

from __future__ import annotations

import difflib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Literal, TypeAlias

from venturegate.core.conditions.functions import FUNCTIONS, ValueType
from venturegate.core.conditions.nodes import (
    Arithmetic,
    Boolean,
    Call,
    Compare,
    ConfigRef,
    Duration,
    Expr,
    LevelKind,
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
from venturegate.core.conditions.printer import to_text

ConfigType: TypeAlias = Literal["number", "duration", "string", "bool", "list"]

_ARTICLE = {"number": "a number", "duration": "a duration", "string": "a string", "bool": "a bool"}


@dataclass(frozen=True, slots=True)
class ConditionSchema:
    """What a condition may refer to: metrics, their levels, typed config keys, segments."""

    metrics: frozenset[str] = frozenset()
    metric_levels: Mapping[str, frozenset[str]] = field(default_factory=dict)
    config_types: Mapping[str, ConfigType] = field(default_factory=dict)
    # Empty means "any segment": string comparisons with `segment` are then not checked.
    segments: frozenset[str] = frozenset()


@dataclass(frozen=True, slots=True)
class ConditionProblem:
    """One thing wrong with a condition; positions are 1-based in the condition's text."""

    message: str
    column: int
    hint: str = ""
    line: int = 1

    def __str__(self) -> str:
        where = f"line {self.line}, column {self.column}"
        return f"{self.message} ({where})" + (f"; {self.hint}" if self.hint else "")


@dataclass(frozen=True, slots=True)
class References:
    """What a condition reads: sampled metrics, (level kind, metric) pairs, config keys, triggers."""

    metrics: frozenset[str] = frozenset()
    levels: frozenset[tuple[LevelKind, str]] = frozenset()
    config: frozenset[str] = frozenset()
    triggers: frozenset[str] = frozenset()


def references(expr: Expr) -> References:
    """Return the metrics whose samples `expr` reads, and the levels, config and triggers it uses."""
    metrics: set[str] = set()
    levels: set[tuple[LevelKind, str]] = set()
    config: set[str] = set()
    triggers: set[str] = set()
    for node in walk(expr):
        match node:
            case MetricRef(name=name):
                metrics.add(name)
            case LevelRef(kind=kind, metric=metric):
                levels.add((kind, metric))
            case ConfigRef(key=key):
                config.add(key)
            case Call(function="recursions", args=(String(value=trigger),)):
                triggers.add(trigger)
    return References(frozenset(metrics), frozenset(levels), frozenset(config), frozenset(triggers))


def analyze(expr: Expr, schema: ConditionSchema) -> list[ConditionProblem]:
    """Return every problem found in `expr` (empty when it is a well-typed condition)."""
    checker = _Checker(schema)
    result = checker.check(expr)
    if result is not None and result != "bool":
        checker.report(
            expr,
            f"a condition must be true or false, but this is {_ARTICLE[result]}",
            "compare it with something, for example: ... > 5",
        )
    return sorted(checker.problems, key=lambda problem: (problem.line, problem.column))


def _suggest(name: str, candidates: Iterable[str]) -> str:
    close = difflib.get_close_matches(name, list(candidates), n=1)
    return f"did you mean '{close[0]}'?" if close else ""


class _Checker:
    """Infers each node's type; None means "already reported", so one mistake gives one problem."""

    def __init__(self, schema: ConditionSchema) -> None:
        self.schema = schema
        self.problems: list[ConditionProblem] = []

    def report(self, node: Expr, message: str, hint: str = "") -> None:
        self.problems.append(ConditionProblem(message, node.column, hint, node.line))

    def check(self, node: Expr) -> ValueType | None:
        match node:
            case Number():
                return "number"
            case Duration():
                return "duration"
            case String():
                return "string"
            case Boolean():
                return "bool"
            case SegmentRef():
                return "string"
            case MetricRef(name=name):
                return "number" if self.known_metric(node, name) else None
            case LevelRef(kind=kind, metric=metric):
                return self.check_level(node, kind, metric)
            case ConfigRef(key=key):
                return self.check_config(node, key)
            case Call():
                return self.check_call(node)
            case Negate(operand=operand):
                operand_type = self.check(operand)
                if operand_type in (None, "number", "duration"):
                    return operand_type
                self.report(node, f"cannot negate {_ARTICLE[operand_type]}")
                return None
            case Arithmetic():
                return self.check_arithmetic(node)
            case Compare():
                return self.check_compare(node)
            case Not(operand=operand):
                self.expect_bool(operand, "not")
                return "bool"
            case Logical(op=op, left=left, right=right):
                self.expect_bool(left, op)
                self.expect_bool(right, op)
                return "bool"

    def known_metric(self, node: Expr, name: str) -> bool:
        if name in self.schema.metrics:
            return True
        self.report(node, f"unknown metric '{name}'", _suggest(name, self.schema.metrics))
        return False

    def check_level(self, node: LevelRef, kind: LevelKind, metric: str) -> ValueType | None:
        if not self.known_metric(node, metric):
            return None
        defined = self.schema.metric_levels.get(metric, frozenset())
        if kind in defined:
            return "number"
        hint = f"it defines: {', '.join(sorted(defined))}" if defined else "it defines no levels"
        self.report(node, f"metric '{metric}' has no {kind} level", hint)
        return None

    def check_config(self, node: ConfigRef, key: str) -> ValueType | None:
        config_type = self.schema.config_types.get(key)
        if config_type is None:
            hint = _suggest(key, self.schema.config_types)
            self.report(node, f"unknown config parameter '{key}'", hint)
            return None
        if config_type == "list":
            self.report(node, f"config parameter '{key}' is a list and cannot be used in a condition")
            return None
        return config_type

    def check_call(self, node: Call) -> ValueType | None:
        signature = FUNCTIONS.get(node.function)
        if signature is None:
            hint = _suggest(node.function, FUNCTIONS) or f"functions: {', '.join(sorted(FUNCTIONS))}"
            self.report(node, f"unknown function '{node.function}'", hint)
            return None
        expected = len(signature.params)
        if len(node.args) != expected:
            wanted = ", ".join(signature.params) or "no arguments"
            self.report(
                node,
                f"{node.function}() takes {expected} argument{'s' if expected != 1 else ''}, got {len(node.args)}",
                f"write {node.function}({wanted})",
            )
            return None
        for position, (param, arg) in enumerate(zip(signature.params, node.args, strict=True)):
            ordinal = ("first", "second")[position]
            if param == "metric":
                if not isinstance(arg, MetricRef):
                    usage = f"write {node.function}({', '.join(signature.params)})"
                    self.report(arg, f"the {ordinal} argument of {node.function}() must be a metric name", usage)
                else:
                    self.known_metric(arg, arg.name)
            elif param == "string literal":
                if not isinstance(arg, String):
                    self.report(
                        arg,
                        f"{node.function}() takes a quoted trigger id",
                        'for example "PERF-001"',
                    )
            else:
                arg_type = self.check(arg)
                if arg_type not in (None, "duration"):
                    self.report(
                        arg,
                        f"the window of {node.function}() must be a duration, not {_ARTICLE[arg_type]}",
                        "write a duration such as 5m",
                    )
                elif isinstance(arg, Duration) and arg.seconds == 0:
                    self.report(arg, "a window of 0s holds no samples", "write a duration such as 5m")
        return signature.result

    def check_arithmetic(self, node: Arithmetic) -> ValueType | None:
        left, right = self.check(node.left), self.check(node.right)
        if left is None or right is None:
            return None
        result = _ARITHMETIC.get((node.op, left, right))
        if result is None:
            hint = ""
            if {left, right} == {"number", "duration"} and node.op in "+-":
                hint = "write a duration such as 5m"
            self.report(node, f"cannot use '{node.op}' on {_ARTICLE[left]} and {_ARTICLE[right]}", hint)
        return result

    def check_compare(self, node: Compare) -> ValueType:
        left, right = self.check(node.left), self.check(node.right)
        if left is None or right is None:
            return "bool"
        if left != right:
            hint = ""
            if {left, right} == {"number", "duration"}:
                number = node.left if left == "number" else node.right
                example = to_text(number) if isinstance(number, Number) else "5"
                hint = f"write a duration such as {example}m"
            self.report(node, f"cannot compare {_ARTICLE[left]} with {_ARTICLE[right]}", hint)
        elif left in ("string", "bool") and node.op not in ("==", "!="):
            self.report(node, f"{left}s can only be compared with == or !=")
        elif left == "string":
            self.check_segment_name(node)
        return "bool"

    def check_segment_name(self, node: Compare) -> None:
        segments = self.schema.segments
        if not segments:
            return
        for side, other in ((node.left, node.right), (node.right, node.left)):
            if isinstance(side, SegmentRef) and isinstance(other, String) and other.value not in segments:
                hint = _suggest(other.value, segments) or f"segments: {', '.join(sorted(segments))}"
                self.report(other, f"unknown segment '{other.value}'", hint)

    def expect_bool(self, operand: Expr, operator: str) -> None:
        operand_type = self.check(operand)
        if operand_type not in (None, "bool"):
            self.report(
                operand,
                f"'{operator}' needs true or false, but this is {_ARTICLE[operand_type]}",
                "compare it with something, for example: ... > 5",
            )


# (operator, left type, right type) → result type; anything missing is a type error.
_ARITHMETIC: dict[tuple[str, str, str], ValueType] = {
    **{(op, "number", "number"): "number" for op in "+-*/"},
    ("+", "duration", "duration"): "duration",
    ("-", "duration", "duration"): "duration",
    ("*", "duration", "number"): "duration",
    ("*", "number", "duration"): "duration",
    ("/", "duration", "number"): "duration",
    ("/", "duration", "duration"): "number",
}
