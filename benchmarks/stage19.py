"""Stage-19 crew benchmark: findings per run on the project's target APIs, rate-limit error, full-run times.

Phases (each prints one JSON object; all together at the end):

1. **findings**: 19.1 (`run_apitester`) `--runs` times on each defective target and each clean target, with
   the same seed: planted defects found, false positives, and whether every run found the same set.
2. **rate limits**: discovery against limiters of different kinds and sizes (fixed window with
   X-RateLimit headers, token bucket with IETF RateLimit headers, fixed window without headers):
   measured vs true limit, relative error, probes, seconds.
3. **full runs**: the whole crew (three substages and the report) on the demo provider and on each
   defective target, one venture each, with the options below: seconds per run and its findings.

Run from the repository root: `.venv/bin/python benchmarks/stage19.py [--runs 5] [--skip-full]`.
Full-size load settings are the stage's parameters scaled to a benchmark (5 s per endpoint, 5 s ramp steps);
the defaults (5 min per endpoint) would take an hour per venture.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests.crews.stage19_targets import (
    CATALOG_KEY,
    LEDGER_TOKEN,
    FixedWindow,
    Target,
    clean,
    defective,
    ledger,
    notes,
)

from venturegate.crews.base import CrewContext
from venturegate.crews.stage19._http import Client
from venturegate.crews.stage19.apitester import run_apitester
from venturegate.crews.stage19.inputs import CredentialRef, Credentials, Integration
from venturegate.crews.stage19.ratelimit import discover_sync
from venturegate.engine import Actor, Engine

LEAD = Actor("bench", "lead")
AGENT = Actor("stage19", "agent", "agent")
ENV = {"bearer": "LEDGER_TOKEN", "api_key": "CATALOG_KEY"}
FULL: dict[str, Any] = {
    "max_examples": 10,
    "load_test.constant_duration": 5.0,
    "load_test.constant_ramp_up": 1.0,
    "load_test.ramp_step_duration": 5.0,
    "load_test.spike_duration": 9.0,
    "load_test.spike_repeats": 1,
    "sla_targets.latency_p95_ms": 250,
    "max_probe_rate": 400.0,
}


def _engine(folder: Path) -> Engine:
    return Engine.open(f"sqlite:///{folder / 'vg.db'}")


def findings(runs: int, folder: Path) -> dict[str, Any]:
    """19.1 on every target, `runs` times each."""
    eng = _engine(folder)
    eng.create_venture("bench", "b2b_smb", 19, actor=LEAD)
    out: dict[str, Any] = {}
    for variant, targets in (("defective", defective()), ("clean", clean())):
        for target in targets:
            sets, seconds = [], []
            for _ in range(runs):
                fresh = next(t for t in (defective() if variant == "defective" else clean()) if t.name == target.name)
                with fresh.running() as served:
                    integ = Integration(fresh.name, "t", "high", served.base_url, "s", fresh.auth, None, 40.0, 2000)
                    refs = {} if fresh.auth == "none" else {"k": CredentialRef("k", env=ENV[fresh.auth])}
                    client = Client(CrewContext(eng, "bench", 19, AGENT), integ, Credentials(fresh.name, refs),
                                    pace_s=1 / 20 if fresh.limiter else 0.0)  # fmt: skip
                    began = time.perf_counter()
                    result = run_apitester(client, fresh.spec, max_examples=10, checkpoint=lambda: None)
                    seconds.append(round(time.perf_counter() - began, 2))
                    client.close()
                sets.append(sorted({f.key for f in result.findings}))
            planted = {k for k in target.planted if k[0] not in ("slow_endpoint", "rate_limit")}
            out[f"{variant}/{target.name}"] = {
                "planted": len(planted),
                "found_per_run": [len(set(s) & planted) for s in sets],
                "false_positives_per_run": [len(set(s) - planted) for s in sets],
                "same_every_run": all(s == sets[0] for s in sets),
                "seconds_per_run": seconds,
            }
    eng.db.dispose()
    return out


def rate_limits() -> list[dict[str, Any]]:
    """Discovery error on limiters of different kinds and sizes."""
    plain = ledger(limit=None)
    plain.limiter, plain.true_limit = _NoHeaders(100), 100.0
    cases: list[tuple[str, Target, str]] = [
        ("fixed window 20/s, X-RateLimit-*", ledger(limit=20), "/health"),
        ("fixed window 150/s, X-RateLimit-*", ledger(limit=150), "/health"),
        ("token bucket 50/s burst 10, RateLimit-*", notes(rate=50.0), "/notes"),
        ("token bucket 200/s burst 10, RateLimit-*", notes(rate=200.0), "/notes"),
        ("fixed window 100/s, no headers", plain, "/health"),
    ]
    out = []
    for label, target, path in cases:
        with target.running() as served:
            found = discover_sync(served.base_url + path, start_rate=10.0, max_rate=600.0)
        true = float(target.true_limit or 0)
        err = None if found.limit_req_sec is None else round(100 * (found.limit_req_sec - true) / true, 2)
        out.append({"limiter": label, "true": true, "measured": found.limit_req_sec, "error_percent": err,
                    "bracket": found.bracket, "probes": len(found.probes), "seconds": found.seconds})  # fmt: skip
    return out


class _NoHeaders(FixedWindow):
    def take(self) -> tuple[bool, dict[str, str]]:
        ok, _ = super().take()
        return ok, {}


def full_runs(folder: Path) -> list[dict[str, Any]]:
    """The whole crew on the demo provider and on each defective target."""
    from tests.crews.test_stage19_targets import put_inputs

    from venturegate.crews.runner import queue_job, run_job
    from venturegate.crews.stage19.demo import TOKEN_ENV
    from venturegate.crews.stage19.demo import put_inputs as put_demo
    from venturegate.crews.stage19.demo_target import DEMO_TOKEN, DemoTarget

    os.environ.update({TOKEN_ENV: DEMO_TOKEN, "VENTUREGATE_CREW_ROOT": str(folder)})
    eng = _engine(folder)
    out = []

    def run(name: str) -> dict[str, Any]:
        job = queue_job(eng, name, 19, dict(FULL), actor=LEAD)
        began = time.perf_counter()
        done = run_job(eng, job.id)
        result = done.result or {}
        summary = result.get("summary", {})
        return {"venture": name, "seconds": round(time.perf_counter() - began, 1), "status": result.get("status"),
                "findings": summary.get("findings", []), "outcome": summary.get("outcome")}  # fmt: skip

    eng.create_venture("demo", "b2b_smb", 19, actor=LEAD)
    with DemoTarget().running() as demo:
        put_demo(eng, "demo", demo.base_url)
        out.append(run("demo"))
    for target in defective():
        eng.create_venture(target.name, "b2b_smb", 19, actor=LEAD)
        with target.running() as served:
            put_inputs(eng, target.name, {target.name: (target, served.base_url)})
            out.append({**run(target.name), "planted": len(target.planted)})
    eng.db.dispose()
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--skip-full", action="store_true")
    parser.add_argument("--phases", default="findings,rates,full", help="comma-separated: findings, rates, full")
    args = parser.parse_args()
    os.environ.update({"LEDGER_TOKEN": LEDGER_TOKEN, "CATALOG_KEY": CATALOG_KEY})
    report: dict[str, Any] = {}
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        phases = set(args.phases.split(","))
        if "findings" in phases:
            report["findings"] = findings(args.runs, folder)
            print(json.dumps({"findings": report["findings"]}), flush=True)
        if "rates" in phases:
            report["rate_limits"] = rate_limits()
            print(json.dumps({"rate_limits": report["rate_limits"]}), flush=True)
        if "full" in phases and not args.skip_full:
            report["full_runs"] = full_runs(folder)
            print(json.dumps({"full_runs": report["full_runs"]}), flush=True)
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
