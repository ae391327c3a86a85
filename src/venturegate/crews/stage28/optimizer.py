"""28.3 CodeOptimizer's judgement: did a change help, do nothing, or make things worse?

Each change is measured by a before/after pair of loads of the same shape (the same seeded request
sequence at the same rate). The verdict:

- **kept**: the median fell by at least `min_effect_percent` *and* the Mann–Whitney U test (one-sided:
  the after-latencies are stochastically smaller) is significant at `significance` (the median, the
  location Mann–Whitney tests: a cache that hits 70% of the time leaves p95 at the miss latency);
- **regression**: p95 rose by more than `regression_margin_percent` *and* the one-sided test the other
  way is significant — the change is rolled back through the engine (cause `regression`);
- **no effect**: anything else — the change is rolled back too (only changes that help are kept).

Mann–Whitney compares whole latency distributions without assuming a shape, which latencies never
have; the effect-size floor keeps a statistically significant but useless change out.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from scipy.stats import mannwhitneyu

from venturegate.crews.stage19.loadgen import percentile


@dataclass(frozen=True)
class Comparison:
    """One before/after comparison and its verdict."""

    before_p95: float
    after_p95: float
    before_p50: float
    after_p50: float
    p_faster: float
    p_slower: float
    change_percent: float
    """p95 change (the regression criterion)."""
    verdict: str
    median_change_percent: float = 0.0
    """Median change (the improvement criterion)."""

    def as_dict(self) -> dict[str, Any]:
        """JSON form."""
        return {
            "before_p50_ms": round(self.before_p50, 3),
            "after_p50_ms": round(self.after_p50, 3),
            "before_p95_ms": round(self.before_p95, 3),
            "after_p95_ms": round(self.after_p95, 3),
            "p95_change_percent": round(self.change_percent, 2),
            "median_change_percent": round(self.median_change_percent, 2),
            "p_value_faster": self.p_faster,
            "p_value_slower": self.p_slower,
            "verdict": self.verdict,
        }


def compare(
    before: list[float],
    after: list[float],
    *,
    min_effect_percent: float,
    significance: float,
    regression_margin_percent: float,
) -> Comparison:
    """Judge `after` against `before` (latencies in ms of the same workload)."""
    if len(before) < 8 or len(after) < 8:
        raise ValueError("a comparison needs at least 8 latencies on each side")
    b, a = sorted(before), sorted(after)
    b95, a95 = float(percentile(b, 95) or 0.0), float(percentile(a, 95) or 0.0)
    b50, a50 = float(percentile(b, 50) or 0.0), float(percentile(a, 50) or 0.0)
    p_faster = float(mannwhitneyu(a, b, alternative="less").pvalue)
    p_slower = float(mannwhitneyu(a, b, alternative="greater").pvalue)
    change = 100.0 * (a95 - b95) / b95 if b95 > 0 else 0.0
    median_change = 100.0 * (a50 - b50) / b50 if b50 > 0 else 0.0
    if median_change <= -min_effect_percent and p_faster < significance:
        verdict = "kept"
    elif change > regression_margin_percent and p_slower < significance:
        verdict = "regression"
    else:
        verdict = "no effect"
    return Comparison(b95, a95, b50, a50, round(p_faster, 6), round(p_slower, 6), change, verdict, median_change)


@dataclass(frozen=True)
class Judgement:
    """A change judged endpoint by endpoint: the verdict, the endpoint that decided it, and every comparison."""

    verdict: str
    endpoint: str | None
    deciding: Comparison | None
    comparisons: dict[str, Comparison]

    def as_dict(self) -> dict[str, Any]:
        """JSON form."""
        return {
            "verdict": self.verdict,
            "endpoint": self.endpoint,
            "endpoints": {k: c.as_dict() for k, c in self.comparisons.items()},
        }


def judge(
    before: dict[str, list[float]],
    after: dict[str, list[float]],
    *,
    min_effect_percent: float,
    significance: float,
    regression_margin_percent: float,
) -> Judgement:
    """Judge a change: a regression on the whole service's p95, an improvement endpoint by endpoint.

    The stage rolls back when the service's p95 gets worse (PERF-RB-LATENCY reads the service's p95),
    so a regression is judged on all latencies together. An improvement usually shows on a few
    endpoints (an index on the queries it serves, a cache on the routes it covers) and would be
    diluted in the whole, so each endpoint called at least 8 times in both loads is tested, at
    `significance` divided by their number (Bonferroni); the biggest median gain decides.
    """
    names = [n for n in before if len(before[n]) >= 8 and len(after.get(n, [])) >= 8]
    alpha = significance / max(1, len(names))
    kw = {"min_effect_percent": min_effect_percent, "regression_margin_percent": regression_margin_percent}
    comparisons = {n: compare(before[n], after[n], significance=alpha, **kw) for n in names}
    whole = compare(
        [x for v in before.values() for x in v], [x for v in after.values() for x in v], significance=significance, **kw
    )
    if whole.verdict == "regression":
        return Judgement("regression", "all endpoints", whole, comparisons)
    better = [(c.median_change_percent, n) for n, c in comparisons.items() if c.verdict == "kept"]
    if better:
        _, name = min(better)
        return Judgement("kept", name, comparisons[name], comparisons)
    return Judgement("no effect", None, None, comparisons)
