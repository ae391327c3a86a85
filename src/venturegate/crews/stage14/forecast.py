"""Velocity and the delivery forecast.

Velocity: the mean of the team's last six sprints when a history is given; otherwise the studio's
benchmark per person, capacity hours per sprint x 0.75 utilisation x 0.2 points per hour, summed over the
assigned team. The industry benchmark band by team size (3-4 people 15-25 points, 5-7 25-40, 8-10 40-60;
smaller and larger teams scaled per head) gives `velocity_benchmark_deviation`: 0 inside the band, else
the distance to the nearer edge in percent of that edge.

Forecast: Monte Carlo over throughput. Each trial draws a velocity per sprint from the history (with
replacement, from a resample of the history drawn per trial - a double bootstrap, so a short history's
uncertainty widens the forecast) until the remaining points are done; without a history it draws from a
normal around the estimate with a 20% standard deviation (an assumption, stated in the result). The sprints
needed give P50/P85/P95 completion dates.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any

import numpy as np

UTILISATION = 0.75
POINTS_PER_HOUR = 0.2
BANDS = ((3, 4, 15.0, 25.0), (5, 7, 25.0, 40.0), (8, 10, 40.0, 60.0))


def benchmark_band(team_size: int) -> tuple[float, float]:
    """The industry velocity band (points per 2-week sprint) for a team of `team_size`."""
    for lo_n, hi_n, lo, hi in BANDS:
        if lo_n <= team_size <= hi_n:
            return lo, hi
    per_head_lo, per_head_hi = (15 / 3.5, 25 / 3.5) if team_size < 3 else (40 / 9, 60 / 9)
    return round(per_head_lo * team_size, 2), round(per_head_hi * team_size, 2)


def deviation(estimate: float, band: tuple[float, float], sprint_weeks: int = 2) -> float:
    """Distance of `estimate` from the band (scaled to the sprint length), percent of the nearer edge."""
    lo, hi = band[0] * sprint_weeks / 2, band[1] * sprint_weeks / 2
    if lo <= estimate <= hi:
        return 0.0
    edge = lo if estimate < lo else hi
    return round(100.0 * abs(estimate - edge) / edge, 2)


def capacity_points(hours_per_week: float, sprint_weeks: int) -> float:
    """A person's points per sprint by the studio's rule."""
    return round(hours_per_week * sprint_weeks * UTILISATION * POINTS_PER_HOUR, 2)


@dataclass
class Forecast:
    """Sprints needed at P50/P85/P95 and the dates they give."""

    points: float
    trials: int
    method: str
    p50: int
    p85: int
    p95: int
    dates: dict[str, str]
    deadline: str | None
    on_time_probability: float | None
    histogram: dict[int, int] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        """JSON form."""
        return {
            "points": self.points,
            "trials": self.trials,
            "method": self.method,
            "sprints": {"p50": self.p50, "p85": self.p85, "p95": self.p95},
            "dates": self.dates,
            "deadline": self.deadline,
            "on_time_probability": self.on_time_probability,
        }


def simulate(
    points: float, history: list[float], estimate: float, *, trials: int = 10_000, seed: int = 14
) -> tuple[np.ndarray[Any, np.dtype[np.int64]], str]:
    """Sprints needed in each trial to finish `points`."""
    rng = np.random.default_rng(seed)
    hist = np.array([h for h in history if h > 0], dtype=float)
    method = "double bootstrap over the velocity history" if hist.size else "normal(estimate, 20%) - no history given"
    if points <= 0:
        return np.zeros(trials, dtype=np.int64), method
    mean = float(hist.mean()) if hist.size else max(estimate, 1e-6)
    cap = math.ceil(points / max(mean * 0.2, 1e-6)) + 50
    if hist.size:
        # A double bootstrap: each trial first resamples the history (how uncertain a short history is
        # about the team's true rate), then draws its sprints from that resample.
        own = rng.choice(hist, size=(trials, hist.size), replace=True)
        draws = np.take_along_axis(own, rng.integers(0, hist.size, size=(trials, cap)), axis=1)
    else:
        draws = np.clip(rng.normal(estimate, 0.2 * estimate, size=(trials, cap)), 0.05 * estimate, None)
    done = np.cumsum(draws, axis=1) >= points - 1e-9
    needed = np.where(done.any(axis=1), done.argmax(axis=1) + 1, cap)
    return needed.astype(np.int64), method


def forecast(
    points: float,
    history: list[float],
    estimate: float,
    *,
    start: date,
    sprint_weeks: int,
    deadline: date | None,
    trials: int = 10_000,
) -> Forecast:
    """The completion forecast for `points` from sprint 1's `start`."""
    needed, method = simulate(points, history, estimate, trials=trials)
    p50, p85, p95 = (int(np.percentile(needed, q, method="inverted_cdf")) for q in (50, 85, 95))

    def end(sprints: int) -> date:
        return start + timedelta(weeks=sprint_weeks * sprints) - timedelta(days=1)

    on_time = None
    if deadline is not None:
        allowed = ((deadline - start).days + 1) // (7 * sprint_weeks)
        on_time = round(float(np.mean(needed <= allowed)), 4)
    values, counts = np.unique(needed, return_counts=True)
    return Forecast(
        points, trials, method, p50, p85, p95,
        {"p50": end(p50).isoformat(), "p85": end(p85).isoformat(), "p95": end(p95).isoformat()},
        deadline.isoformat() if deadline else None, on_time,
        {int(v): int(c) for v, c in zip(values, counts, strict=True)},
    )  # fmt: skip


def chart_svg(fc: Forecast, start: date, sprint_weeks: int) -> str:
    """A histogram of the sprints needed, with the P50/P85/P95 lines and the deadline, as SVG."""
    from xml.sax.saxutils import escape

    w, h, pad = 640, 300, 40
    xs = sorted(fc.histogram)
    if not xs:
        return f'<svg xmlns="http://www.w3.org/2000/svg" width="{w}" height="{h}"></svg>'
    lo = min(xs[0], fc.p50) - 1
    hi = max(xs[-1], fc.p95) + 1
    deadline_sprints = None
    if fc.deadline:
        deadline_sprints = ((date.fromisoformat(fc.deadline) - start).days + 1) / (7 * sprint_weeks)
        hi = max(hi, math.ceil(deadline_sprints) + 1)
    top = max(fc.histogram.values())

    def x(v: float) -> float:
        return pad + (v - lo) / (hi - lo) * (w - 2 * pad)

    bar = (w - 2 * pad) / (hi - lo) * 0.8
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{w}" height="{h}" font-family="sans-serif" '
             f'font-size="11"><rect width="{w}" height="{h}" fill="white"/>',
             f'<text x="{pad}" y="18" font-size="13">Sprints to finish {fc.points:g} points '
             f'({fc.trials} Monte Carlo trials)</text>']  # fmt: skip
    for v in xs:
        bh = (h - 2 * pad) * fc.histogram[v] / top
        parts.append(f'<rect x="{x(v) - bar / 2:.1f}" y="{h - pad - bh:.1f}" width="{bar:.1f}" height="{bh:.1f}" '
                     'fill="#7aa6d6"/>')  # fmt: skip
        parts.append(f'<text x="{x(v):.1f}" y="{h - pad + 14}" text-anchor="middle">{v}</text>')
    for name, v, colour in (("P50", fc.p50, "#2b7a2b"), ("P85", fc.p85, "#c98a00"), ("P95", fc.p95, "#c0392b")):
        parts.append(f'<line x1="{x(v):.1f}" x2="{x(v):.1f}" y1="{pad}" y2="{h - pad}" stroke="{colour}" '
                     'stroke-dasharray="4 3"/>')  # fmt: skip
        label = escape(f"{name} {fc.dates[name.lower()]}")
        parts.append(f'<text x="{x(v) + 3:.1f}" y="{pad + 12 * (1 + ["P50", "P85", "P95"].index(name))}" '
                     f'fill="{colour}">{label}</text>')  # fmt: skip
    if deadline_sprints is not None and fc.deadline:
        parts.append(f'<line x1="{x(deadline_sprints):.1f}" x2="{x(deadline_sprints):.1f}" y1="{pad}" '
                     f'y2="{h - pad}" stroke="black" stroke-width="2"/>')  # fmt: skip
        parts.append(f'<text x="{x(deadline_sprints) - 3:.1f}" y="{h - pad - 4}" text-anchor="end">deadline '
                     f"{escape(fc.deadline)}</text>")  # fmt: skip
    parts.append(f'<text x="{w / 2}" y="{h - 8}" text-anchor="middle">sprints needed</text></svg>')
    return "\n".join(parts)
