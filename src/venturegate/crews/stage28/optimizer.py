"""28.3 CodeOptimizer's judgement: did a change help, do nothing, or make things worse?

Each change is measured by a before/after pair of loads of the same shape (the same seeded request
sequence at the same rate). The verdict:

- **kept**: p95 fell by at least `min_effect_percent` *and* the Mann–Whitney U test (one-sided: the
  after-latencies are stochastically smaller) is significant at `significance`;
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
    verdict: str

    def as_dict(self) -> dict[str, Any]:
        """JSON form."""
        return {
            "before_p50_ms": round(self.before_p50, 3),
            "after_p50_ms": round(self.after_p50, 3),
            "before_p95_ms": round(self.before_p95, 3),
            "after_p95_ms": round(self.after_p95, 3),
            "p95_change_percent": round(self.change_percent, 2),
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
    if change <= -min_effect_percent and p_faster < significance:
        verdict = "kept"
    elif change > regression_margin_percent and p_slower < significance:
        verdict = "regression"
    else:
        verdict = "no effect"
    return Comparison(b95, a95, b50, a50, round(p_faster, 6), round(p_slower, 6), change, verdict)
