"""Judge a condition against a venture's data with three-valued logic, explaining every step."""

from __future__ import annotations

import functools
from collections.abc import Callable, Sequence
from datetime import datetime, timedelta

from venturegate.core.conditions import _operators
from venturegate.core.conditions.data import DataAccess, Sample, WindowEnds, WindowStats
from venturegate.core.conditions.errors import ConditionError
from venturegate.core.conditions.explanation import Explanation, Value, ValueKind
from venturegate.core.conditions.functions import WINDOW_FUNCTIONS
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
)
from venturegate.core.conditions.printer import to_text
from venturegate.core.conditions.windows import (
    ENDS_FUNCTIONS,
    PERCENTILE_CAP,
    STATS_FUNCTIONS,
    WindowResult,
    reduce_ends,
    reduce_newest,
    reduce_stats,
)
from venturegate.core.durations import format_duration, format_time

# Beyond about 3000 years a timedelta overflows; such windows simply reach back to the start.
_LONGEST_SPAN = timedelta.max.total_seconds() / 2


class _Context:
    """One evaluation: the data, the time, and the windows already fetched."""

    __slots__ = ("_windows", "data", "now")

    def __init__(self, data: DataAccess, now: datetime) -> None:
        self.data = data
        self.now = now
        self._windows: dict[tuple[str, str, float], _Read] = {}

    def window(self, name: str, metric: str, seconds: float, where: str) -> WindowResult:
        """What `name(metric, seconds)` reads and makes of it; each read once per evaluation."""
        # `max(x, 10m) > 90 or min(x, 10m) < 5` reads the store once, not twice.
        kind = "ends" if name in ENDS_FUNCTIONS else "stats" if name in STATS_FUNCTIONS else "newest"
        key = (kind, metric, seconds)
        found = self._windows.get(key)
        if found is None:
            try:
                start = self.now - timedelta(seconds=min(seconds, _LONGEST_SPAN))
            except OverflowError:
                start = datetime.min.replace(tzinfo=self.now.tzinfo)
            horizon = self.data.horizon()
            if horizon is not None and start < horizon:
                # Retention may have removed part of the window: any answer from the rest could be wrong.
                why = f"the window {where} reaches back before {format_time(horizon)}, past the samples' retention"
                return None, why, None
            if kind == "ends":
                found = self.data.ends(metric, start, self.now)
            elif kind == "stats":
                found = self.data.stats(metric, start, self.now)
            else:
                rows = self.data.newest(metric, start, self.now, PERCENTILE_CAP + 1)
                found = (rows[-PERCENTILE_CAP:], len(rows) > PERCENTILE_CAP)
            self._windows[key] = found
        if isinstance(found, WindowEnds):
            return reduce_ends(name, found, where)
        if isinstance(found, WindowStats):
            return reduce_stats(name, found, where)
        return reduce_newest(name, found[0], found[1], where)


_Read = WindowEnds | WindowStats | tuple[Sequence[Sample], bool]


_Evaluator = Callable[[_Context], Explanation]
_Compiled = tuple[_Evaluator, ValueKind | None]


def evaluate(expr: Expr, data: DataAccess, now: datetime) -> Explanation:
    """Judge `expr` at `now`; the root's `verdict` is "pass", "fail" or "unknown"."""
    return _prepared(expr)(data, now)


def prepare(expr: Expr) -> Callable[[DataAccess, datetime], Explanation]:
    """Return a function that judges `expr`; texts and functions are resolved once, here."""
    run = _compile(expr)[0]
    return lambda data, now: run(_Context(data, now))


# Conditions are few and judged often, so `evaluate` prepares each tree once.
_prepared = functools.lru_cache(maxsize=4096)(prepare)


def _compile(node: Expr) -> _Compiled:
    text = to_text(node)
    match node:
        case Number() | Duration() | String() | Boolean():
            return _constant(node, text)
        case SegmentRef():
            return _segment(text), "string"
        case MetricRef(name=name):
            return _latest(text, name), "number"
        case LevelRef(kind=kind, metric=metric):
            return _level(text, kind, metric), "number"
        case ConfigRef(key=key):
            return _config(text, key), None
        case Call():
            return _call(node, text)
        case Negate(operand=operand):
            return _negate(text, _compile(operand))
        case Arithmetic(op=op, left=left, right=right):
            return _arithmetic(text, op, _compile(left), _compile(right))
        case Compare(op=op, left=left, right=right):
            return _compare(text, op, _compile(left)[0], _compile(right)[0]), "bool"
        case Not(operand=operand):
            return _not(text, _compile(operand)[0]), "bool"
        case Logical(op=op, left=left, right=right):
            return _logical(text, op, _compile(left)[0], _compile(right)[0]), "bool"


def _constant(node: Number | Duration | String | Boolean, text: str) -> _Compiled:
    kind: ValueKind
    value: Value
    match node:
        case Number(value=number):
            value, kind = float(number), "number"
        case Duration(seconds=seconds):
            value, kind = float(seconds), "duration"
        case String(value=string):
            value, kind = string, "string"
        case Boolean(value=boolean):
            value, kind = boolean, "bool"
    # Literals never change, so every evaluation shares one explanation object.
    explanation = Explanation(text, value, kind=kind)
    return (lambda _: explanation), kind


def _segment(text: str) -> _Evaluator:
    def run(context: _Context) -> Explanation:
        segment = context.data.segment()
        if segment is None:
            return Explanation(text, None, "the venture has no segment", kind="string")
        return Explanation(text, segment, kind="string")

    return run


def _latest(text: str, metric: str) -> _Evaluator:
    def run(context: _Context) -> Explanation:
        sample = context.data.latest(metric)
        if sample is None:
            return Explanation(text, None, f"{metric} has never been measured", kind="number")
        if sample.stale:
            return Explanation(text, None, sample.stale, kind="number")
        reason = f"latest sample, at {format_time(sample.at)}"
        return Explanation(text, float(sample.value), reason, kind="number")

    return run


def _level(text: str, kind: LevelKind, metric: str) -> _Evaluator:
    def run(context: _Context) -> Explanation:
        value = context.data.level(kind, metric)
        if value is None:
            reason = f"{metric} has no {kind} level for this venture's segment"
            return Explanation(text, None, reason, kind="number")
        return Explanation(text, float(value), kind="number")

    return run


def _config(text: str, key: str) -> _Evaluator:
    def run(context: _Context) -> Explanation:
        value = context.data.config(key)
        if value is None:
            return Explanation(text, None, f"config {key} is not set")
        if isinstance(value, bool):
            return Explanation(text, value, kind="bool")
        if isinstance(value, int | float):
            return Explanation(text, float(value), kind="number")
        if isinstance(value, str):
            return Explanation(text, value, kind="string")
        return Explanation(text, None, f"config {key} is a list, not a single value")

    return run


def _call(node: Call, text: str) -> _Compiled:
    match node.function, node.args:
        case name, (MetricRef(name=metric), window) if name in WINDOW_FUNCTIONS:
            return _window(text, name, metric, window), "number"
        case "age", (MetricRef(name=metric),):
            return _age(text, metric), "duration"
        case "days_in_stage", ():
            return _days_in_stage(text), "number"
        case "recursions", (String(value=trigger),):
            return _recursions(text, trigger), "number"
    raise ConditionError(f"cannot evaluate {text!r}: check the condition with analyze() first")


def _window(text: str, name: str, metric: str, window: Expr) -> _Evaluator:
    if isinstance(window, Duration):
        # The usual case, a literal window: its size and label are worked out once.
        seconds, where = window.seconds, f"of {metric} in the last {to_text(window)}"

        def run_literal(context: _Context) -> Explanation:
            value, reason, read = context.window(name, metric, seconds, where)
            return Explanation(text, value, reason, samples=read, kind="number")

        return run_literal
    size_of = _compile(window)[0]

    def run(context: _Context) -> Explanation:
        size = size_of(context)
        if size.value is None:
            return Explanation(text, None, size.reason, (size,), kind="number")
        if not _operators.is_number(size.value) or size.value <= 0:
            reason = f"the window of {name}() must be a positive duration"
            return Explanation(text, None, reason, (size,), kind="number")
        where = f"of {metric} in the last {format_duration(size.value)}"
        value, reason, read = context.window(name, metric, size.value, where)
        return Explanation(text, value, reason, (size,), samples=read, kind="number")

    return run


def _age(text: str, metric: str) -> _Evaluator:
    def run(context: _Context) -> Explanation:
        sample = context.data.latest(metric)
        if sample is None:
            return Explanation(text, None, f"{metric} has never been measured", kind="duration")
        age = (context.now - sample.at).total_seconds()
        reason = f"latest sample of {metric} at {format_time(sample.at)}"
        return Explanation(text, age, reason, kind="duration")

    return run


def _days_in_stage(text: str) -> _Evaluator:
    def run(context: _Context) -> Explanation:
        days = context.data.days_in_stage(context.now)
        if days is None:
            return Explanation(text, None, "the stage's start time is unknown", kind="number")
        return Explanation(text, float(days), kind="number")

    return run


def _recursions(text: str, trigger: str) -> _Evaluator:
    def run(context: _Context) -> Explanation:
        count = context.data.recursions(trigger)
        reason = f"{trigger} sent the venture back {count} times"
        return Explanation(text, float(count), reason, kind="number")

    return run


def _negate(text: str, operand: _Compiled) -> _Compiled:
    inner, kind = operand
    return (lambda context: _operators.negate(text, inner(context), kind)), kind


def _arithmetic(text: str, op: str, left: _Compiled, right: _Compiled) -> _Compiled:
    (run_left, left_kind), (run_right, right_kind) = left, right
    # Durations are seconds at run time; the kind only decides how explanations print them.
    if op in "+-*":
        kind: ValueKind = "duration" if "duration" in (left_kind, right_kind) else "number"
    else:
        kind = "duration" if left_kind == "duration" and right_kind != "duration" else "number"

    def run(context: _Context) -> Explanation:
        return _operators.arithmetic(text, op, run_left(context), run_right(context), kind)

    return run, kind


def _compare(text: str, op: str, left: _Evaluator, right: _Evaluator) -> _Evaluator:
    return lambda context: _operators.compare(text, op, left(context), right(context))


def _not(text: str, operand: _Evaluator) -> _Evaluator:
    return lambda context: _operators.not_(text, operand(context))


def _logical(text: str, op: str, left: _Evaluator, right: _Evaluator) -> _Evaluator:
    # Both sides are always judged, so the explanation shows every check, not just the first.
    return lambda context: _operators.logical(text, op, left(context), right(context))
