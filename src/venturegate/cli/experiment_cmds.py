"""The `venturegate experiment` commands: declare A/B tests, record daily figures and channel results, analyse."""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.table import Table

from venturegate.cli.context import STATE, emit_json, handled, out
from venturegate.engine import BadInput

experiment_app = typer.Typer(
    help="A/B tests of a venture's campaigns: SRM check, z-test, Bayesian chance to beat, sequential stopping.",
    no_args_is_help=True,
)
JSON_ANALYSIS = Annotated[
    bool,
    typer.Option(
        "--json",
        help="Print JSON: id, campaign, element, plan, days, verdict (decision, winner, reason, rule, srm, control, "
        "comparisons with z_test, bayes and sequential, needed_per_variant, min_exposures, not_checked), path.",
    ),
]
VENTURE = Annotated[str, typer.Argument(help="Venture id or name.")]
TEST = Annotated[str, typer.Argument(help="Experiment id.")]


def _ops() -> Any:
    from venturegate.crews.stage17 import experiment_ops

    return experiment_ops


def _print(result: dict[str, Any]) -> None:
    v = result["verdict"]
    out.print(f"[bold]{result['id']}[/bold] after {result['days']} day(s): {v['decision']} — {v['reason']}")
    if "srm" not in v:
        return
    srm = v["srm"]
    out.print(f"  sample-ratio check: χ² {srm['chi2']:.2f}, p {srm['p_value']:.3g}" + (" MISMATCH" * srm["mismatch"]))
    table = Table()
    for col in ("variant", "rate", "lift", "95% CI (diff)", "p (z)", "chance to beat", "exp. loss", "always-valid p"):
        table.add_column(col, justify="right")
    for c in v["comparisons"]:
        z, b, s = c["z_test"], c["bayes"], c["sequential"]
        table.add_row(
            c["variant"],
            f"{c['rate']:.3%}",
            f"{z['relative_lift']:+.1%}",
            f"[{z['ci_low']:+.4f}, {z['ci_high']:+.4f}]",
            f"{z['p_value']:.3g}",
            f"{b['chance_to_beat']:.1%}",
            f"{b['expected_loss_treatment']:.5f}",
            f"{s['p_value']:.3g}",
        )
    out.print(table)
    out.print(f"  planned sample: {v['needed_per_variant']:,} per variant; smallest arm {v['min_exposures']:,}")


@experiment_app.command("create")
@handled
def create(
    venture: VENTURE,
    test: TEST,
    variants: Annotated[list[str], typer.Option("--variant", help="Variant id, control first (repeat).")],
    baseline: Annotated[
        float, typer.Option("--baseline", min=0.0, max=1.0, help="Expected control conversion rate, 0-1.")
    ],
    mde: Annotated[
        float, typer.Option("--mde", min=0.0, max=100.0, help="Minimum detectable effect, relative (0.2 = +20%).")
    ] = 0.2,
    traffic: Annotated[
        float, typer.Option("--traffic", min=0.0, help="Expected exposures per day, all variants.")
    ] = 1000.0,
    alpha: Annotated[float, typer.Option("--alpha", min=0.0, max=1.0, help="Significance level.")] = 0.05,
    power: Annotated[float, typer.Option("--power", min=0.0, max=1.0, help="Power.")] = 0.8,
    weights: Annotated[list[float] | None, typer.Option("--weight", help="Traffic weight per variant.")] = None,
    campaign: Annotated[str, typer.Option("--campaign", help="Campaign id.")] = "",
    element: Annotated[str, typer.Option("--element", help="Content element (email_1, ad, ...).")] = "",
) -> None:
    """Declare an A/B test and the plan it is sized for (the sample per variant comes from a power analysis)."""
    ops = _ops()
    ops.create_test(
        STATE.engine(),
        venture,
        test,
        variants,
        baseline_rate=baseline,
        mde_relative=mde,
        daily_traffic=traffic,
        alpha=alpha,
        power=power,
        weights=weights,
        campaign=campaign,
        element=element,
        actor=STATE.who("write_artifacts"),
    )
    from venturegate.crews.stage17.experiments import Plan, sample_size

    size = sample_size(Plan(baseline, mde, alpha, power, len(variants), traffic))
    out.print(f"experiment {test}: {size.per_variant:,} exposures per variant, about {size.days} day(s) of traffic")


@experiment_app.command("record")
@handled
def record(
    venture: VENTURE,
    test: TEST,
    variant: Annotated[str, typer.Option("--variant", help="Variant id.")],
    exposures: Annotated[int, typer.Option("--exposures", min=0, max=10**12, help="Exposures that day.")],
    conversions: Annotated[int, typer.Option("--conversions", min=0, max=10**12, help="Conversions that day.")],
    day: Annotated[str, typer.Option("--day", help="ISO date (default today, UTC).")] = "",
    clicks: Annotated[int | None, typer.Option("--clicks", min=0, max=10**12, help="Clicks that day.")] = None,
    leads: Annotated[int | None, typer.Option("--leads", min=0, max=10**12, help="Qualified leads that day.")] = None,
    as_json: JSON_ANALYSIS = False,
) -> None:
    """Record one variant's figures for a day (replacing that day's), feed the GTM metrics, print the analysis."""
    ops = _ops()
    when = _day(day)
    result, fired = ops.record_day(
        STATE.engine(),
        venture,
        test,
        when,
        [ops.DayIn(variant, exposures, conversions, clicks, leads)],
        actor=STATE.who("write_artifacts"),
    )
    if as_json:
        emit_json({**result, "fired": [f.as_dict() for f in fired]})
        return
    _print(result)
    for f in fired:
        out.print(f"  trigger {f.trigger}: {f.outcome}" + (f" — {f.detail}" if f.detail else ""))


@experiment_app.command("channel")
@handled
def channel(
    venture: VENTURE,
    name: Annotated[str, typer.Argument(help="Channel (email, linkedin, ...).")],
    spend: Annotated[float, typer.Option("--spend", min=0.0, help="Spend in USD since the last report.")],
    leads: Annotated[
        int, typer.Option("--leads", min=0, max=10**12, help="Qualified leads since the last report.")
    ] = 0,
    conversions: Annotated[
        int, typer.Option("--conversions", min=0, max=10**12, help="Customers since the last report.")
    ] = 0,
    revenue: Annotated[float | None, typer.Option("--revenue", min=0.0, help="Attributed revenue in USD.")] = None,
) -> None:
    """Add a channel's spend and results (the 17.1 budget allocation learns from them; ROAS is recorded)."""
    fired = _ops().record_channel(
        STATE.engine(),
        venture,
        name,
        spend_usd=spend,
        leads=leads,
        conversions=conversions,
        revenue_usd=revenue,
        actor=STATE.who("write_artifacts"),
    )
    out.print(f"channel {name}: recorded")
    for f in fired:
        out.print(f"  trigger {f.trigger}: {f.outcome}")


@experiment_app.command("show")
@handled
def show(
    venture: VENTURE,
    test: TEST,
    chart: Annotated[Path | None, typer.Option("--chart", help="Write an SVG chart of the test here.")] = None,
    as_json: JSON_ANALYSIS = False,
) -> None:
    """Analyse a test: sample-ratio check, z-test, chance to beat, always-valid p-value and the decision."""
    ops = _ops()
    result = ops.analysis(STATE.engine(), venture, test)
    if chart is not None:
        try:
            chart.write_text(ops.chart_svg(result), encoding="utf-8")
        except OSError as exc:
            raise BadInput(f"cannot write the chart: {exc.strerror}", where=str(chart)) from None
    if as_json:
        emit_json(result)
        return
    _print(result)
    if chart is not None:
        out.print(f"  chart written to {chart}")


@experiment_app.command("list")
@handled
def list_(
    venture: VENTURE,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON: a list of analyses without their path.")] = False,
) -> None:
    """A venture's experiments and their current decision."""
    tests = _ops().list_tests(STATE.engine(), venture)
    if as_json:
        emit_json(tests)
        return
    if not tests:
        out.print("no experiments")
    for t in tests:
        out.print(f"{t['id']}: {t['verdict']['decision']} after {t['days']} day(s) — {t['verdict']['reason']}")


def _day(text: str) -> date:
    if not text:
        from datetime import UTC, datetime

        return datetime.now(UTC).date()
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise BadInput(f"day {text!r} is not an ISO date", where="--day", hint="e.g. 2026-12-07") from None


def register(app: typer.Typer) -> None:
    """Add this module's commands to the `venturegate` command tree."""
    app.add_typer(experiment_app, name="experiment")
