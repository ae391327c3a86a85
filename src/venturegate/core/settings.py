"""Effective configuration of a venture: workflow default → segment default → venture override."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Literal

from venturegate.core.units import NON_NEGATIVE as _NON_NEGATIVE
from venturegate.definitions.model import ConfigParam, LevelKind, Levels, Metric, ParamValue, Workflow

Source = Literal["default", "segment", "venture"]


@dataclass(frozen=True)
class Setting:
    """One parameter's effective value and where it came from."""

    key: str
    value: ParamValue
    source: Source


def effective_config(
    workflow: Workflow,
    stage_id: int,
    segment: str,
    overrides: Mapping[str, ParamValue] | None = None,
) -> dict[str, Setting]:
    """Every parameter visible from a stage (workflow-wide and the stage's own), resolved for a venture."""
    stage = workflow.stage(stage_id)
    params = {**workflow.config, **(stage.config if stage else {})}
    out: dict[str, Setting] = {}
    for key, param in params.items():
        setting = Setting(key, param.default, "default")
        for seg, value in param.segments.items():
            if seg == segment:
                setting = Setting(key, value, "segment")
        if overrides and key in overrides:
            setting = Setting(key, overrides[key], "venture")
        out[key] = setting
    return out


LEVEL_KINDS: tuple[LevelKind, ...] = ("target", "threshold", "alert")
LEVEL_PREFIX = "level."
"""A venture overrides a metric's level with the configuration key `level.<metric>.<kind>`."""


def level_key(metric: str, kind: LevelKind) -> str:
    """The configuration key of a venture's override of a metric level (`level.latency_p95.threshold`)."""
    return f"{LEVEL_PREFIX}{metric}.{kind}"


def split_level_key(key: str) -> tuple[str, str] | None:
    """`level.<metric>.<kind>` → (metric, kind) as written (unchecked); None for any other key."""
    if not key.startswith(LEVEL_PREFIX):
        return None
    metric, _, kind = key[len(LEVEL_PREFIX) :].rpartition(".")
    return (metric, kind) if metric else None


def metric_levels(
    name: str, metric: Metric, segment: str | None, overrides: Mapping[str, object] | None = None
) -> Levels:
    """A metric's levels for a venture: definition → segment → venture override.

    The one resolution that gates, triggers, charts, `workflow show`, `venture show` and the API read.
    """
    levels = metric.levels_for(segment)
    if not overrides:
        return levels
    found = {kind: overrides.get(level_key(name, kind)) for kind in LEVEL_KINDS}
    if all(value is None for value in found.values()):
        return levels
    return Levels(
        **{
            kind: float(value)
            if isinstance(value, int | float) and not isinstance(value, bool)
            else getattr(levels, kind)
            for kind, value in found.items()
        }
    )


def level_param(workflow: Workflow, key: str, stage_id: int | None = None) -> ConfigParam | None:
    """The parameter a `level.<metric>.<kind>` key stands for: the metric's level, its segments and its range.

    None when the key names no metric, no level kind, or a level the metric does not declare by default.
    """
    split = split_level_key(key)
    metric = workflow.metric(split[0], stage_id) if split is not None else None
    if split is None or metric is None or split[1] not in LEVEL_KINDS:
        return None
    kind = split[1]
    default = getattr(metric, kind)
    if default is None:
        return None
    low, high = metric.min, metric.max
    if metric.unit == "percent":
        low, high = max(low or 0.0, 0.0), min(100.0 if high is None else high, 100.0)
    elif metric.unit in _NON_NEGATIVE and (low is None or low < 0):
        low = 0.0
    segments = {seg: value for seg, lv in metric.segments.items() if (value := getattr(lv, kind)) is not None}
    return ConfigParam(
        type="number",
        default=default,
        min=low,
        max=high,
        unit=metric.unit,
        segments=segments,
        description=f"The {kind} level of {metric.title or split[0]} for this venture; "
        "the gate, the triggers and the chart read it.",
    )


RETENTION_KEY = "metrics_retention_days"
"""The parameter that says how many days of samples are kept (stage 28 declares it in the bundled lifecycle)."""


_DECLARED: dict[int, tuple[Workflow, ConfigParam | None]] = {}
"""Per workflow (by identity; a process loads few), the retention parameter it declares: evaluations ask often."""


def retention_days(workflow: Workflow, segment: str, overrides: Mapping[str, ParamValue] | None = None) -> int | None:
    """How many days of a venture's samples are kept, whatever its stage; None when the workflow keeps them all.

    The parameter may be declared workflow-wide or by any stage; the venture's override, else its segment's value,
    else the default applies.
    """
    cached = _DECLARED.get(id(workflow))
    if cached is None or cached[0] is not workflow:
        declared = workflow.config.get(RETENTION_KEY) or next(
            (st.config[RETENTION_KEY] for st in workflow.stages if RETENTION_KEY in st.config), None
        )
        cached = _DECLARED[id(workflow)] = (workflow, declared)
    param = cached[1]
    if param is None:
        return None
    value = param.default
    for seg, segment_value in param.segments.items():
        if seg == segment:
            value = segment_value
    if overrides and RETENTION_KEY in overrides:
        value = overrides[RETENTION_KEY]
    return value if isinstance(value, int) and not isinstance(value, bool) and value > 0 else None
