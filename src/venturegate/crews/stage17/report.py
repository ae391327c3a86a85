"""The stage-17 crew's report: what each substage produced, the content rejected and regenerated, the workflow
test, the exit gate's explanation, and what the crew did not check."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any


def write_report(
    venture: str,
    run_id: str,
    status: str,
    outcome: str,
    notes: dict[str, Any],
    gate: dict[str, Any],
    fired: Sequence[str],
) -> str:
    lines = [f"# Stage 17 GTM crew report — {venture}", "", f"Run `{run_id}`: **{status}** — {outcome}", ""]
    allocation = (notes.get("config") or {}).get("budget", {}).get("channels") or []
    if allocation:
        lines += ["## 17.1 Budget allocation", "", "| channel | tier | share | USD/month | expected ROAS (90% CI) |"]
        lines.append("|---|---|---:|---:|---|")
        for c in allocation:
            lo, hi = c["roas_ci90"]
            lines.append(
                f"| {c['channel']} | {c['tier']} | {c['share_pct']}% | {c['budget_usd']:,.0f} | "
                f"{c['expected_roas']:.2f} ({lo:.2f}–{hi:.2f}) |"
            )
        lines.append("")
    camp = notes.get("campaign")
    if camp:
        review = camp.get("content_review", {})
        lines += ["## 17.2 Campaign", "", f"{camp['name']} ({camp['type']}), provider: {review.get('provider')}", ""]
        for c in camp["content"]:
            scores = [v["brand_voice_score"] for v in c["variants"]]
            lines.append(f"- {c['element']}: {len(c['variants'])} variants, brand-voice scores {scores}")
        rej = review.get("rejected") or []
        lines += ["", f"Copy rejected by the brand rules and regenerated: {len(rej)}"]
        lines += [f"- {r['element']} {r['variant']} attempt {r['attempt']}: {'; '.join(r['problems'])}" for r in rej]
        lines += ["", "A/B test plans:"]
        lines += [
            f"- {p['element']}: {p['sample_per_variant']:,} per variant, {p['duration_days']} day(s)"
            for p in camp.get("ab_tests", [])
        ]
        lines.append("")
    wf = notes.get("workflows")
    if wf:
        rep = wf["test_report"]
        lines += [
            "## 17.3 Workflow test",
            "",
            f"{rep['leads_tested']} synthetic leads: {rep['passed']} passed, {rep['failed']} failed; "
            f"max latency {rep.get('max_latency_s')} s; retries {rep.get('retries')}; "
            f"dead letters {len(rep.get('dead_letters', []))}; rollback rehearsal "
            f"{'passed' if rep.get('rollback_test_passed') else 'FAILED'}",
            "",
        ]
    lines += ["## Exit gate", "", f"passed: {gate.get('passed')}"]
    for c in gate.get("checks", []):
        lines.append(f"- {c.get('verdict')}: {c.get('name')} — {c.get('reason', '')}")
    if fired:
        lines += ["", "## Triggers that acted", ""] + [f"- {f}" for f in fired]
    lines += [
        "",
        "## Not checked",
        "",
        "- real deliverability (SPF/DKIM/DMARC) and real ad-platform accounts: the workflow test runs on fakes",
        "- copy quality beyond the rules (length, CTA, banned words and claims, readability, UTM links)",
        "- live campaign results: they arrive later through `venturegate experiment`",
        "",
    ]
    return "\n".join(lines)
