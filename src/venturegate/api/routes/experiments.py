"""Experiments of the stage-17 GTM work: declare A/B tests, record daily figures and channel results, analyse."""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any

from fastapi import APIRouter, Path
from fastapi.responses import Response
from pydantic import ConfigDict, Field, JsonValue, field_validator, model_validator

from venturegate.api import schemas as s
from venturegate.api.deps import EngineDep, Reader, VentureRef, require
from venturegate.engine import Actor

router = APIRouter(prefix="/api", tags=["experiments"])
TestId = Annotated[str, Path(pattern=r"^[A-Za-z0-9_.-]{1,64}$", description="Experiment id.")]
Writer = Annotated[Actor, require("write_artifacts")]
Name = Annotated[str, Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_.-]+$")]


def _weights_per_variant() -> list[JsonValue]:
    """`anyOf` branches: no weights, or as many weights as variants (2 to 5)."""
    same: list[JsonValue] = [
        {
            "required": ["weights"],
            "properties": {
                "variants": {"minItems": n, "maxItems": n},
                "weights": {"type": "array", "minItems": n, "maxItems": n},
            },
        }
        for n in range(2, 6)
    ]
    return [{"properties": {"weights": {"type": "null"}}}, *same]


class ExperimentIn(s._In):
    """A new A/B test and the plan it is sized for."""

    model_config = ConfigDict(json_schema_extra={"anyOf": _weights_per_variant()})

    id: Name
    variants: list[Name] = Field(
        min_length=2, max_length=5, json_schema_extra={"uniqueItems": True}, description="Variant ids, control first."
    )
    weights: list[Annotated[float, Field(gt=0, allow_inf_nan=False)]] | None = Field(
        None, min_length=2, max_length=5, description="Traffic weight per variant (default equal), one per variant."
    )
    baseline_rate: float = Field(gt=0, lt=1)
    mde_relative: float = Field(0.2, gt=0)
    daily_traffic: float = Field(1000.0, gt=0)
    alpha: float = Field(0.05, gt=0, le=0.2)
    power: float = Field(0.8, ge=0.5, lt=1)
    campaign: Annotated[str, Field(max_length=200, pattern=s.NO_NUL)] = ""
    element: Annotated[str, Field(max_length=200, pattern=s.NO_NUL)] = ""

    @field_validator("variants")
    @classmethod
    def _distinct(cls, variants: list[str]) -> list[str]:
        if len(set(variants)) != len(variants):
            raise ValueError("the variants must be distinct")
        return variants

    @model_validator(mode="after")
    def _one_weight_per_variant(self) -> ExperimentIn:
        if self.weights is not None and len(self.weights) != len(self.variants):
            raise ValueError(f"give one weight per variant: {len(self.variants)}, not {len(self.weights)}")
        return self


class VariantDay(s._In):
    """One variant's figures for the day."""

    variant: Name
    exposures: int = Field(ge=0, le=10**9)
    conversions: int = Field(ge=0, le=10**9)
    clicks: int | None = Field(None, ge=0, le=10**9)
    leads: int | None = Field(None, ge=0, le=10**9)


class DayIn(s._In):
    """A day's figures for some or all variants (a variant's day recorded before is replaced)."""

    day: date
    variants: list[VariantDay] = Field(min_length=1, max_length=5)


class ChannelIn(s._In):
    """Spend and results of a channel since the last report."""

    spend_usd: float = Field(ge=0)
    leads: int = Field(0, ge=0)
    conversions: int = Field(0, ge=0)
    revenue_usd: float | None = Field(None, ge=0)


def _ops() -> Any:
    from venturegate.crews.stage17 import experiment_ops

    return experiment_ops


@router.get("/ventures/{venture}/experiments")
def list_experiments(venture: VentureRef, engine: EngineDep, _: Reader) -> list[dict[str, Any]]:
    """Every experiment of the venture with its current decision."""
    return list(_ops().list_tests(engine, venture))


@router.post("/ventures/{venture}/experiments", status_code=201)
def create_experiment(venture: VentureRef, body: ExperimentIn, engine: EngineDep, actor: Writer) -> dict[str, Any]:
    """Declare an A/B test; the analysis sizes it with a power analysis."""
    _ops().create_test(
        engine,
        venture,
        body.id,
        body.variants,
        baseline_rate=body.baseline_rate,
        mde_relative=body.mde_relative,
        daily_traffic=body.daily_traffic,
        alpha=body.alpha,
        power=body.power,
        weights=body.weights,
        campaign=body.campaign,
        element=body.element,
        actor=actor,
    )
    return dict(_ops().analysis(engine, venture, body.id))


@router.post("/ventures/{venture}/experiments/{test}/days")
def record_day(venture: VentureRef, test: TestId, body: DayIn, engine: EngineDep, actor: Writer) -> dict[str, Any]:
    """Record a day's figures, feed conversion_rate, lead_generation and campaign_effectiveness, return the analysis."""
    ops = _ops()
    rows = [ops.DayIn(v.variant, v.exposures, v.conversions, v.clicks, v.leads) for v in body.variants]
    result, fired = ops.record_day(engine, venture, test, body.day, rows, actor=actor)
    return {**result, "fired": [f.as_dict() for f in fired]}


@router.get("/ventures/{venture}/experiments/{test}")
def show_experiment(venture: VentureRef, test: TestId, engine: EngineDep, _: Reader) -> dict[str, Any]:
    """The analysis: sample-ratio check, z-test, chance to beat, always-valid p-value, decision and daily path."""
    return dict(_ops().analysis(engine, venture, test))


@router.get("/ventures/{venture}/experiments/{test}/chart.svg", response_class=Response)
def experiment_chart(venture: VentureRef, test: TestId, engine: EngineDep, _: Reader) -> Response:
    """An SVG chart: cumulative conversion rate per variant and the always-valid p-value by day."""
    ops = _ops()
    return Response(ops.chart_svg(ops.analysis(engine, venture, test)), media_type="image/svg+xml")


@router.post("/ventures/{venture}/channels/{channel}")
def record_channel(
    venture: VentureRef, channel: TestId, body: ChannelIn, engine: EngineDep, actor: Writer
) -> dict[str, Any]:
    """Add a channel's spend and results; ROAS and cost per lead are recorded as samples."""
    fired = _ops().record_channel(
        engine,
        venture,
        channel,
        spend_usd=body.spend_usd,
        leads=body.leads,
        conversions=body.conversions,
        revenue_usd=body.revenue_usd,
        actor=actor,
    )
    return {
        "channel": channel,
        "totals": _ops().channel_results(engine, venture)[channel],
        "fired": [f.as_dict() for f in fired],
    }
