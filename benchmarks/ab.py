"""Before/after: run one benchmark at two git revisions, interleaved, and compare their figures.

Each revision is checked out into a temporary worktree (its `src/` on PYTHONPATH, this checkout's `.venv`);
the rounds alternate A, B, A, B… so that a change in the machine's load falls on both. Prints JSON with every
round's figures, the median per revision and the ratio B ÷ A per figure (for `_per_s` figures higher is
better; for `_ms` and `cpu` figures lower is better).

    .venv/bin/python benchmarks/ab.py 7c5c7bf HEAD --bench detection --rounds 3
    .venv/bin/python benchmarks/ab.py 7c5c7bf HEAD --bench api --rounds 3
    .venv/bin/python benchmarks/ab.py 7c5c7bf HEAD --rounds 1 -- --quick     # arguments for the benchmark
    .venv/bin/python benchmarks/ab.py 7c5c7bf HEAD --bench detection -- --postgres URL   # pg_ figures too
    .venv/bin/python benchmarks/ab.py 7c5c7bf HEAD --bench concurrency -- --postgres URL --clients 1,8
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent

Figures = dict[str, float]


def _detection(doc: dict[str, Any]) -> Figures:
    figures: Figures = {}
    for run in doc["results"]:  # SQLite, then PostgreSQL with --postgres URL (its figures prefixed `pg_`)
        prefix = "" if run["backend"] == "sqlite" else "pg_"
        figures |= {
            f"{prefix}ingest_samples_per_s": run["ingest"]["samples_per_s"],
            f"{prefix}ingest_cpu_s": run["ingest"]["client_cpu_seconds"],
            f"{prefix}detection_p50_ms": run["detection"]["p50"],
            f"{prefix}detection_p99_ms": run["detection"]["p99"],
            f"{prefix}process_per_s": run["process"]["process_per_s"],
            f"{prefix}process_cpu_s": run["process"]["client_cpu_seconds"],
        }
    return figures


def _concurrency(doc: dict[str, Any]) -> Figures:
    figures: Figures = {}
    for run in doc["results"]:  # one per N; the SpiffWorkflow peer ran in the same run
        n = run["clients"]
        figures |= {
            f"n{n}_process_per_s": run["process"]["processes_per_s"],
            f"n{n}_process_clients_cpu_s": run["process"]["clients_cpu_s"],
            f"n{n}_detection_p99_ms": run["process"]["detection_ms"]["p99"],
            f"n{n}_spiff_process_per_s": run["spiffworkflow"]["processes_per_s"],
            f"n{n}_ingest_samples_per_s": run["ingest"]["samples_per_s"],
        }
    return figures


def _api(doc: dict[str, Any]) -> Figures:
    run = doc["runs"][0]
    return {
        "api_batched_samples_per_s": run["api_batched_samples_per_s"],
        "server_cpu_ms_per_batch": run["server_cpu_ms_per_batch"],
        "single_sample_p50_ms": run["single_sample_ms"]["p50"],
        "single_sample_p99_ms": run["single_sample_ms"]["p99"],
    }


BENCHES: dict[str, tuple[str, Callable[[dict[str, Any]], Figures]]] = {
    "detection": ("benchmarks/detection.py", _detection),
    "api": ("benchmarks/api.py", _api),
    "concurrency": ("benchmarks/concurrency.py", _concurrency),
}


def _run(tree: Path, script: str, extra: list[str], pick: Callable[[dict[str, Any]], Figures]) -> Figures:
    env = {**os.environ, "PYTHONPATH": str(tree / "src")}
    # The benchmark script of this checkout runs against each tree's code: the workload stays the same.
    done = subprocess.run(
        [sys.executable, str(ROOT / script), *extra], env=env, capture_output=True, text=True, check=True
    )
    return pick(json.loads(done.stdout))


def main() -> None:
    """Run the rounds and print the comparison."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("before", help="git revision A")
    ap.add_argument("after", help="git revision B")
    ap.add_argument("--bench", choices=sorted(BENCHES), default="detection")
    ap.add_argument("--rounds", type=int, default=3)
    argv = sys.argv[1:]
    extra = argv[argv.index("--") + 1 :] if "--" in argv else []
    opts = ap.parse_args(argv[: len(argv) - len(extra) - (1 if extra or "--" in argv else 0)])
    script, pick = BENCHES[opts.bench]
    rounds: dict[str, list[Figures]] = {"A": [], "B": []}
    with tempfile.TemporaryDirectory() as tmp:
        trees = {}
        for label, rev in (("A", opts.before), ("B", opts.after)):
            tree = Path(tmp) / label
            subprocess.run(["git", "-C", str(ROOT), "worktree", "add", "-q", "--detach", str(tree), rev], check=True)
            trees[label] = tree
        try:
            for _ in range(opts.rounds):
                for label in ("A", "B"):
                    rounds[label].append(_run(trees[label], script, extra, pick))
        finally:
            for tree in trees.values():
                subprocess.run(["git", "-C", str(ROOT), "worktree", "remove", "--force", str(tree)], check=False)
    medians = {label: {k: statistics.median(r[k] for r in runs) for k in runs[0]} for label, runs in rounds.items()}
    ratio = {k: round(medians["B"][k] / medians["A"][k], 3) if medians["A"][k] else None for k in medians["A"]}
    print(
        json.dumps(
            {
                "benchmark": opts.bench,
                "before": opts.before,
                "after": opts.after,
                "rounds": rounds,
                "median": medians,
                "after_over_before": ratio,
                "load_average_at_end": os.getloadavg(),
            },
            indent=2,
        )
    )


if __name__ == "__main__":
    main()
