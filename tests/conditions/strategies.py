"""Hypothesis strategies for condition trees: any tree, and well-typed trees over known data."""

from __future__ import annotations

from hypothesis import strategies as st

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

KEYWORDS = frozenset({"and", "or", "not", "true", "false"})
LEVEL_KINDS: tuple[LevelKind, ...] = ("target", "threshold", "alert")
COMPARE_OPS: tuple[CompareOp, ...] = ("<", "<=", ">", ">=", "==", "!=")
ARITHMETIC_OPS: tuple[ArithmeticOp, ...] = ("+", "-", "*", "/")
LOGICAL_OPS: tuple[LogicalOp, ...] = ("and", "or")
UNITS = tuple(UNIT_SECONDS)

names = st.from_regex(r"[A-Za-z_][A-Za-z0-9_]{0,6}", fullmatch=True).filter(lambda name: name not in KEYWORDS)
metric_names = names.filter(lambda name: name != "segment")
numbers = st.one_of(
    st.integers(min_value=0, max_value=10**15),
    st.floats(min_value=0, max_value=1e300, allow_nan=False, allow_infinity=False).filter(lambda x: str(x)[0] != "-"),
)


@st.composite
def durations(draw: st.DrawFn) -> Duration:
    """A duration literal, either whole units (`5m`) or any number of seconds."""
    unit = draw(st.sampled_from(UNITS))
    if draw(st.booleans()):
        amount = draw(st.integers(min_value=0, max_value=10**6))
        return Duration(parse_duration(f"{amount}{unit}"), unit)
    seconds = draw(st.floats(min_value=0, max_value=1e12, allow_nan=False).filter(lambda x: str(x)[0] != "-"))
    return Duration(seconds, unit)


_leaves: st.SearchStrategy[Expr] = st.one_of(
    st.builds(Number, numbers),
    durations(),
    st.builds(String, st.text(max_size=8)),
    st.builds(Boolean, st.booleans()),
    st.builds(MetricRef, metric_names),
    st.just(SegmentRef()),
    st.builds(LevelRef, st.sampled_from(LEVEL_KINDS), names),
    st.builds(ConfigRef, st.lists(names, min_size=1, max_size=3).map(".".join)),
)


def _branches(children: st.SearchStrategy[Expr]) -> st.SearchStrategy[Expr]:
    return st.one_of(
        st.builds(Call, names, st.lists(children, max_size=3).map(tuple)),
        st.builds(Negate, children),
        st.builds(Not, children),
        st.builds(Arithmetic, st.sampled_from(ARITHMETIC_OPS), children, children),
        st.builds(Compare, st.sampled_from(COMPARE_OPS), children, children),
        st.builds(Logical, st.sampled_from(LOGICAL_OPS), children, children),
    )


any_tree: st.SearchStrategy[Expr] = st.recursive(_leaves, _branches, max_leaves=12)

# --- well-typed trees over a fixed vocabulary (see test_evaluation_properties) -------------------

METRICS = ("a", "b", "c")
TRIGGERS = ("T1", "T2")
SEGMENTS = ("b2b_smb", "b2c_mass")
NUMBER_CONFIG, DURATION_CONFIG, STRING_CONFIG, BOOL_CONFIG = "n.limit", "d.window", "s.mode", "b.enabled"
WINDOW_FUNCTIONS = ("avg", "min", "max", "sum", "count", "last", "p50", "p90", "p95", "p99", "rate", "delta")

_metrics = st.sampled_from(METRICS).map(MetricRef)
_small_numbers = st.one_of(st.integers(0, 20), st.sampled_from([0.5, 1.5, 2.25])).map(Number)
_window_literals = st.sampled_from(["1s", "30s", "5m", "10m", "1h", "90m", "1500ms"]).map(
    lambda text: Duration(parse_duration(text), text[-2:] if text.endswith("ms") else text[-1])
)


def _typed(
    depth: int,
) -> tuple[st.SearchStrategy[Expr], st.SearchStrategy[Expr], st.SearchStrategy[Expr], st.SearchStrategy[Expr]]:
    """Strategies for (number, duration, string, bool) expressions at most `depth` levels deep."""
    windows = st.one_of(_window_literals, st.just(ConfigRef(DURATION_CONFIG)))
    number_leaves = st.one_of(
        _small_numbers,
        _metrics,
        st.builds(LevelRef, st.sampled_from(LEVEL_KINDS), st.sampled_from(METRICS)),
        st.just(ConfigRef(NUMBER_CONFIG)),
        st.builds(
            lambda name, metric, window: Call(name, (metric, window)),
            st.sampled_from(WINDOW_FUNCTIONS),
            _metrics,
            windows,
        ),
        st.just(Call("days_in_stage", ())),
        st.sampled_from(TRIGGERS).map(lambda trigger: Call("recursions", (String(trigger),))),
    )
    duration_leaves = st.one_of(
        _window_literals, st.just(ConfigRef(DURATION_CONFIG)), _metrics.map(lambda metric: Call("age", (metric,)))
    )
    string_leaves = st.one_of(
        st.sampled_from(SEGMENTS).map(String), st.just(SegmentRef()), st.just(ConfigRef(STRING_CONFIG))
    )
    bool_leaves = st.one_of(st.booleans().map(Boolean), st.just(ConfigRef(BOOL_CONFIG)))
    if depth == 0:
        comparisons = st.builds(Compare, st.sampled_from(COMPARE_OPS), number_leaves, number_leaves)
        return number_leaves, duration_leaves, string_leaves, st.one_of(bool_leaves, comparisons)
    number, duration, string, boolean = _typed(depth - 1)
    ops = st.sampled_from(ARITHMETIC_OPS)
    equality = st.sampled_from(("==", "!="))
    number = st.one_of(
        number_leaves,
        st.builds(Negate, number),
        st.builds(Arithmetic, ops, number, number),
        st.builds(Arithmetic, st.just("/"), duration, duration),
    )
    duration = st.one_of(
        duration_leaves,
        st.builds(Negate, duration),
        st.builds(Arithmetic, st.sampled_from(("+", "-")), duration, duration),
        st.builds(Arithmetic, st.sampled_from(("*", "/")), duration, number),
        st.builds(Arithmetic, st.just("*"), number, duration),
    )
    boolean = st.one_of(
        bool_leaves,
        st.builds(Compare, st.sampled_from(COMPARE_OPS), number, number),
        st.builds(Compare, st.sampled_from(COMPARE_OPS), duration, duration),
        st.builds(Compare, equality, string, string),
        st.builds(Compare, equality, boolean, boolean),
        st.builds(Not, boolean),
        st.builds(Logical, st.sampled_from(LOGICAL_OPS), boolean, boolean),
    )
    return number, duration, string_leaves, boolean


typed_number, typed_duration, _, typed_bool = _typed(3)
