"""How a condition reached its verdict: one node per sub-expression, with values and reasons."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Literal, TypeAlias

from venturegate.core.durations import format_duration

Value: TypeAlias = float | str | bool | None
Verdict: TypeAlias = Literal["pass", "fail", "unknown"]
ValueKind: TypeAlias = Literal["number", "duration", "string", "bool"]


@dataclass(frozen=True, slots=True)
class Explanation:
    """The value of one sub-expression (None when unknown) and why.

    Comparisons also carry `op` and the `left` and `right` values; window functions carry
    `samples`, the number of samples they used. `kind` is the value's type when it is known;
    a duration's value is a number of seconds.
    """

    text: str
    value: Value
    reason: str = ""
    children: tuple[Explanation, ...] = ()
    op: str | None = None
    left: Value = None
    right: Value = None
    samples: int | None = None
    kind: ValueKind | None = None

    @property
    def verdict(self) -> Verdict:
        """Return "pass" for true, "fail" for false, "unknown" otherwise."""
        if self.value is True:
            return "pass"
        if self.value is False:
            return "fail"
        return "unknown"

    @property
    def known(self) -> bool:
        """Return whether the value is known."""
        return self.value is not None

    def to_dict(self) -> dict[str, object]:
        """Return the explanation as JSON-ready dictionaries, leaving out empty fields."""
        result: dict[str, object] = {"text": self.text, "value": _json_value(self.value)}
        if self.kind is not None:
            result["kind"] = self.kind
        if self.kind == "bool":
            result["verdict"] = self.verdict
        if self.reason:
            result["reason"] = self.reason
        if self.op is not None:
            result.update(op=self.op, left=_json_value(self.left), right=_json_value(self.right))
        if self.samples is not None:
            result["samples"] = self.samples
        if self.children:
            result["children"] = [child.to_dict() for child in self.children]
        return result


def format_value(value: Value, duration: bool = False) -> str:
    """Return a value as a person would write it: `70`, `0.25`, `1h30m`, `"b2b"`, `true`, `?`."""
    match value:
        case None:
            return "?"
        case bool():
            return "true" if value else "false"
        case str():
            return '"' + value + '"'
        case float() if duration and math.isfinite(value):
            return format_duration(value)
        case float() if value.is_integer() and abs(value) < 1e15:
            return str(int(value))
        case _:
            return f"{value:.6g}"


def explain_lines(explanation: Explanation, indent: str = "  ") -> list[str]:
    """Return the explanation as an indented tree, one line per sub-expression."""
    lines: list[str] = []
    _render(explanation, 0, indent, lines)
    return lines


def _render(node: Explanation, depth: int, indent: str, lines: list[str]) -> None:
    if node.op is not None:
        # Both sides of a comparison have the same type, so either child tells if they are seconds.
        duration = any(child.kind == "duration" for child in node.children)
        sides = f"{format_value(node.left, duration)} {node.op} {format_value(node.right, duration)}"
        line = f"{node.verdict.upper()}  {node.text}  ({sides})"
    elif node.kind == "bool":
        line = f"{node.verdict.upper()}  {node.text}"
    else:
        line = f"{node.text} = {format_value(node.value, node.kind == 'duration')}"
    if node.reason:
        line += f"  — {node.reason}"
    lines.append(indent * depth + line)
    for child in node.children:
        # A literal's line ("70 = 70") says nothing its parent's line does not.
        if child.children or child.reason or child.text != format_value(child.value, child.kind == "duration"):
            _render(child, depth + 1, indent, lines)


def _json_value(value: Value) -> Value:
    # JSON has no infinity or NaN; arithmetic can produce them from extreme samples.
    if isinstance(value, float) and not math.isfinite(value):
        return None if math.isnan(value) else ("inf" if value > 0 else "-inf")
    return value
