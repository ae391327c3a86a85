"""Stage-17 figures: budget allocation regret, false positives under daily peeking, agreement of the Bayesian
chance to beat with GrowthBook's gbstats, and a full crew run on the demo venture.

1. **Budget regret.** Four simulated channels (one proven, one growth, two experimental) with known conversions per
   dollar; each day the policy splits the daily budget, conversions are drawn (Poisson), and the regret is what
   the oracle split (the best split under the same tier ranges and caps, knowing the true rates) would have earned
   in expectation minus what the policy's split earns. Policies: the static 70/20/10 split, an equal split, and
   the crew's Thompson-sampling allocation (`budget.allocate`, re-run every day on the results so far). Three
   scenarios: the best channel is the proven one, the growth one, an experimental one.
2. **A/A false positives under daily peeking.** Two identical arms (5 % conversion, 1,000 exposures a day each),
   14 daily looks: how often the naive two-proportion z-test is significant at any look, how often the sequential
   method (mSPRT, always-valid p-values) crosses, and the single fixed-horizon test at day 14. Also the power of
   both on a real +25 % effect.
3. **Chance to beat vs gbstats.** Our exact Beta-binomial chance to beat control against GrowthBook's engine
   (`gbstats` EffectBayesianABTest on ProportionStatistic, relative effect, flat prior) and a 400k-draw Monte Carlo,
   over a grid of test sizes and effects.
4. **A full crew run** on the demo venture: the three runs with the approvals between them, SQLite.

    .venv/bin/python benchmarks/gtm.py            # full (about 3 minutes on 2 cores)
    .venv/bin/python benchmarks/gtm.py --quick    # smoke run
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

from venturegate.crews.stage17.budget import TIER_RANGES, Channel, Observed, allocate, best_allocation
from venturegate.crews.stage17.experiments import Arm, bayes, sequential, z_test

SCENARIOS: dict[str, list[tuple[str, str, float]]] = {
    # channel, tier, true conversions per $100 (value per conversion 600 USD)
    "proven best": [("email", "proven", 1.2), ("linkedin", "growth", 0.8), ("ads", "experimental", 0.5),
                    ("webinars", "experimental", 0.6)],
    "growth best": [("email", "proven", 0.7), ("linkedin", "growth", 1.4), ("ads", "experimental", 0.5),
                    ("webinars", "experimental", 0.6)],
    "experimental best": [("email", "proven", 0.7), ("linkedin", "growth", 0.6), ("ads", "experimental", 0.5),
                          ("webinars", "experimental", 1.6)],
}  # fmt: skip
VALUE = 600.0


def regret(scenario: str, days: int, seeds: int, monthly: float = 15000.0) -> dict[str, Any]:
    spec = SCENARIOS[scenario]
    channels = [Channel(n, t, VALUE) for n, t, _ in spec]
    rates = np.array([r / 100 for _, _, r in spec])
    daily = monthly / 30
    oracle = best_allocation(rates * VALUE, channels, monthly, dict(TIER_RANGES))
    free = {t: (0.0, 100.0) for t in TIER_RANGES}  # the best channel may take everything
    unconstrained = float(best_allocation(rates * VALUE, channels, monthly, free) @ rates) * daily * VALUE
    best_revenue = float(oracle @ rates) * daily * VALUE
    static = np.array([0.7, 0.2, 0.05, 0.05])
    equal = np.full(4, 0.25)
    out: dict[str, list[float]] = {"static 70/20/10": [], "equal split": [], "thompson": []}
    for seed in range(seeds):
        rng = np.random.default_rng(1000 + seed)
        spend = np.zeros(4)
        conv = np.zeros(4)
        total = {k: 0.0 for k in out}
        for day in range(days):
            obs = {c.name: Observed(float(spend[i]), int(conv[i])) for i, c in enumerate(channels)}
            ts = allocate(channels, obs, [70, 20, 10], monthly, seed=seed * 1000 + day, draws=100,
                          prior_rate=0.01)  # fmt: skip
            shares = np.array([p.share for p in ts.channels])
            for name, split in (("static 70/20/10", static), ("equal split", equal), ("thompson", shares)):
                total[name] += best_revenue - float(split @ rates) * daily * VALUE
            spend += shares * daily
            conv += rng.poisson(shares * daily * rates)
        for k in out:
            out[k].append(total[k])
    return {
        "scenario": scenario,
        "days": days,
        "seeds": seeds,
        "oracle_split": [round(float(x), 3) for x in oracle],
        "oracle_revenue_per_day": round(best_revenue, 1),
        "regret_usd": {k: {"mean": round(float(np.mean(v))), "sd": round(float(np.std(v)))} for k, v in out.items()},
        "unconstrained_best_revenue_per_day": round(unconstrained, 1),
        "regret_vs_unconstrained_usd": {
            k: round(float(np.mean(v)) + (unconstrained - best_revenue) * days, 0) for k, v in out.items()
        },
    }  # fmt: skip


def peeking(sims: int, days: int = 14, per_day: int = 1000, p: float = 0.05, lift: float = 0.25) -> dict[str, Any]:
    rng = np.random.default_rng(20)

    def looks(q: float) -> list[tuple[Arm, Arm]]:
        c = rng.binomial(per_day, p, days).cumsum()
        t = rng.binomial(per_day, q, days).cumsum()
        return [(Arm("A", per_day * (d + 1), int(c[d])), Arm("B", per_day * (d + 1), int(t[d]))) for d in range(days)]

    res: dict[str, Any] = {"sims": sims, "days": days, "per_arm_per_day": per_day, "rate": p}
    for label, q in (("a_a", p), ("effect", p * (1 + lift))):
        naive = seq = fixed = 0
        for _ in range(sims):
            lk = looks(q)
            naive += any(z_test(a, b).p_value < 0.05 for a, b in lk)
            fixed += z_test(*lk[-1]).p_value < 0.05
            seq += sequential(lk).crossed
        res[label] = {
            "naive_daily_peeking": round(naive / sims, 4),
            "sequential_msprt": round(seq / sims, 4),
            "fixed_horizon_single_look": round(fixed / sims, 4),
        }
    res["lift"] = lift
    return res


def agreement(quick: bool) -> dict[str, Any]:
    try:  # gbstats pins pandas<2 and ortools (stage 14) needs pandas>=2: it is not in the lock (docs/decisions.md)
        from gbstats.bayesian.tests import EffectBayesianABTest
        from gbstats.models.statistics import ProportionStatistic
    except ImportError:
        EffectBayesianABTest = ProportionStatistic = None
    rng = np.random.default_rng(5)
    rows = []
    grid = [(n, p, lift) for n in (500, 2000, 10000, 50000) for p in (0.02, 0.1) for lift in (-0.1, 0.0, 0.05, 0.15)]
    for n, p, lift in grid[:: 4 if quick else 1]:
        ca, cb = int(rng.binomial(n, p)), int(rng.binomial(n, p * (1 + lift)))
        ours = bayes(Arm("A", n, ca), Arm("B", n, cb)).chance_to_beat
        gb = (
            None
            if EffectBayesianABTest is None or ProportionStatistic is None
            else EffectBayesianABTest(
                ProportionStatistic(n=n, sum=ca), ProportionStatistic(n=n, sum=cb)
            ).compute_result()
        )
        xa = rng.beta(1 + ca, 1 + n - ca, 400_000)
        xb = rng.beta(1 + cb, 1 + n - cb, 400_000)
        mc = float(np.mean(xb > xa))
        row = {"n": n, "rate": p, "lift": lift, "ours": round(ours, 4)}
        if gb is not None:
            row["gbstats"] = round(float(gb.chance_to_win), 4)
        rows.append({**row, "monte_carlo": round(mc, 4)})
    d_gb = [abs(r["ours"] - r["gbstats"]) for r in rows if "gbstats" in r]
    d_mc = [abs(r["ours"] - r["monte_carlo"]) for r in rows]
    return {
        "cases": len(rows),
        "vs_gbstats": (
            {"mean_abs": round(float(np.mean(d_gb)), 4), "max_abs": round(float(np.max(d_gb)), 4)}
            if d_gb
            else "gbstats is not installed (it pins pandas<2; `pip install gbstats` in a separate venv to compare)"
        ),
        "vs_monte_carlo": {"mean_abs": round(float(np.mean(d_mc)), 4), "max_abs": round(float(np.max(d_mc)), 4)},
        "rows": rows,
    }


def crew_run() -> dict[str, Any]:
    import stamina

    from venturegate.crews import CrewContext
    from venturegate.crews.stage17 import crew, demo
    from venturegate.engine import Actor, Engine

    lead, plan = Actor("lee", "lead"), Actor("pat", "plan")
    with tempfile.TemporaryDirectory() as d:
        os.environ["VENTUREGATE_CREW_ROOT"] = str(Path(d) / "crews")
        eng = Engine.open(f"sqlite:///{d}/vg.db")
        eng.create_venture("ledgerly", "b2b_smb", 17, actor=lead)
        for name, content in (("market_strategy", demo.strategy("ledgerly")),
                              ("customer_segments", demo.segments("ledgerly")),
                              ("marketing_channels", demo.channels("ledgerly"))):  # fmt: skip
            eng.put_artifact("ledgerly", name, content, actor=lead)
        timings = []
        began = time.perf_counter()
        with stamina.set_testing(False):
            steps: list[tuple[tuple[str, Actor], ...]] = [
                (),
                (("GTM strategy, channels and budget allocation approved", lead),),
                (("Campaign templates and schedules approved", plan), ("Campaign content approved", lead)),
            ]
            for attest in steps:
                for text, who in attest:
                    eng.attest("ledgerly", text, actor=who)
                t = time.perf_counter()
                got = crew.run(CrewContext(eng, "ledgerly", 17))
                timings.append({"status": got.status, "seconds": round(time.perf_counter() - t, 2)})
        total = time.perf_counter() - began
        gate = eng.check_gate("ledgerly", "exit")
        failing = [c.name for c in gate.checks if c.verdict != "pass"]
        eng.db.dispose()
    return {"runs": timings, "crew_seconds": round(sum(r["seconds"] for r in timings), 2),
            "wall_seconds": round(total, 2), "gate_checks_failing": failing}  # fmt: skip


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--out", default="benchmarks/gtm.json")
    args = ap.parse_args()
    started = time.perf_counter()
    days, seeds, sims = (30, 3, 200) if args.quick else (90, 20, 2000)
    result = {
        "machine": {"python": platform.python_version(), "cpus": os.cpu_count(), "load": os.getloadavg()},
        "regret": [regret(s, days, seeds) for s in SCENARIOS],
        "peeking": peeking(sims),
        "chance_to_beat": agreement(args.quick),
        "crew": crew_run(),
    }
    result["seconds"] = round(time.perf_counter() - started, 1)
    result["machine"]["load_end"] = os.getloadavg()
    Path(args.out).write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    print(json.dumps({k: v for k, v in result.items() if k != "chance_to_beat"}, indent=2))
    print(json.dumps({k: v for k, v in result["chance_to_beat"].items() if k != "rows"}, indent=2))


if __name__ == "__main__":
    main()
