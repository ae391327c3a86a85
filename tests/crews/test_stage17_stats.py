"""Stage-17 statistics against known values: power, SRM, z-test, Bayesian chance to beat, mSPRT, A/A peeking."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import integrate, stats

from venturegate.crews.stage17.experiments import (
    Arm,
    Plan,
    analyze,
    bayes,
    campaign_effectiveness,
    msprt_lambda,
    prob_beats,
    sample_size,
    sequential,
    srm_check,
    z_test,
)


def test_sample_size_matches_the_normal_formula() -> None:
    size = sample_size(Plan(baseline_rate=0.10, mde_relative=0.20, alpha=0.05, power=0.8, daily_traffic=400))
    h = 2 * math.asin(math.sqrt(0.12)) - 2 * math.asin(math.sqrt(0.10))
    n = 2 * ((stats.norm.ppf(0.975) + stats.norm.ppf(0.8)) / h) ** 2  # the arcsine transform has variance 1/n
    assert abs(size.per_variant - n) <= 1.5
    assert size.per_variant == 3835  # 10 % → 12 % at α 0.05, power 0.8
    assert size.days == math.ceil(2 * 3835 / 400)


def test_sample_size_corrects_alpha_for_several_treatments() -> None:
    two = sample_size(Plan(0.05, 0.1, variants=2))
    three = sample_size(Plan(0.05, 0.1, variants=3))
    assert three.alpha_per_comparison == pytest.approx(0.025)
    assert three.per_variant > two.per_variant


@pytest.mark.parametrize("bad", [{"baseline_rate": 0}, {"mde_relative": -0.1}, {"alpha": 0.7}, {"variants": 1}])
def test_plan_rejects_nonsense(bad: dict[str, float]) -> None:
    args = {"baseline_rate": 0.1, "mde_relative": 0.1, **bad}
    with pytest.raises(ValueError):
        Plan(**args)  # type: ignore[arg-type]


def test_srm_known_values() -> None:
    ok = srm_check([Arm("A", 5000, 0), Arm("B", 5200, 0)])
    assert ok.chi2 == pytest.approx(2 * 100**2 / 5100)
    assert ok.p_value == pytest.approx(0.04767, abs=1e-4)
    assert not ok.mismatch
    bad = srm_check([Arm("A", 5000, 0), Arm("B", 5500, 0)])
    assert bad.chi2 == pytest.approx(2 * 250**2 / 5250)
    assert bad.mismatch and bad.p_value < 1e-5
    weighted = srm_check([Arm("A", 8000, 0, weight=80), Arm("B", 2000, 0, weight=20)])
    assert weighted.chi2 == pytest.approx(0.0) and not weighted.mismatch


def test_z_test_known_values() -> None:
    r = z_test(Arm("A", 1000, 200), Arm("B", 1000, 250))
    pooled = 0.225
    z = 0.05 / math.sqrt(pooled * (1 - pooled) * 2 / 1000)
    assert r.z == pytest.approx(z, rel=1e-6)
    assert r.p_value == pytest.approx(2 * stats.norm.sf(z), rel=1e-6)
    assert r.p_value == pytest.approx(0.00742, abs=5e-5)
    se = math.sqrt(0.2 * 0.8 / 1000 + 0.25 * 0.75 / 1000)
    assert r.ci_low == pytest.approx(0.05 - 1.959964 * se, abs=1e-5)
    assert r.ci_high == pytest.approx(0.05 + 1.959964 * se, abs=1e-5)
    assert r.relative_lift == pytest.approx(0.25)


def test_chance_to_beat_exact_cases() -> None:
    assert prob_beats(1, 1, 2, 1) == pytest.approx(2 / 3)  # ∫ 2x·x dx
    assert prob_beats(1, 1, 1, 2) == pytest.approx(1 / 3)
    assert prob_beats(30, 70, 30, 70) == pytest.approx(0.5)
    b = bayes(Arm("A", 0, 0), Arm("B", 0, 0))  # two uniform posteriors: E[(X - Y)+] = 1/6
    assert b.chance_to_beat == pytest.approx(0.5)
    assert b.expected_loss_treatment == pytest.approx(1 / 6)
    assert b.expected_loss_control == pytest.approx(1 / 6)


def test_chance_to_beat_matches_monte_carlo() -> None:
    control, treatment = Arm("A", 4000, 400), Arm("B", 4000, 445)
    rng = np.random.default_rng(7)
    xc = rng.beta(401, 3601, 400_000)
    xt = rng.beta(446, 3556, 400_000)
    b = bayes(control, treatment)
    assert b.chance_to_beat == pytest.approx(float(np.mean(xt > xc)), abs=0.003)
    assert b.expected_loss_treatment == pytest.approx(float(np.mean(np.maximum(xc - xt, 0))), rel=0.02)
    assert b.expected_loss_control == pytest.approx(float(np.mean(np.maximum(xt - xc, 0))), rel=0.02)
    assert b.credible_low < 0.1125 < b.credible_high


def test_msprt_lambda_is_the_mixture_integral() -> None:
    diff, var, tau = 0.012, 4e-5, 0.008

    def integrand(theta: float) -> float:
        ratio = stats.norm.pdf(diff, theta, math.sqrt(var)) / stats.norm.pdf(diff, 0, math.sqrt(var))
        return float(ratio * stats.norm.pdf(theta, 0, tau))

    expected, _ = integrate.quad(integrand, -10 * tau, 10 * tau, points=[diff])
    assert msprt_lambda(diff, var, tau) == pytest.approx(expected, rel=1e-6)
    assert msprt_lambda(0.01, 1e-4, 0.01) == pytest.approx(math.exp(0.5 * math.log(0.5) + 0.25))


def _aa_looks(rng: np.random.Generator, days: int, per_day: int, p: float, q: float) -> list[tuple[Arm, Arm]]:
    c = rng.binomial(per_day, p, days).cumsum()
    t = rng.binomial(per_day, q, days).cumsum()
    return [(Arm("A", per_day * (d + 1), int(c[d])), Arm("B", per_day * (d + 1), int(t[d]))) for d in range(days)]


def test_daily_peeking_inflates_the_naive_test_but_not_the_sequential_one() -> None:
    rng = np.random.default_rng(20)
    sims = 200
    naive = seq = 0
    for _ in range(sims):
        looks = _aa_looks(rng, 14, 500, 0.05, 0.05)
        naive += any(z_test(a, b).p_value < 0.05 for a, b in looks)
        seq += sequential(looks).crossed
    assert naive / sims > 0.12  # far above the nominal 5 % (about 20 % with 14 looks)
    assert seq / sims <= 0.05


def test_sequential_detects_a_real_effect() -> None:
    rng = np.random.default_rng(3)
    hits = sum(sequential(_aa_looks(rng, 14, 1000, 0.05, 0.065)).crossed for _ in range(50))
    assert hits >= 40


def _daily(days: int, rates: list[float], per_day: int, seed: int, split: list[float] | None = None) -> list[list[Arm]]:
    rng = np.random.default_rng(seed)
    split = split or [1 / len(rates)] * len(rates)
    totals = [[0, 0] for _ in rates]
    out = []
    for _ in range(days):
        n = rng.multinomial(per_day, split)
        for k, rate in enumerate(rates):
            totals[k][0] += int(n[k])
            totals[k][1] += int(rng.binomial(n[k], rate))
        out.append([Arm(chr(65 + k), t[0], t[1]) for k, t in enumerate(totals)])
    return out


def test_analyze_declares_a_winner_only_by_a_rule() -> None:
    plan = Plan(baseline_rate=0.05, mde_relative=0.3, daily_traffic=2000)
    win = analyze(_daily(14, [0.05, 0.08], 2000, 1), plan)
    assert win.decision == "winner" and win.winner == "B" and win.rule in ("sequential", "fixed_horizon")
    early = analyze(_daily(1, [0.05, 0.05], 300, 2), plan)
    assert early.decision == "keep_running" and early.winner is None
    flat = analyze(_daily(30, [0.05, 0.05], 2000, 4), plan)
    assert flat.decision in ("no_difference", "keep_running") and flat.winner is None


def test_analyze_blocks_on_sample_ratio_mismatch() -> None:
    plan = Plan(baseline_rate=0.05, mde_relative=0.3, daily_traffic=2000)
    v = analyze(_daily(14, [0.05, 0.08], 2000, 1, split=[0.45, 0.55]), plan)
    assert v.decision == "blocked_srm" and v.winner is None and "mismatch" in v.reason


def test_campaign_effectiveness_weights_and_caps() -> None:
    # CTR 2.5 % (=benchmark), engagement 10 % (half), conversion 10 % (capped at 1)
    assert campaign_effectiveness(10_000, 250, 25, 3) == pytest.approx(0.4 + 0.15 + 0.3 * min(1, 0.12 / 0.05))
    assert campaign_effectiveness(0, 0, 0, 0) == 0.0
