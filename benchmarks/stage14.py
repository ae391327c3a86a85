"""Stage-14 crew figures: prints JSON.

Run: `.venv/bin/python benchmarks/stage14.py [--sizes 50,100,200,500] [--seeds 3] [--solver-seconds 10]`.

1. A full crew run on the demo venture (SQLite engine, the machine's PostgreSQL and Redis, checkov on):
   the crew's own seconds across the four runs of the demo story (hadolint rejection, provisioning and
   planning, after EXEC's attestation, after the RACI approvals). Peer: the studio's 13 days by hand.
2. Sprint packing on generated backlogs of 50-500 stories (dependencies, three skills, four people):
   CP-SAT against the greedy first-fit peer: sprints used, capacity utilisation, gap, seconds.
3. Monte Carlo calibration on synthetic histories: how often the P85 sprint count covers the outcome of
   the true process the history was drawn from; the crew's double bootstrap against the plain bootstrap.
"""

from __future__ import annotations

import argparse
import json
import random
import shutil
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

from venturegate.crews.stage14.backlog import Story
from venturegate.crews.stage14.forecast import simulate
from venturegate.crews.stage14.packing import Member, first_fit, optimise


def crew_run() -> dict[str, Any]:
    """The demo story through the crew; seconds per run and in total."""
    from venturegate.crews import CrewContext
    from venturegate.crews.stage14 import crew, demo, onboarding
    from venturegate.crews.stage14.provision import EnvironmentRequest, LocalDriver, workspace_tag
    from venturegate.engine import Actor, Engine

    folder = Path(tempfile.mkdtemp(prefix="vg-bench14-"))
    engine = Engine.open(f"sqlite:///{folder / 'vg.db'}")
    options = {"resource_prefix": "vgbench", "probe_seconds": 3.0, "probe_interval": 0.25}
    exec_ = Actor("bench-exec", "exec")
    runs = []
    try:
        demo.enter(engine, "acme", base_image="python:latest")

        def run(label: str) -> None:
            t0 = time.perf_counter()
            result = crew.run(CrewContext(engine, "acme", 14, options=options, output_root=folder / "crews"))
            runs.append(
                {
                    "run": label,
                    "status": result.status,
                    "seconds": round(time.perf_counter() - t0, 2),
                    "outcome": result.summary["outcome"][:120],
                }
            )

        run("plan v1 (hadolint rejects it)")
        engine.put_artifact("acme", "technical_plan", demo.plan("acme"), actor=demo.LEAD)
        run("plan v2: generate, verify, provision, team, sprint plan")
        engine.attest("acme", "CI/CD pipeline reviewed and operational", actor=exec_)
        run("after EXEC's attestation")
        for m in onboarding.show(engine, "acme")["members"]:
            onboarding.update(engine, "acme", m["id"], actor=Actor(m["id"], "lead"), approve_raci=True)
        engine.attest("acme", "RACI matrix reviewed with the team lead", actor=exec_)
        run("after the RACI approvals")
    finally:
        vid = engine.venture("acme").id
        for env in ("dev", "staging"):
            LocalDriver().teardown(
                EnvironmentRequest(vid, env, 0, prefix="vgbench", workspace=workspace_tag(engine.db.url))
            )
        engine.db.dispose()
        shutil.rmtree(folder, ignore_errors=True)
    total = sum(r["seconds"] for r in runs)
    return {
        "runs": runs,
        "crew_seconds": round(total, 2),
        "studio_days_by_hand": 13,
        "speedup_vs_13_working_days": round(13 * 8 * 3600 / total),
    }


def backlog(n: int, seed: int) -> tuple[list[Story], list[Member]]:
    """A generated backlog: 1-13 point stories, up to two prerequisites among the previous 30, three skills."""
    rng = random.Random(seed)
    stories = []
    for i in range(n):
        window = list(range(max(0, i - 30), i))
        deps = tuple(f"s{j}" for j in rng.sample(window, min(len(window), rng.choice([0, 0, 1, 1, 2]))))
        stories.append(
            Story(
                f"s{i}",
                f"story {i}",
                rng.choice([1, 2, 3, 3, 5, 5, 8]),
                rng.choice(["must", "should", "could"]),
                ("criterion",),
                deps,
                "e",
                rng.choice([None, "py", "py", "web", "ops"]),
            )
        )
    team = [
        Member("a", 13, frozenset({"py"})),
        Member("b", 13, frozenset({"py", "web"})),
        Member("c", 10, frozenset({"web"})),
        Member("d", 10, frozenset({"ops", "py"})),
    ]
    return stories, team


def packing(sizes: list[int], seeds: int, seconds: float) -> list[dict[str, Any]]:
    """CP-SAT vs first-fit per size (means over seeds)."""
    rows = []
    for n in sizes:
        per = []
        for seed in range(seeds):
            stories, team = backlog(n, seed)
            by_id = {s.id: s for s in stories}
            greedy = first_fit(stories, team)
            best = optimise(stories, team, seconds=seconds)
            per.append(
                {
                    "greedy_sprints": greedy.sprints_used,
                    "cpsat_sprints": best.sprints_used,
                    "greedy_util": greedy.utilisation(by_id, team),
                    "cpsat_util": best.utilisation(by_id, team),
                    "gap": best.gap if best.gap is not None else float("nan"),
                    "status": best.status,
                    "greedy_s": greedy.seconds,
                    "cpsat_s": best.seconds,
                }
            )
        rows.append(
            {
                "stories": n,
                "seeds": seeds,
                "first_fit": {
                    "sprints": statistics.mean(p["greedy_sprints"] for p in per),
                    "utilisation_percent": round(statistics.mean(p["greedy_util"] for p in per), 2),
                    "seconds": round(statistics.mean(p["greedy_s"] for p in per), 4),
                },
                "cp_sat": {
                    "sprints": statistics.mean(p["cpsat_sprints"] for p in per),
                    "utilisation_percent": round(statistics.mean(p["cpsat_util"] for p in per), 2),
                    "gap_mean": round(statistics.mean(p["gap"] for p in per), 4),
                    "statuses": sorted({p["status"] for p in per}),
                    "seconds": round(statistics.mean(p["cpsat_s"] for p in per), 2),
                },
                "fewer_sprints_than_first_fit": sum(p["cpsat_sprints"] < p["greedy_sprints"] for p in per),
            }
        )
    return rows


def calibration(trials: int, cases: int) -> list[dict[str, Any]]:
    """P85 coverage of the double bootstrap and the plain bootstrap, per history length and spread."""
    rows = []
    rng = np.random.default_rng(2026)
    for length in (4, 6, 12):
        for cv in (0.15, 0.3):
            shape = 1 / cv**2
            double, plain = [], []
            for _ in range(cases):
                mean = rng.uniform(15, 40)
                history = list(rng.gamma(shape, mean / shape, size=length))
                points = float(rng.uniform(5, 12) * mean)
                needed, _ = simulate(points, history, 0, trials=trials, seed=int(rng.integers(1 << 30)))
                p85 = int(np.percentile(needed, 85, method="inverted_cdf"))
                draws = np.random.default_rng(int(rng.integers(1 << 30))).choice(history, size=(trials, 200))
                plain_needed = (np.cumsum(draws, axis=1) >= points).argmax(axis=1) + 1
                plain85 = int(np.percentile(plain_needed, 85, method="inverted_cdf"))
                truth = (np.cumsum(rng.gamma(shape, mean / shape, size=(500, 200)), axis=1) >= points).argmax(
                    axis=1
                ) + 1
                double.append(float(np.mean(truth <= p85)))
                plain.append(float(np.mean(truth <= plain85)))
            rows.append(
                {
                    "history_sprints": length,
                    "velocity_cv": cv,
                    "cases": cases,
                    "double_bootstrap_p85_coverage": round(statistics.mean(double), 4),
                    "plain_bootstrap_p85_coverage": round(statistics.mean(plain), 4),
                }
            )
    return rows


def main() -> None:
    """Run the three parts and print JSON."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", default="50,100,200,500")
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--solver-seconds", type=float, default=10.0)
    parser.add_argument("--cases", type=int, default=200)
    parser.add_argument("--skip-crew", action="store_true")
    args = parser.parse_args()
    out: dict[str, Any] = {}
    if not args.skip_crew:
        out["crew"] = crew_run()
    out["packing"] = packing([int(s) for s in args.sizes.split(",")], args.seeds, args.solver_seconds)
    out["calibration"] = calibration(4000, args.cases)
    print(json.dumps(out, indent=2))


if __name__ == "__main__":
    main()
