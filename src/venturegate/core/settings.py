"""Effective configuration of a venture: workflow default → segment default → venture override."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Literal

from venturegate.definitions.model import ConfigParam, ParamValue, Workflow

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
