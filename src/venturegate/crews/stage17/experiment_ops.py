"""Experiments through the engine: A/B tests and channel results kept in the `gtm_experiments` artifact (each
change a new version), their analysis, and the samples they feed (conversion_rate, lead_generation,
campaign_effectiveness, roas, cost_per_lead). The `venturegate experiment` commands and the API call these.
"""

from __future__ import annotations

import copy
import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import TYPE_CHECKING, Any

from venturegate.crews.stage17.experiments import (
    Arm,
    Plan,
    analyze,
    campaign_effectiveness,
    sequential,
    z_test,
)
from venturegate.engine.actors import Actor
from venturegate.engine.exceptions import BadInput, Conflict, NotFound
from venturegate.engine.samples import SampleIn

if TYPE_CHECKING:
    from venturegate.engine import Engine
    from venturegate.engine.records import Fired

ARTIFACT = "gtm_experiments"
_ID = re.compile(r"^[A-Za-z0-9_.-]{1,64}$")


def _doc(engine: Engine, venture: str | int) -> dict[str, Any]:
    try:
        art = engine.artifact(venture, ARTIFACT)
    except NotFound:
        v = engine.venture(venture)
        return {"venture_id": str(v.name), "tests": [], "channels": {}}
    return copy.deepcopy(dict(art.content))


def _test(doc: dict[str, Any], test_id: str) -> dict[str, Any]:
    for t in doc["tests"]:
        if t["id"] == test_id:
            return dict(t)
    known = ", ".join(t["id"] for t in doc["tests"]) or "none yet"
    raise NotFound(f"no experiment '{test_id}'", where="TEST", hint=f"experiments: {known}")


def create_test(
    engine: Engine,
    venture: str | int,
    test_id: str,
    variants: Sequence[str],
    *,
    baseline_rate: float,
    mde_relative: float,
    daily_traffic: float,
    alpha: float = 0.05,
    power: float = 0.8,
    weights: Sequence[float] | None = None,
    campaign: str = "",
    element: str = "",
    actor: Actor,
) -> dict[str, Any]:
    """Declare an A/B test (control first) with the plan it is sized for; nothing is stored when it is invalid."""
    if not _ID.match(test_id):
        raise BadInput(f"experiment id {test_id!r} is not valid", where="TEST", hint="letters, digits, _ . -")
    if len(variants) < 2 or len(set(variants)) != len(variants):
        raise BadInput("an experiment needs at least two distinct variants", where="--variant", hint="--variant A B")
    ws = list(weights) if weights else [1.0] * len(variants)
    if len(ws) != len(variants) or any(w <= 0 for w in ws):
        raise BadInput("give one positive weight per variant", where="--weight")
    try:
        Plan(baseline_rate, mde_relative, alpha, power, len(variants), daily_traffic)
    except ValueError as exc:
        raise BadInput(str(exc), where="plan", hint="e.g. --baseline 0.05 --mde 0.2 --traffic 2000") from None
    doc = _doc(engine, venture)
    if any(t["id"] == test_id for t in doc["tests"]):
        raise Conflict(f"experiment '{test_id}' exists already")
    test = {
        "id": test_id,
        "campaign": campaign,
        "element": element,
        "variants": [{"id": v, "weight": float(w)} for v, w in zip(variants, ws, strict=True)],
        "plan": {
            "baseline_rate": baseline_rate,
            "mde_relative": mde_relative,
            "alpha": alpha,
            "power": power,
            "daily_traffic": daily_traffic,
        },
        "days": [],
    }
    doc["tests"].append(test)
    engine.put_artifact(venture, ARTIFACT, doc, actor=actor)
    return test


@dataclass(frozen=True)
class DayIn:
    """One variant's figures for one day."""

    variant: str
    exposures: int
    conversions: int
    clicks: int | None = None
    leads: int | None = None


def record_day(
    engine: Engine, venture: str | int, test_id: str, day: date, rows: Sequence[DayIn], *, actor: Actor
) -> tuple[dict[str, Any], list[Fired]]:
    """Store a day's figures (a day already recorded for a variant is replaced) and feed the GTM metrics."""
    doc = _doc(engine, venture)
    test = _test(doc, test_id)
    names = [v["id"] for v in test["variants"]]
    for r in rows:
        if r.variant not in names:
            raise NotFound(
                f"variant '{r.variant}' is not in experiment '{test_id}'", where="--variant", hint=str(names)
            )
        counts = [r.exposures, r.conversions, r.clicks or 0, r.leads or 0]
        if min(counts) < 0:
            raise BadInput("counts must not be negative", where=f"variant {r.variant}")
        if r.conversions > r.exposures or (r.clicks or 0) > r.exposures or (r.leads or 0) > r.exposures:
            raise BadInput(
                f"variant {r.variant}: more conversions, clicks or leads than exposures", where=f"variant {r.variant}"
            )
        if r.leads is not None and r.conversions > r.leads:
            raise BadInput(
                f"variant {r.variant}: {r.conversions} conversions from {r.leads} leads",
                where=f"variant {r.variant}",
                hint="conversions count customers won from the qualified leads",
            )
    stamp = day.isoformat()
    replaced = {r.variant for r in rows}
    days = [d for d in test["days"] if not (d["day"] == stamp and d["variant"] in replaced)]
    for r in rows:
        item: dict[str, Any] = {"day": stamp, "variant": r.variant, "exposures": r.exposures}
        item["conversions"] = r.conversions
        if r.clicks is not None:
            item["clicks"] = r.clicks
        if r.leads is not None:
            item["leads"] = r.leads
        days.append(item)
    test["days"] = sorted(days, key=lambda d: (d["day"], names.index(d["variant"])))
    doc["tests"] = [test if t["id"] == test_id else t for t in doc["tests"]]
    engine.put_artifact(venture, ARTIFACT, doc, actor=actor)
    fired = feed_metrics(engine, venture, doc, day, actor=actor)
    return analysis(engine, venture, test_id, doc=doc), fired


def record_channel(
    engine: Engine,
    venture: str | int,
    channel: str,
    *,
    spend_usd: float,
    leads: int,
    conversions: int,
    revenue_usd: float | None = None,
    actor: Actor,
) -> list[Fired]:
    """Add a channel's spend and results (they accumulate) and record ROAS and cost per lead."""
    if spend_usd < 0 or leads < 0 or conversions < 0 or (revenue_usd or 0) < 0:
        raise BadInput("spend, leads, conversions and revenue must not be negative", where=channel)
    doc = _doc(engine, venture)
    cur = doc["channels"].get(channel, {"spend_usd": 0.0, "leads": 0, "conversions": 0, "revenue_usd": 0.0})
    cur = {
        "spend_usd": round(cur["spend_usd"] + spend_usd, 2),
        "leads": cur["leads"] + leads,
        "conversions": cur["conversions"] + conversions,
        "revenue_usd": round(cur.get("revenue_usd", 0.0) + (revenue_usd or 0.0), 2),
    }
    doc["channels"][channel] = cur
    engine.put_artifact(venture, ARTIFACT, doc, actor=actor)
    spend = sum(c["spend_usd"] for c in doc["channels"].values())
    revenue = sum(c.get("revenue_usd", 0.0) for c in doc["channels"].values())
    all_leads = sum(c["leads"] for c in doc["channels"].values())
    values: dict[str, float] = {}
    if spend > 0:
        values["roas"] = round(revenue / spend, 4)
    if all_leads > 0:
        values["cost_per_lead"] = round(spend / all_leads, 2)
    if not values:
        return []
    v = engine.venture(venture)
    key = f"channels:{v.id}:{len(doc['channels'])}:{spend}:{all_leads}"
    got = engine.record_samples([SampleIn(venture, m, x, key=f"{key}:{m}") for m, x in values.items()], actor=actor)
    return list(got.fired)


def _totals(test: dict[str, Any], since: date | None = None, until: date | None = None) -> dict[str, int]:
    """Sums over the days in [since, until]; `lead_conversions` counts conversions only where leads were given."""
    out = {"exposures": 0, "clicks": 0, "leads": 0, "conversions": 0, "lead_conversions": 0}
    for d in test["days"]:
        day = date.fromisoformat(d["day"])
        if (since is not None and day < since) or (until is not None and day > until):
            continue
        for k in ("exposures", "clicks", "leads", "conversions"):
            out[k] += int(d.get(k, 0))
        if "leads" in d:
            out["lead_conversions"] += int(d["conversions"])
    return out


def feed_metrics(engine: Engine, venture: str | int, doc: dict[str, Any], day: date, *, actor: Actor) -> list[Fired]:
    """Samples at the end of `day` from every test's figures: leads in the last 7 days, conversion over 30 days
    (customers per qualified lead, percent), campaign effectiveness over 14 days."""

    def window(days: int) -> dict[str, int]:
        total = {"exposures": 0, "clicks": 0, "leads": 0, "conversions": 0, "lead_conversions": 0}
        for t in doc["tests"]:
            for k, x in _totals(t, day - timedelta(days=days - 1), day).items():
                total[k] += x
        return total

    week, month, fortnight = window(7), window(30), window(14)
    values: dict[str, float] = {}
    if any("leads" in d for t in doc["tests"] for d in t["days"]):
        values["lead_generation"] = float(week["leads"])
        if month["leads"] > 0:
            values["conversion_rate"] = round(100.0 * month["lead_conversions"] / month["leads"], 4)
    if fortnight["exposures"] > 0 and any("clicks" in d for t in doc["tests"] for d in t["days"]):
        values["campaign_effectiveness"] = campaign_effectiveness(
            fortnight["exposures"], fortnight["clicks"], fortnight["leads"], fortnight["lead_conversions"]
        )
    if not values:
        return []
    at = min(datetime.combine(day, time(23, 59), tzinfo=UTC), engine.clock())  # today's figures: as of now
    v = engine.venture(venture)
    batch = [SampleIn(venture, m, x, at=at, key=f"gtm-exp:{v.id}:{day.isoformat()}:{m}") for m, x in values.items()]
    return list(engine.record_samples(batch, actor=actor).fired)


def looks(test: dict[str, Any]) -> list[tuple[str, list[Arm]]]:
    """Cumulative totals per variant at the end of each recorded day (control first)."""
    variants = test["variants"]
    acc = {v["id"]: [0, 0] for v in variants}
    out = []
    for stamp in sorted({d["day"] for d in test["days"]}):
        for d in test["days"]:
            if d["day"] == stamp:
                acc[d["variant"]][0] += int(d["exposures"])
                acc[d["variant"]][1] += int(d["conversions"])
        out.append((stamp, [Arm(v["id"], acc[v["id"]][0], acc[v["id"]][1], float(v["weight"])) for v in variants]))
    return out


def analysis(engine: Engine, venture: str | int, test_id: str, *, doc: dict[str, Any] | None = None) -> dict[str, Any]:
    """The verdict on one test plus its day-by-day path (rates and always-valid p-values), JSON-ready."""
    doc = doc if doc is not None else _doc(engine, venture)
    test = _test(doc, test_id)
    p = test["plan"]
    plan = Plan(
        p["baseline_rate"], p["mde_relative"], p["alpha"], p["power"], len(test["variants"]), p["daily_traffic"]
    )
    path = looks(test)
    out: dict[str, Any] = {"id": test_id, "campaign": test.get("campaign", ""), "element": test.get("element", "")}
    out["plan"] = p
    out["days"] = len(path)
    if not path:
        out["verdict"] = {"decision": "keep_running", "winner": None, "reason": "no data recorded yet"}
        out["path"] = []
        return out
    verdict = analyze([arms for _, arms in path], plan)
    out["verdict"] = verdict.as_dict()
    alpha = p["alpha"] / (len(test["variants"]) - 1)
    trail = []
    for k, (stamp, arms) in enumerate(path):
        row: dict[str, Any] = {"day": stamp, "rates": {a.name: round(a.rate, 6) for a in arms}}
        row["exposures"] = {a.name: a.exposures for a in arms}
        row["always_valid_p"] = {
            a.name: round(sequential([(lk[1][0], lk[1][j]) for lk in path[: k + 1]], alpha).p_value, 6)
            for j, a in enumerate(arms)
            if j > 0
        }
        row["naive_p"] = {a.name: round(z_test(arms[0], a, alpha).p_value, 6) for a in arms[1:]}
        trail.append(row)
    out["path"] = trail
    return out


def list_tests(engine: Engine, venture: str | int) -> list[dict[str, Any]]:
    """Every test with its current decision."""
    doc = _doc(engine, venture)
    return [{k: v for k, v in analysis(engine, venture, t["id"], doc=doc).items() if k != "path"} for t in doc["tests"]]


def channel_results(engine: Engine, venture: str | int) -> dict[str, dict[str, Any]]:
    """Each channel's accumulated spend and results."""
    return dict(_doc(engine, venture)["channels"])


def chart_svg(result: dict[str, Any], width: int = 640, height: int = 360) -> str:
    """An SVG chart of a test: cumulative conversion rate per variant (top) and always-valid p-value (bottom)."""
    path = result.get("path") or []
    names = list(path[0]["rates"]) if path else []
    colours = ["#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e"]
    pad, mid = 40, height // 2
    n = max(1, len(path) - 1)

    def x(i: int) -> float:
        return pad + (width - 2 * pad) * i / n

    rates = [r for row in path for r in row["rates"].values()] or [0.0, 1.0]
    lo, hi = min(rates), max(rates)
    hi = hi if hi > lo else lo + 1e-6

    def y_rate(v: float) -> float:
        return float(mid - 20 - (mid - 40) * (v - lo) / (hi - lo))

    def y_p(v: float) -> float:
        return height - pad - (mid - pad - 10) * (1 - v)

    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" font-family="sans-serif" '
        'font-size="11">',
        f'<text x="{pad}" y="16">{_esc(str(result.get("id", "")))}: cumulative conversion rate</text>',
        f'<text x="{pad}" y="{mid + 12}">always-valid p-value (dashed: alpha)</text>',
    ]
    for k, name in enumerate(names):
        pts = " ".join(f"{x(i):.1f},{y_rate(row['rates'][name]):.1f}" for i, row in enumerate(path))
        parts.append(f'<polyline fill="none" stroke="{colours[k % 5]}" stroke-width="2" points="{pts}"/>')
        parts.append(f'<text x="{width - pad + 4}" y="{20 + 14 * k}" fill="{colours[k % 5]}">{_esc(name)}</text>')
        if k > 0:
            pts = " ".join(f"{x(i):.1f},{y_p(row['always_valid_p'][name]):.1f}" for i, row in enumerate(path))
            parts.append(f'<polyline fill="none" stroke="{colours[k % 5]}" stroke-width="2" points="{pts}"/>')
    alpha = float(result.get("plan", {}).get("alpha", 0.05))
    parts.append(
        f'<line x1="{pad}" x2="{width - pad}" y1="{y_p(alpha):.1f}" y2="{y_p(alpha):.1f}" stroke="#555" '
        'stroke-dasharray="4 3"/>'
    )
    verdict = result.get("verdict", {})
    parts.append(f'<text x="{pad}" y="{height - 8}">{_esc(str(verdict.get("reason", "")))[:110]}</text>')
    parts.append("</svg>")
    return "\n".join(parts)


def _esc(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;").replace('"', "&quot;")
