"""One threshold per metric: a gate that compares a metric with a number or a config value must agree with
one of the metric's own levels for every segment (else the chart line and the gate disagree)."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass

from venturegate.core.conditions.nodes import Call, Compare, ConfigRef, Expr, Logical, MetricRef, Not, Number
from venturegate.definitions.model import SEGMENTS, ConfigParam, Metric, Segment

LEVEL_KINDS = ("threshold", "target", "alert")
_VALUE_FUNCTIONS = frozenset({"avg", "min", "max", "last", "p50", "p90", "p95", "p99"})
"""Window functions whose result is in the metric's own unit (not `count`, `rate`, `delta`, `age`, `sum`)."""


@dataclass(frozen=True)
class Disagreement:
    """A gate comparison whose bound is not the metric's level for some segment."""

    metric: str
    bound: str
    """`80` or `config.uptime_min`."""
    segment: str
    value: float
    level: float | None
    line: int
    column: int


def _metric_of(expr: Expr) -> str | None:
    match expr:
        case MetricRef(name=name):
            return name
        case Call(function=fn, args=(MetricRef(name=name), *_)) if fn in _VALUE_FUNCTIONS:
            return name
    return None


def _comparisons(expr: Expr) -> Iterator[Compare]:
    match expr:
        case Compare():
            yield expr
        case Logical(left=left, right=right):
            yield from _comparisons(left)
            yield from _comparisons(right)
        case Not(operand=operand):
            yield from _comparisons(operand)


def _bound(expr: Expr, config: Mapping[str, ConfigParam]) -> tuple[str, dict[Segment | None, float]] | None:
    """The bound's value per segment (None: the default), for a number or a numeric config parameter."""
    match expr:
        case Number(value=value):
            return f"{value:g}", dict.fromkeys((None, *SEGMENTS), float(value))
        case ConfigRef(key=key):
            param = config.get(key)
            if param is None or param.type not in ("int", "number") or isinstance(param.default, bool):
                return None
            values: dict[Segment | None, float] = {}
            for seg in (None, *SEGMENTS):
                raw = param.segments.get(seg, param.default) if seg is not None else param.default
                if not isinstance(raw, int | float) or isinstance(raw, bool):
                    return None
                values[seg] = float(raw)
            return f"config.{key}", values
    return None


def disagreements(expr: Expr, metrics: Mapping[str, Metric], config: Mapping[str, ConfigParam]) -> list[Disagreement]:
    """Each comparison of a metric with a number or config value that matches none of its levels everywhere.

    A bound agrees when one level kind (threshold, target or alert) equals it for the default and for
    every segment; otherwise the first segment where the threshold differs is reported.
    """
    found: list[Disagreement] = []
    for cmp in _comparisons(expr):
        for side, other in ((cmp.left, cmp.right), (cmp.right, cmp.left)):
            name = _metric_of(side)
            metric = metrics.get(name) if name else None
            bound = _bound(other, config) if metric is not None else None
            if metric is None or bound is None or name is None:
                continue
            text, values = bound
            levels = {seg: metric.levels_for(seg) for seg in (None, *SEGMENTS)}
            if not any(getattr(levels[None], k) is not None for k in LEVEL_KINDS):
                continue  # a metric without levels: the gate's number is the only line
            if any(all(getattr(levels[seg], k) == values[seg] for seg in levels) for k in LEVEL_KINDS):
                continue
            seg = next((s for s in levels if levels[s].threshold != values[s]), None)
            found.append(
                Disagreement(
                    name,
                    text,
                    seg or "default",
                    values[seg],
                    levels[seg].threshold,
                    cmp.line,
                    cmp.column,
                )
            )
            break
    return found
