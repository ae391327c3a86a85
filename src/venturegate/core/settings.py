"""Effective configuration of a venture: workflow default → segment default → venture override."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Literal

from venturegate.definitions.model import ParamValue, Workflow

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
