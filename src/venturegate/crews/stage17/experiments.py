"""A/B test statistics, pure (numpy, scipy, statsmodels; no I/O, no clock): power analysis, the sample-ratio-mismatch
check, the two-proportion z-test, Bayesian chance to beat control with expected loss, and a sequential test
(mSPRT with a normal mixture, i.e. always-valid p-values) that survives daily peeking.

Used by the stage-17 crew (test plans), the `venturegate experiment` commands and the API.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np
from scipy import special, stats
from statsmodels.stats.power import NormalIndPower
from statsmodels.stats.proportion import confint_proportions_2indep, proportion_effectsize, proportions_ztest

SRM_ALPHA = 0.001
"""Sample-ratio mismatch is flagged below this p-value (GrowthBook's and Statsig's default)."""


@dataclass(frozen=True)
class Plan:
    """What an A/B test was designed for."""

    baseline_rate: float
    mde_relative: float
    alpha: float = 0.05
    power: float = 0.8
    variants: int = 2
    daily_traffic: float = 1000.0
    """Exposures per day over all variants."""

    def __post_init__(self) -> None:
        if not 0 < self.baseline_rate < 1:
            raise ValueError(f"baseline rate {self.baseline_rate} must be between 0 and 1")
        if self.mde_relative <= 0 or self.baseline_rate * (1 + self.mde_relative) >= 1:
            raise ValueError(f"minimum detectable effect {self.mde_relative} must be > 0 and keep the rate below 1")
        if not 0 < self.alpha < 0.5 or not 0.5 <= self.power < 1:
            raise ValueError(f"alpha {self.alpha} must be in (0, 0.5) and power {self.power} in [0.5, 1)")
        if self.variants < 2:
            raise ValueError("an A/B test needs at least 2 variants")
        if self.daily_traffic <= 0:
            raise ValueError("daily traffic must be positive")


@dataclass(frozen=True)
class SampleSize:
    """The plan's minimum sample per variant and the days of traffic it takes."""

    per_variant: int
    total: int
    days: int
    effect_size_h: float
    alpha_per_comparison: float


def sample_size(plan: Plan) -> SampleSize:
    """Minimum exposures per variant to detect the relative MDE at α (Bonferroni over the comparisons) and power.

    statsmodels' two-sided power analysis of two independent proportions on Cohen's h.
    """
    target = plan.baseline_rate * (1 + plan.mde_relative)
    h = float(proportion_effectsize(target, plan.baseline_rate))
    alpha = plan.alpha / (plan.variants - 1)
    n = NormalIndPower().solve_power(effect_size=h, alpha=alpha, power=plan.power, ratio=1.0, alternative="two-sided")
    per = math.ceil(float(n))
    total = per * plan.variants
    return SampleSize(per, total, math.ceil(total / plan.daily_traffic), h, alpha)


@dataclass(frozen=True)
class Arm:
    """One variant's totals."""

    name: str
    exposures: int
    conversions: int
    weight: float = 1.0
    """Planned share of traffic (relative; normalised over the arms)."""

    def __post_init__(self) -> None:
        if self.exposures < 0 or self.conversions < 0:
            raise ValueError(f"variant {self.name}: counts must not be negative")
        if self.conversions > self.exposures:
            raise ValueError(f"variant {self.name}: {self.conversions} conversions > {self.exposures} exposures")
        if self.weight <= 0:
            raise ValueError(f"variant {self.name}: weight must be positive")

    @property
    def rate(self) -> float:
        return self.conversions / self.exposures if self.exposures else 0.0


@dataclass(frozen=True)
class SRM:
    """Pearson χ² goodness of fit of observed exposures against the planned split."""

    chi2: float
    p_value: float
    mismatch: bool
    expected: tuple[float, ...]


def srm_check(arms: Sequence[Arm], alpha: float = SRM_ALPHA) -> SRM:
    """Flag a sample-ratio mismatch: the traffic split differs from the planned weights beyond chance."""
    observed = np.array([a.exposures for a in arms], dtype=float)
    weights = np.array([a.weight for a in arms], dtype=float)
    total = observed.sum()
    if total == 0:
        return SRM(0.0, 1.0, False, tuple(0.0 for _ in arms))
    expected = total * weights / weights.sum()
    chi2, p = stats.chisquare(observed, expected)
    return SRM(float(chi2), float(p), bool(p < alpha), tuple(float(x) for x in expected))


@dataclass(frozen=True)
class ZTest:
    """Two-proportion z-test (pooled) with a Wald confidence interval of the difference treatment − control."""

    z: float
    p_value: float
    diff: float
    ci_low: float
    ci_high: float
    relative_lift: float


def z_test(control: Arm, treatment: Arm, alpha: float = 0.05) -> ZTest:
    """Frequentist comparison of treatment against control."""
    if control.exposures == 0 or treatment.exposures == 0:
        return ZTest(0.0, 1.0, 0.0, -1.0, 1.0, 0.0)
    count = np.array([treatment.conversions, control.conversions])
    nobs = np.array([treatment.exposures, control.exposures])
    if count.sum() == 0 or count.sum() == nobs.sum():
        z, p = 0.0, 1.0
    else:
        zs, ps = proportions_ztest(count, nobs)
        z, p = float(zs), float(ps)
    low, high = confint_proportions_2indep(
        treatment.conversions, treatment.exposures, control.conversions, control.exposures, method="wald", alpha=alpha
    )
    diff = treatment.rate - control.rate
    lift = diff / control.rate if control.rate > 0 else 0.0
    return ZTest(z, p, diff, float(low), float(high), lift)


def _log_prob_beats(a1: float, b1: float, a2: float, b2: float) -> float:
    """log P(X2 > X1) for X1 ~ Beta(a1, b1), X2 ~ Beta(a2, b2) with integer a2 (Evan Miller's closed form)."""
    i = np.arange(int(a2), dtype=float)
    terms = special.betaln(a1 + i, b1 + b2) - np.log(b2 + i) - special.betaln(1 + i, b2) - special.betaln(a1, b1)
    return float(special.logsumexp(terms))


def prob_beats(a1: float, b1: float, a2: float, b2: float) -> float:
    """P(X2 > X1) for independent Beta posteriors, exact (needs an integer first parameter of X2)."""
    if a2 != int(a2):
        raise ValueError("the closed form needs an integer alpha for the second posterior")
    return min(1.0, max(0.0, math.exp(_log_prob_beats(a1, b1, a2, b2))))


@dataclass(frozen=True)
class Bayes:
    """Beta-binomial posteriors: chance that treatment beats control and the expected loss of each choice."""

    chance_to_beat: float
    expected_loss_treatment: float
    """E[max(p_control − p_treatment, 0)]: what shipping the treatment costs if it is worse."""
    expected_loss_control: float
    credible_low: float
    credible_high: float
    """Central 95% interval of the treatment's relative uplift (normal approximation of the log ratio)."""


def bayes(control: Arm, treatment: Arm, prior: tuple[int, int] = (1, 1)) -> Bayes:
    """Chance to beat control and expected losses, exact under Beta(prior) priors."""
    ac, bc = prior[0] + control.conversions, prior[1] + control.exposures - control.conversions
    at, bt = prior[0] + treatment.conversions, prior[1] + treatment.exposures - treatment.conversions
    ctb = prob_beats(ac, bc, at, bt)
    mean_c, mean_t = ac / (ac + bc), at / (at + bt)
    # E[(pc - pt)+] = E[pc 1{pc>pt}] - E[pt 1{pc>pt}], each a beats-probability of a size-biased Beta.
    loss_t = mean_c * prob_beats(at, bt, ac + 1, bc) - mean_t * prob_beats(at + 1, bt, ac, bc)
    loss_c = mean_t * prob_beats(ac, bc, at + 1, bt) - mean_c * prob_beats(ac + 1, bc, at, bt)
    var_log = bc / (ac * (ac + bc + 1)) + bt / (at * (at + bt + 1))
    mu = math.log(mean_t / mean_c)
    z = float(stats.norm.ppf(0.975))
    return Bayes(
        ctb,
        max(0.0, loss_t),
        max(0.0, loss_c),
        math.exp(mu - z * math.sqrt(var_log)) - 1,
        math.exp(mu + z * math.sqrt(var_log)) - 1,
    )


@dataclass(frozen=True)
class Sequential:
    """mSPRT with a normal mixture over the difference of rates (Johari et al., always-valid inference)."""

    likelihood_ratio: float
    p_value: float
    """Always-valid p-value: min over looks of 1 / Λ (capped at 1)."""
    crossed: bool
    tau: float


def msprt_lambda(diff: float, variance: float, tau: float) -> float:
    """Λ of the normal-mixture SPRT for an observed difference with sampling variance `variance`, mixture sd `tau`."""
    if variance <= 0:
        return 1.0
    t2 = tau * tau
    log_l = 0.5 * math.log(variance / (variance + t2)) + t2 * diff * diff / (2 * variance * (variance + t2))
    return math.exp(min(log_l, 700.0))


def sequential(
    looks: Sequence[tuple[Arm, Arm]], alpha: float = 0.05, tau: float | None = None, min_conversions: int = 10
) -> Sequential:
    """Run the mSPRT over cumulative (control, treatment) totals at each look (e.g. one per day).

    `tau` defaults to the control rate at the first usable look times 0.1 (a 10 % relative effect); looks where
    either arm has fewer than `min_conversions` conversions are skipped (the normal approximation needs them).
    """
    p_value = 1.0
    best = 1.0
    used_tau = tau
    for control, treatment in looks:
        if control.conversions < min_conversions or treatment.conversions < min_conversions:
            continue
        pc, pt = control.rate, treatment.rate
        var = pc * (1 - pc) / control.exposures + pt * (1 - pt) / treatment.exposures
        if used_tau is None:
            used_tau = max(1e-6, 0.1 * pc)
        lam = msprt_lambda(pt - pc, var, used_tau)
        best = max(best, lam)
        p_value = min(p_value, 1.0 / lam)
    return Sequential(best, min(1.0, p_value), p_value <= alpha, used_tau if used_tau is not None else 0.0)


@dataclass(frozen=True)
class Comparison:
    """One treatment against control."""

    variant: str
    rate: float
    z: ZTest
    bayes: Bayes
    sequential: Sequential

    def as_dict(self) -> dict[str, Any]:
        return {
            "variant": self.variant,
            "rate": self.rate,
            "z_test": asdict(self.z),
            "bayes": asdict(self.bayes),
            "sequential": asdict(self.sequential),
        }


@dataclass(frozen=True)
class Verdict:
    """The analysis of one test: SRM first, then per-treatment results and the decision they allow."""

    decision: str
    """blocked_srm, winner, no_difference or keep_running."""
    winner: str | None
    reason: str
    srm: SRM
    control: str
    comparisons: tuple[Comparison, ...]
    needed_per_variant: int
    min_exposures: int
    rule: str
    """which rule decided: sequential (boundary crossed), fixed_horizon (planned sample reached) or none."""
    not_checked: tuple[str, ...] = field(default=())

    def as_dict(self) -> dict[str, Any]:
        return {
            "decision": self.decision,
            "winner": self.winner,
            "reason": self.reason,
            "rule": self.rule,
            "srm": asdict(self.srm),
            "control": self.control,
            "comparisons": [c.as_dict() for c in self.comparisons],
            "needed_per_variant": self.needed_per_variant,
            "min_exposures": self.min_exposures,
            "not_checked": list(self.not_checked),
        }


def analyze(daily: Sequence[Sequence[Arm]], plan: Plan, tau: float | None = None) -> Verdict:
    """Judge a test from its cumulative totals per look (each look lists the arms, control first).

    A winner is declared only when the sequential boundary is crossed, or when every arm has the planned sample
    and the z-test is significant at α (Bonferroni over the comparisons); a sample-ratio mismatch blocks both.
    """
    if not daily:
        raise ValueError("no data recorded for this test")
    final = list(daily[-1])
    if len(final) < 2:
        raise ValueError("an A/B test needs a control and at least one treatment")
    size = sample_size(Plan(plan.baseline_rate, plan.mde_relative, plan.alpha, plan.power, len(final)))
    alpha = plan.alpha / (len(final) - 1)
    control = final[0]
    srm = srm_check(final)
    comps = []
    for k, arm in enumerate(final[1:], start=1):
        looks = [(look[0], look[k]) for look in daily]
        comps.append(
            Comparison(
                arm.name, arm.rate, z_test(control, arm, alpha), bayes(control, arm), sequential(looks, alpha, tau)
            )
        )
    min_n = min(a.exposures for a in final)
    not_checked = ("novelty and day-of-week effects beyond the planned duration", "CUPED variance reduction")
    common: dict[str, Any] = {
        "srm": srm,
        "control": control.name,
        "comparisons": tuple(comps),
        "needed_per_variant": size.per_variant,
        "not_checked": not_checked,
    }
    if srm.mismatch:
        reason = f"sample-ratio mismatch (χ² p={srm.p_value:.2g} < {SRM_ALPHA}): fix the split before reading results"
        return Verdict("blocked_srm", None, reason, min_exposures=min_n, rule="none", **common)
    crossed = [c for c in comps if c.sequential.crossed]
    if crossed:
        best = max(crossed, key=lambda c: c.rate)
        if best.rate > control.rate:
            reason = f"{best.variant} crossed the sequential boundary (always-valid p={best.sequential.p_value:.3g})"
            return Verdict("winner", best.variant, reason, min_exposures=min_n, rule="sequential", **common)
        reason = f"{best.variant} is worse than control (always-valid p={best.sequential.p_value:.3g}): keep control"
        return Verdict("winner", control.name, reason, min_exposures=min_n, rule="sequential", **common)
    if min_n >= size.per_variant:
        sig = [c for c in comps if c.z.p_value < alpha]
        better = [c for c in sig if c.z.diff > 0]
        if better:
            best = max(better, key=lambda c: c.rate)
            reason = f"{best.variant} significant at the planned sample (p={best.z.p_value:.3g} < {alpha:.3g})"
            return Verdict("winner", best.variant, reason, min_exposures=min_n, rule="fixed_horizon", **common)
        if sig:
            reason = "every significant treatment is worse than control at the planned sample"
            return Verdict("winner", control.name, reason, min_exposures=min_n, rule="fixed_horizon", **common)
        reason = f"planned sample reached ({size.per_variant}/variant) with no significant difference"
        return Verdict("no_difference", None, reason, min_exposures=min_n, rule="fixed_horizon", **common)
    reason = f"{min_n} of {size.per_variant} exposures per variant and no sequential boundary crossed yet"
    return Verdict("keep_running", None, reason, min_exposures=min_n, rule="none", **common)


@dataclass(frozen=True)
class Benchmarks:
    """Denominators of campaign effectiveness: what a good campaign reaches on each component."""

    ctr: float = 0.025
    engagement: float = 0.20
    conversion: float = 0.05


def campaign_effectiveness(
    exposures: int, clicks: int, leads: int, conversions: int, bench: Benchmarks = Benchmarks()
) -> float:
    """The studio's score 0.4·CTR + 0.3·engagement + 0.3·conversion, each over its benchmark and capped at 1.

    CTR = clicks / exposures, engagement = leads / clicks (clickers who leave their details), conversion =
    conversions / leads.
    """

    def part(num: int, den: int, ref: float) -> float:
        return min(1.0, (num / den) / ref) if den > 0 else 0.0

    score = 0.4 * part(clicks, exposures, bench.ctr) + 0.3 * part(leads, clicks, bench.engagement)
    return round(score + 0.3 * part(conversions, leads, bench.conversion), 4)
