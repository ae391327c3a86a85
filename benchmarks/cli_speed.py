"""How fast simple CLI reads answer, against a bare `python -c pass` in the same run.

A fresh SQLite workspace gets one venture with a few samples (the bundled lifecycle); each command runs
`--runs` times as a new process (what a person at a terminal waits for), after one warm-up run that
fills the workflow cache and compiles the bytecode (as an installed package has it). Prints JSON with the
median and the best wall time per command, in ms, and the median CPU time (steady under load).

    .venv/bin/python benchmarks/cli_speed.py
    .venv/bin/python benchmarks/cli_speed.py --runs 3     # a smoke run
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

GOAL_MS = 300.0


def wall(cmd: list[str], env: dict[str, str], runs: int, *, check: bool = True) -> dict[str, float]:
    """Median and best wall time of `runs` runs of `cmd`, in ms (after one warm-up), and its median CPU time.

    CPU time (user + system of the child) hardly moves with the machine's load, so on a shared machine it
    says what the wall time would be on a quiet one; the wall time is what a person waits for.
    """
    subprocess.run(cmd, env=env, check=check, capture_output=True)
    times, cpu = [], []
    for _ in range(runs):
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        start = time.perf_counter()
        subprocess.run(cmd, env=env, check=check, capture_output=True)
        times.append((time.perf_counter() - start) * 1000)
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        cpu.append((after.ru_utime - before.ru_utime + after.ru_stime - before.ru_stime) * 1000)
    return {
        "median_ms": round(statistics.median(times), 1),
        "best_ms": round(min(times), 1),
        "cpu_median_ms": round(statistics.median(cpu), 1),
    }


def main() -> None:
    """Run the benchmark and print its JSON."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=10)
    args = parser.parse_args()
    vg = str(Path(sys.executable).parent / "venturegate")
    with tempfile.TemporaryDirectory() as tmp:
        db = str(Path(tmp) / "vg.db")
        env = {**os.environ, "VENTUREGATE_CACHE_DIR": str(Path(tmp) / "cache"), "VENTUREGATE_ACTOR": "bench:lead"}
        # An installed package has its bytecode compiled; a checkout run with PYTHONDONTWRITEBYTECODE (as here)
        # would compile every venturegate module on every call. Bytecode goes to the temporary folder.
        env.pop("PYTHONDONTWRITEBYTECODE", None)
        env["PYTHONPYCACHEPREFIX"] = str(Path(tmp) / "pycache")
        base = [vg, "--db", db]
        subprocess.run(
            [*base, "venture", "create", "acme", "--segment", "b2b_smb"], env=env, check=True, capture_output=True
        )
        for i in range(5):
            subprocess.run(
                [*base, "metric", "record", "acme", "idea_quality_score", str(60 + i), "--key", f"k{i}"],
                env=env,
                check=False,
                capture_output=True,
            )
        commands = {
            "python -c pass": [sys.executable, "-c", "pass"],
            "venture list": [*base, "venture", "list"],
            "venture show": [*base, "venture", "show", "acme"],
            "gate check": [*base, "gate", "check", "acme", "--json"],
            "metric record": [*base, "metric", "record", "acme", "idea_quality_score", "70", "--key", "same"],
        }
        results = {}
        for name, cmd in commands.items():
            if name == "gate check":
                proc = subprocess.run(cmd, env=env, capture_output=True, check=False)
                assert proc.returncode in (0, 3), proc.stderr
                cmd = [*cmd[:-1], "--json"]
                results[name] = wall(cmd, env, args.runs, check=False)  # exits 3 when the gate fails
            else:
                results[name] = wall(cmd, env, args.runs)
    bare = results["python -c pass"]["median_ms"]
    report = {
        "runs": args.runs,
        "results": results,
        "over_bare_python_ms": {k: round(v["median_ms"] - bare, 1) for k, v in results.items()},
        "cpu_over_bare_python_ms": {
            k: round(v["cpu_median_ms"] - results["python -c pass"]["cpu_median_ms"], 1) for k, v in results.items()
        },
        "goal_ms": GOAL_MS,
        "meets_goal": all(v["median_ms"] < GOAL_MS for k, v in results.items() if k != "python -c pass"),
        "meets_goal_on_cpu": all(v["cpu_median_ms"] < GOAL_MS for k, v in results.items() if k != "python -c pass"),
        "loadavg": [round(x, 2) for x in os.getloadavg()],
        "cpus": os.cpu_count(),
    }
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
