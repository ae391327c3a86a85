"""The stage-17 scene: the GTM crew encodes a strategy and allocates the budget, builds a campaign whose off-brand
copy is rejected and regenerated, tests a workflow on synthetic leads through a failing CRM, and a two-week A/B
test is stopped by the sequential rule (with its chart); channel results then move the budget.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

from rich.console import Console
from rich.markup import escape
from rich.table import Table

from venturegate.crews.runner import queue_job, run_job
from venturegate.engine.actors import Actor

if TYPE_CHECKING:
    from venturegate.engine import Engine

LEAD = Actor("demo-lead", "lead")
PLAN = Actor("demo-plan", "plan")


def _run(engine: Engine, venture: str, options: dict[str, Any] | None = None) -> dict[str, Any]:
    job = queue_job(engine, venture, 17, options or {}, actor=LEAD)
    finished = run_job(engine, job.id)
    result = finished.result or {}
    return {"status": result.get("status", finished.status), **result.get("summary", {}), "error": finished.error}


def _allocation(console: Console, engine: Engine, venture: str) -> None:
    config = engine.artifact(venture, "gtm_agent_config")
    table = Table(title=f"gtm_agent_config v{config.version}: budget by channel", title_justify="left")
    for col in ("channel", "tier", "share", "USD/month", "expected ROAS (90% CI)", "P(best)"):
        table.add_column(col, justify="left" if col in ("channel", "tier") else "right")
    for c in config.content["budget"]["channels"]:
        lo, hi = c["roas_ci90"]
        table.add_row(
            c["channel"],
            c["tier"],
            f"{c['share_pct']:.1f}%",
            f"{c['budget_usd']:,.0f}",
            f"{c['expected_roas']:.2f} ({lo:.2f}-{hi:.2f})",
            f"{c['prob_best']:.0%}",
        )
    console.print(table)


def run_stage17_demo(engine: Engine, console: Console, workdir: Path) -> dict[str, Any]:
    """The scene, on its own venture; returns what happened."""
    from venturegate.crews.stage17 import demo, experiment_ops

    started = time.perf_counter()
    workdir.mkdir(parents=True, exist_ok=True)
    name = f"ledgerly-gtm-{int(time.time())}"
    engine.create_venture(name, "b2b_smb", 17, actor=LEAD)
    for artifact, content in (
        ("market_strategy", demo.strategy(name)),
        ("customer_segments", demo.segments(name)),
        ("marketing_channels", demo.channels(name)),
    ):
        engine.put_artifact(name, artifact, content, actor=LEAD)
    summary: dict[str, Any] = {"venture": name}
    console.rule("[bold]Stage 17 — GTM Strategist")
    first = _run(engine, name)
    console.print(f"17.1 MarketingAnalyst: strategy encoded, budget allocated — run {first['status']}")
    _allocation(console, engine, name)
    console.print(f"  {escape(str(first.get('outcome')))}")
    engine.attest(name, "GTM strategy, channels and budget allocation approved", actor=LEAD)
    second = _run(engine, name)
    campaign = engine.artifact(name, "campaign_templates").content["campaigns"][0]
    rejected = campaign["content_review"]["rejected"]
    console.print(
        f"17.2 CampaignManager + ContentGenerator: {len(campaign['content'])} elements × "
        f"{min(len(e['variants']) for e in campaign['content'])} variants, "
        f"{campaign['schedule']['calendar_weeks']}-week calendar — run {second['status']}"
    )
    if rejected:
        r = rejected[0]
        element = next(e for e in campaign["content"] if e["element"] == r["element"])
        shipped = next(v for v in element["variants"] if v["id"] == r["variant"])
        console.print(
            f"  [red]rejected[/red] {r['element']} {r['variant']}: “{escape(r['headline'])}” — {r['problems'][0]}"
        )
        console.print(
            f"  [green]regenerated[/green] “{escape(shipped['headline'])}” (score {shipped['brand_voice_score']})"
        )
    console.print(f"  {len(rejected)} piece(s) of copy went back for regeneration; none shipped off-brand")
    plan = campaign["ab_tests"][0]
    console.print(
        f"  A/B plan for {plan['element']}: {plan['sample_per_variant']:,} per variant for a "
        f"{plan['mde_relative']:.0%} lift at α {plan['alpha']}, power {plan['power']} → {plan['duration_days']} days"
    )
    engine.attest(name, "Campaign templates and schedules approved", actor=PLAN)
    engine.attest(name, "Campaign content approved", actor=LEAD)
    third = _run(engine, name)
    wf = engine.artifact(name, "automation_workflows").content
    rep = wf["test_report"]
    console.print(
        f"17.3 WorkflowOrchestrator: {rep['leads_tested']} synthetic leads, {rep['passed']} passed; "
        f"{rep['retries']} retried call(s) after injected CRM 503s; dead letter: "
        f"{escape(rep['dead_letters'][0]['error']) if rep['dead_letters'] else 'none'}; rollback rehearsal "
        f"{'passed' if rep['rollback_test_passed'] else 'FAILED'} — run {third['status']}"
    )
    summary["runs"] = [first["status"], second["status"], third["status"]]
    summary["rejected_copy"] = len(rejected)
    summary["workflow"] = {k: rep[k] for k in ("leads_tested", "passed", "retries")}
    # a two-week A/B test on the first email's subject line, judged every day
    test = f"{plan['element']}-subject"
    experiment_ops.create_test(
        engine, name, test, ["A", "B"], baseline_rate=0.05, mde_relative=0.2, daily_traffic=1500, actor=LEAD
    )
    console.print(
        f"A/B test {test}: planned for two weeks at 1,500 recipients a day, checked daily "
        "(simulated true rates 5.0% vs 6.25%)"
    )
    result: dict[str, Any] = {}
    for day, rows in demo.simulated_days(demo.date(2026, 11, 2), 14, [0.05, 0.0625], 1500, seed=17):
        result, _ = experiment_ops.record_day(engine, name, test, day, rows, actor=LEAD)
        last = result["path"][-1]
        console.print(
            f"  {day}: A {last['rates']['A']:.2%}  B {last['rates']['B']:.2%}  naive p {last['naive_p']['B']:.3f}"
            f"  always-valid p {last['always_valid_p']['B']:.3f}"
        )
        if result["verdict"]["decision"] in ("winner", "blocked_srm", "no_difference"):
            break
    verdict = result["verdict"]
    chart = workdir / f"{test}.svg"
    chart.write_text(experiment_ops.chart_svg(result), encoding="utf-8")
    console.print(f"  [bold]{verdict['decision']}[/bold] after {result['days']} day(s): {escape(verdict['reason'])}")
    console.print(f"  chart: {escape(str(chart))}")
    summary["ab_test"] = {"decision": verdict["decision"], "winner": verdict["winner"], "days": result["days"]}
    summary["ab_test"]["rule"] = verdict.get("rule")
    # channel results arrive: the allocation learns (a new, versioned config that a rollback can restore)
    for channel, spend, leads, conv in (
        ("email", 6000, 90, 9),
        ("content_marketing", 1800, 20, 1),
        ("google_ads", 450, 12, 1),
        ("linkedin", 450, 30, 5),
    ):
        experiment_ops.record_channel(
            engine, name, channel, spend_usd=spend, leads=leads, conversions=conv, revenue_usd=conv * 4200, actor=LEAD
        )
    fourth = _run(engine, name, {"reallocate": True})
    console.print(f"Channel results recorded; the allocation re-runs (Thompson sampling) — run {fourth['status']}")
    _allocation(console, engine, name)
    summary["allocation_versions"] = engine.artifact(name, "gtm_agent_config").version
    summary["seconds"] = round(time.perf_counter() - started, 1)
    console.print(f"[dim]stage 17 scene: {summary['seconds']} s[/dim]")
    return summary
