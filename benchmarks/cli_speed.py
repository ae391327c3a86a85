"""How fast simple CLI reads answer, cold and through the warm CLI server, against `python -c pass` in the same run.

A fresh SQLite workspace gets one venture with a few samples (the bundled lifecycle). Each command runs
`--runs` times as a new process (what a person at a terminal waits for), after one warm-up run that fills the
workflow cache and compiles the bytecode (as an installed package has it), in two ways:
- cold: `VENTUREGATE_CLI_SERVER=0`, the command imports and runs in its own process (what a script's first
  call, or anyone with the server off, pays);
- warm: through the CLI server (`cli-server start` first, `cli-server stop` at the end), the client hands the
  command to a forked child of the server.

The process run is the console script pip writes for `venturegate` (`from venturegate.cli.client import main`),
made in the run's temporary folder, so the figures hold for the checkout being measured even when the
installed script is older. Prints JSON: per command the median and best wall time in ms, the median CPU time
of the process run (steady under load) and, warm, the mean CPU time of the server's child per command.

    .venv/bin/python benchmarks/cli_speed.py
    .venv/bin/python benchmarks/cli_speed.py --runs 3     # a smoke run
"""

from __future__ import annotations

import argparse
import json
import os
import re
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

GOAL_MS = 300.0
SCRIPT = "import sys\nfrom venturegate.cli.client import main\nif __name__ == '__main__':\n    sys.exit(main())\n"
"""What pip writes for the `venturegate` console script."""


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


def server_status(vg: list[str], env: dict[str, str]) -> tuple[int, float]:
    """The server's command count and its finished children's CPU seconds (after its children are reaped)."""
    for _ in range(200):
        text = subprocess.run([*vg, "cli-server", "status"], env=env, capture_output=True, text=True).stdout
        found = re.search(r"(\d+) command\(s\), (\d+) running, children's CPU ([\d.]+) s", text)
        if found is None:
            raise SystemExit(f"no CLI server: {text}")
        if found[2] == "0":
            return int(found[1]), float(found[3])
        time.sleep(0.05)
    raise SystemExit("the CLI server kept children running")


def main() -> None:
    """Run the benchmark and print its JSON."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=10)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        script = Path(tmp) / "venturegate"
        script.write_text(SCRIPT, encoding="utf-8")
        vg = [sys.executable, str(script)]
        db = str(Path(tmp) / "vg.db")
        env = {**os.environ, "VENTUREGATE_CACHE_DIR": str(Path(tmp) / "cache"), "VENTUREGATE_ACTOR": "bench:lead"}
        # An installed package has its bytecode compiled; a checkout run with PYTHONDONTWRITEBYTECODE (as here)
        # would compile every venturegate module on every call. Bytecode goes to the temporary folder.
        env.pop("PYTHONDONTWRITEBYTECODE", None)
        env["PYTHONPYCACHEPREFIX"] = str(Path(tmp) / "pycache")
        cold = env | {"VENTUREGATE_CLI_SERVER": "0"}
        warm = env | {"VENTUREGATE_CLI_SERVER": "1"}
        base = [*vg, "--db", db]
        subprocess.run(
            [*base, "venture", "create", "acme", "--segment", "b2b_smb"], env=cold, check=True, capture_output=True
        )
        for i in range(5):
            subprocess.run(
                [*base, "metric", "record", "acme", "idea_quality_score", str(60 + i), "--key", f"k{i}"],
                env=cold,
                check=False,
                capture_output=True,
            )
        commands = {
            "venture list": [*base, "venture", "list"],
            "venture show": [*base, "venture", "show", "acme"],
            "gate check": [*base, "gate", "check", "acme", "--json"],
            "metric record": [*base, "metric", "record", "acme", "idea_quality_score", "70", "--key", "same"],
        }
        results: dict[str, dict[str, dict[str, float]]] = {"cold": {}, "warm": {}}
        bare = [sys.executable, "-c", "pass"]
        results["cold"]["python -c pass"] = wall(bare, env, args.runs)
        for name, cmd in commands.items():  # `gate check` exits 3 while the gate fails
            results["cold"][name] = wall(cmd, cold, args.runs, check=name != "gate check")
        subprocess.run([*vg, "cli-server", "start"], env=warm, check=True, capture_output=True)
        try:
            results["warm"]["python -c pass"] = wall(bare, env, args.runs)
            for name, cmd in commands.items():
                served, child_cpu = server_status(vg, warm)
                results["warm"][name] = wall(cmd, warm, args.runs, check=name != "gate check")
                served_after, child_cpu_after = server_status(vg, warm)
                if served_after - served != args.runs + 1:
                    raise SystemExit(f"{name}: the server ran {served_after - served} of {args.runs + 1} commands")
                results["warm"][name]["server_child_cpu_mean_ms"] = round(
                    (child_cpu_after - child_cpu) * 1000 / (args.runs + 1), 1
                )
        finally:
            subprocess.run([*vg, "cli-server", "stop"], env=warm, check=False, capture_output=True)

    def over(mode: str, key: str) -> dict[str, float]:
        peer = results[mode]["python -c pass"][key]
        return {k: round(v[key] - peer, 1) for k, v in results[mode].items() if k != "python -c pass"}

    def meets(mode: str, key: str) -> bool:
        return all(v[key] < GOAL_MS for k, v in results[mode].items() if k != "python -c pass")

    report = {
        "runs": args.runs,
        "results": results,
        "over_bare_python_ms": {mode: over(mode, "median_ms") for mode in results},
        "cpu_over_bare_python_ms": {mode: over(mode, "cpu_median_ms") for mode in results},
        "goal_ms": GOAL_MS,
        "meets_goal": {mode: meets(mode, "median_ms") for mode in results},
        "meets_goal_on_cpu": {
            "cold": meets("cold", "cpu_median_ms"),
            "warm": all(
                v["cpu_median_ms"] + v["server_child_cpu_mean_ms"] < GOAL_MS
                for k, v in results["warm"].items()
                if k != "python -c pass"
            ),
        },
        "loadavg": [round(x, 2) for x in os.getloadavg()],
        "cpus": os.cpu_count(),
    }
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
