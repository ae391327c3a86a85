"""BottleneckAnalyst's report: a two-minute read in Markdown and in HTML with inline SVG charts — the latency
distribution before and after, the hit-rate curve predicted against the measured rate, the top queries
before and after — plus the exit gate's explanation and what the run did not check.

Every text that came from the service (routes, query texts, function names) is escaped by Jinja2's
autoescape in HTML and shown in code spans in Markdown; nothing from it is ever run.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from html import escape
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING, Any

from jinja2 import Environment, select_autoescape
from markupsafe import Markup

if TYPE_CHECKING:
    from venturegate.crews.runtime import CrewRun
    from venturegate.crews.stage28.optimization import _State

NOT_CHECKED = [
    "front-end timings (page_load_time, TTI/FCP): the crew measures the API only",
    "lint and regression tests of code changes: the crew changes indexes and configuration, not code",
    "N+1 queries and Python hot paths are found and reported, not rewritten (code changes are the team's)",
    "PERF-004 needs every figure green for advance.all_green_duration: one run records one reading",
]


@dataclass
class Report:
    """Everything the report shows."""

    venture: str
    run_id: str
    outcome: str
    status: str
    gate: dict[str, Any]
    target: dict[str, Any]
    before: dict[str, Any] | None
    after: dict[str, Any] | None
    latencies_before: list[float] = field(default_factory=list)
    latencies_after: list[float] = field(default_factory=list)
    curve: list[tuple[int, float]] = field(default_factory=list)
    curve_ttl: list[tuple[int, float]] = field(default_factory=list)
    measured_hit_rate: float | None = None
    predicted_hit_rate: float | None = None
    miss_penalty_ms: float | None = None
    queries_before: list[dict[str, Any]] = field(default_factory=list)
    queries_after: list[dict[str, Any]] = field(default_factory=list)
    advice: list[dict[str, Any]] = field(default_factory=list)
    routes: list[dict[str, Any]] = field(default_factory=list)
    stale_checks: list[dict[str, Any]] = field(default_factory=list)
    changes: list[dict[str, Any]] = field(default_factory=list)
    rollbacks: list[str] = field(default_factory=list)
    hot_python: list[dict[str, Any]] = field(default_factory=list)
    profile_note: str = ""
    notes: list[str] = field(default_factory=list)
    fired: list[str] = field(default_factory=list)
    artifacts: list[str] = field(default_factory=list)

    @classmethod
    def of(cls, venture: str, run: CrewRun, state: _State) -> Report:
        """Collect the report from a run and its state."""
        b, f = state.baseline, state.final
        return cls(
            venture=venture,
            run_id=run.run_id,
            outcome=run.outcome,
            status=run.status,
            gate=state.gate,
            target=state.target,
            before=b.summary if b else None,
            after=f.summary if f else None,
            latencies_before=b.trace.latencies() if b else [],
            latencies_after=f.trace.latencies() if f else [],
            curve=list(zip(state.design.curve.sizes, state.design.curve.hit_rates, strict=True))
            if state.design
            else [],
            curve_ttl=list(zip(state.design.curve_ttl.sizes, state.design.curve_ttl.hit_rates, strict=True))
            if state.design
            else [],
            measured_hit_rate=state.cache_run.cache.hit_rate if state.cache_run and state.cache_run.cache else None,
            predicted_hit_rate=state.design.predicted if state.design and state.design.cached else None,
            miss_penalty_ms=state.cache_run.cache.miss_penalty_ms
            if state.cache_run and state.cache_run.cache
            else None,
            queries_before=[q.as_dict() for q in b.statements[:5]] if b else [],
            queries_after=[q.as_dict() for q in f.statements[:5]] if f else [],
            advice=[a.as_dict() for a in state.advice],
            routes=[d.as_dict() for d in state.design.decisions] if state.design else [],
            stale_checks=[c.__dict__ for c in state.stale_checks],
            changes=state.changes,
            rollbacks=state.rollbacks,
            hot_python=[h.__dict__ for h in b.profile.hot[:8]] if b and b.profile and b.profile.ok else [],
            profile_note=b.profile.detail if b and b.profile else "",
            notes=state.notes,
            fired=list(run.fired),
            artifacts=list(run.artifacts),
        )


# -- SVG charts -------------------------------------------------------------------------------------
def _cdf_svg(series: list[tuple[str, str, list[float]]], width: int = 520, height: int = 240) -> str:
    """Latency distributions as cumulative curves (x: ms, log scale; y: share of requests)."""
    import math

    values = [v for _, _, xs in series for v in xs if v > 0]
    if not values:
        return ""
    lo, hi = math.log10(max(min(values), 0.1)), math.log10(max(values))
    hi = hi if hi > lo else lo + 1
    left, right, top, bottom = 50, width - 10, 10, height - 30

    def x(v: float) -> float:
        return left + (math.log10(max(v, 0.1)) - lo) / (hi - lo) * (right - left)

    def y(p: float) -> float:
        return bottom - p * (bottom - top)

    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" role="img">']
    parts.append(f'<line x1="{left}" y1="{bottom}" x2="{right}" y2="{bottom}" stroke="#888"/>')
    parts.append(f'<line x1="{left}" y1="{top}" x2="{left}" y2="{bottom}" stroke="#888"/>')
    for k in range(math.floor(lo), math.ceil(hi) + 1):
        v = 10.0**k
        if lo <= k <= hi:
            parts.append(f'<text x="{x(v):.1f}" y="{bottom + 14}" font-size="10" text-anchor="middle">{v:g} ms</text>')
    for p in (0.5, 0.95):
        parts.append(f'<line x1="{left}" y1="{y(p):.1f}" x2="{right}" y2="{y(p):.1f}" stroke="#ddd"/>')
        parts.append(f'<text x="4" y="{y(p) + 3:.1f}" font-size="10">p{int(p * 100)}</text>')
    for n, (label, color, xs) in enumerate(series):
        ordered = sorted(xs)
        if not ordered:
            continue
        step = max(1, len(ordered) // 200)
        pts = " ".join(f"{x(v):.1f},{y((i + 1) / len(ordered)):.1f}" for i, v in enumerate(ordered) if i % step == 0)
        parts.append(f'<polyline fill="none" stroke="{color}" stroke-width="2" points="{pts}"/>')
        parts.append(
            f'<text x="{right - 150}" y="{top + 14 + 14 * n}" font-size="11" fill="{color}">{escape(label)}</text>'
        )
    parts.append("</svg>")
    return "".join(parts)


def _curve_svg(r: Report, width: int = 520, height: int = 240) -> str:
    """Predicted hit rate against cache size (with and without TTL), and the measured rate as a line."""
    import math

    if not r.curve:
        return ""
    left, right, top, bottom = 50, width - 10, 10, height - 30
    sizes = [s for s, _ in r.curve]
    lo, hi = math.log2(max(1, min(sizes))), math.log2(max(sizes))
    hi = hi if hi > lo else lo + 1

    def x(s: int) -> float:
        return left + (math.log2(max(1, s)) - lo) / (hi - lo) * (right - left)

    def y(rate: float) -> float:
        return bottom - rate * (bottom - top)

    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" role="img">']
    parts.append(f'<line x1="{left}" y1="{bottom}" x2="{right}" y2="{bottom}" stroke="#888"/>')
    for s in sizes:
        parts.append(f'<text x="{x(s):.1f}" y="{bottom + 14}" font-size="10" text-anchor="middle">{s}</text>')
    for p in (0.25, 0.5, 0.75, 1.0):
        parts.append(f'<text x="4" y="{y(p) + 3:.1f}" font-size="10">{int(p * 100)}%</text>')
        parts.append(f'<line x1="{left}" y1="{y(p):.1f}" x2="{right}" y2="{y(p):.1f}" stroke="#eee"/>')
    for label, color, curve in (
        ("predicted, no TTL", "#999", r.curve),
        ("predicted, with TTL", "#1f6feb", r.curve_ttl),
    ):
        pts = " ".join(f"{x(s):.1f},{y(h):.1f}" for s, h in curve)
        parts.append(f'<polyline fill="none" stroke="{color}" stroke-width="2" points="{pts}"/>')
        parts.append(
            f'<text x="{left + 8}" y="{top + 14 + (0 if color == "#999" else 14)}" font-size="11" '
            f'fill="{color}">{label}</text>'
        )
    if r.measured_hit_rate is not None:
        ym = y(r.measured_hit_rate / 100)
        parts.append(
            f'<line x1="{left}" y1="{ym:.1f}" x2="{right}" y2="{ym:.1f}" stroke="#d1242f" stroke-dasharray="4 3"/>'
        )
        parts.append(
            f'<text x="{left + 8}" y="{ym - 4:.1f}" font-size="11" fill="#d1242f">measured '
            f"{r.measured_hit_rate:.1f}% (Redis INFO)</text>"
        )
    parts.append("</svg>")
    return "".join(parts)


def _queries_svg(r: Report, width: int = 520) -> str:
    """Total time of the top statements, before and after (horizontal bars)."""
    before = {q["query"]: q["total_ms"] for q in r.queries_before}
    after = {q["query"]: q["total_ms"] for q in r.queries_after}
    names = list(before)[:5]
    if not names:
        return ""
    peak = max([*before.values(), *after.values(), 1.0])
    row, left = 34, 10
    height = row * len(names) + 10
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" role="img">']
    for i, q in enumerate(names):
        y0 = 5 + i * row
        wb = (width - 120) * before[q] / peak
        wa = (width - 120) * after.get(q, 0.0) / peak
        parts.append(f'<text x="{left}" y="{y0 + 8}" font-size="9">{escape(q[:90])}</text>')
        parts.append(f'<rect x="{left}" y="{y0 + 11}" width="{wb:.1f}" height="8" fill="#999"/>')
        parts.append(f'<rect x="{left}" y="{y0 + 20}" width="{wa:.1f}" height="8" fill="#1f6feb"/>')
        parts.append(f'<text x="{left + wb + 4:.1f}" y="{y0 + 19}" font-size="9">{before[q]:.0f} ms</text>')
        parts.append(f'<text x="{left + wa + 4:.1f}" y="{y0 + 28}" font-size="9">{after.get(q, 0.0):.0f} ms</text>')
    parts.append("</svg>")
    return "".join(parts)


def _markdown(r: Report) -> str:
    lines = [f"# Stage 28 — {r.venture}", "", f"Run `{r.run_id}`: **{r.status}** — {r.outcome}.", ""]
    lines.append(f"Exit gate: **{'passes' if r.gate.get('passed') else 'does not pass'}**.")
    lines.append("")
    if r.before and r.after:
        lines += ["| | p50 ms | p95 ms | p99 ms | errors |", "|---|---|---|---|---|"]
        for label, s in (("before", r.before), ("after", r.after)):
            lines.append(f"| {label} | {s['p50_ms']} | {s['p95_ms']} | {s['p99_ms']} | {s['error_rate']}% |")
        lines.append("")
    if r.predicted_hit_rate is not None:
        lines.append(
            f"Cache hit rate: predicted {r.predicted_hit_rate}% from the baseline trace, measured "
            f"{r.measured_hit_rate}% (Redis INFO); miss penalty {r.miss_penalty_ms} ms."
        )
        lines.append("")
    if r.changes:
        lines += [
            "## Changes",
            "",
            "| technique | on | measured on | before → after ms | p | verdict |",
            "|---|---|---|---|---|",
        ]
        for c in r.changes:
            on = str(c.get("ddl") or c["hot_path"])[:100].replace("|", "\\|")
            lines.append(
                f"| {c['technique']} | `{on}` | {c.get('measured_on')} | {c.get('before_ms')} → {c.get('after_ms')} | "
                f"{c.get('p_value')} | {c.get('verdict')} |"
            )
        lines.append("")
    lines += [f"- rolled back: {x}" for x in r.rollbacks]
    lines += ["", "## Exit gate", ""]
    lines += [
        f"- {c.get('name') or c.get('kind')}: {c.get('verdict')} (observed {c.get('observed')})"
        for c in r.gate.get("checks", [])
    ]
    lines += ["", "## Not checked", ""] + [f"- {n}" for n in NOT_CHECKED]
    if r.fired:
        lines += ["", "## Triggers", ""] + [f"- {f}" for f in r.fired]
    lines += ["", "Artifacts: " + ", ".join(f"`{a}`" for a in r.artifacts)]
    lines += [f"\n_{n}_" for n in r.notes]
    return "\n".join(lines) + "\n"


def _template() -> str:
    return (resources.files("venturegate.crews.stage28") / "report.html").read_text(encoding="utf-8")


def write_report(r: Report, run: CrewRun) -> dict[str, Path]:
    """Write report.md and report.html into the run's folder."""
    env = Environment(autoescape=select_autoescape(default=True, default_for_string=True))
    html = env.from_string(_template()).render(
        r=r,
        cdf=Markup(_cdf_svg([("before", "#999", r.latencies_before), ("after", "#1f6feb", r.latencies_after)])),
        curve=Markup(_curve_svg(r)),
        queries=Markup(_queries_svg(r)),
        not_checked=NOT_CHECKED,
    )
    return {"md": run.write("report.md", _markdown(r)), "html": run.write("report.html", html)}
