"""The dashboard's portfolio page with many ventures, and the JSON venture list as its peer in the same run.

A fresh SQLite file with the bundled lifecycle gets `--ventures` ventures (spread over eight stages
and four segments, every 50th paused, every 100th with a pending Chairman approval); the app
(`create_app`, the dashboard included) is driven in-process by Starlette's TestClient, logged in
through the login form like a browser.

1. portfolio: `GET /` (counts by stage / status / health, one page of 50 ventures, pending approvals,
   open escalations, recent firings), `--requests` times after two warm-ups; p50/p95/max in ms.
2. peer: `GET /api/ventures` (every venture as JSON) with a bearer token, the same number of times.
3. fragment: `GET /fragments/portfolio`, what htmx polls every 5 seconds.

    .venv/bin/python benchmarks/portfolio.py                 # 10,000 ventures
    .venv/bin/python benchmarks/portfolio.py --quick         # 500 ventures, a smoke run
"""

from __future__ import annotations

import argparse
import json
import os
import re
import statistics
import sys
import tempfile
import time
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

with warnings.catch_warnings():
    warnings.filterwarnings("ignore", message="Using `httpx` with `starlette.testclient` is deprecated")
    from starlette.testclient import TestClient

from venturegate.api import create_app
from venturegate.engine import Actor, Engine

LEAD = Actor("bench", "lead")
SEGMENTS = ("b2b_enterprise", "b2b_smb", "b2c_mass", "b2c_premium")
STAGES = (1, 5, 10, 14, 17, 19, 28, 30)


def seed(engine: Engine, n: int) -> float:
    """Create `n` ventures; returns the seconds it took."""
    start = time.perf_counter()
    for i in range(n):
        name = f"venture-{i:05d}"
        engine.create_venture(name, SEGMENTS[i % 4], STAGES[i % len(STAGES)], actor=LEAD)
        if i % 50 == 7:
            engine.pause(name, actor=LEAD, reason="benchmark")
        elif i % 100 == 3:
            engine.request_approval(name, "chairman", actor=LEAD, reason="benchmark")
    return time.perf_counter() - start


def timed(call: Callable[[], Any], n: int) -> dict[str, float]:
    """p50 / p95 / max of `n` calls in milliseconds (after two warm-ups)."""
    for _ in range(2):
        call()
    times = []
    for _ in range(n):
        t = time.perf_counter()
        call()
        times.append((time.perf_counter() - t) * 1000)
    times.sort()
    return {
        "p50_ms": round(statistics.median(times), 1),
        "p95_ms": round(times[max(0, round(0.95 * n) - 1)], 1),
        "max_ms": round(times[-1], 1),
    }


def main() -> None:
    """Run the benchmark and print its JSON."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--ventures", type=int, default=10_000)
    parser.add_argument("--requests", type=int, default=40)
    parser.add_argument("--quick", action="store_true", help="500 ventures, 10 requests")
    args = parser.parse_args()
    if args.quick:
        args.ventures, args.requests = 500, 10
    with tempfile.TemporaryDirectory() as tmp:
        engine = Engine.open(f"sqlite:///{Path(tmp) / 'vg.db'}")
        seeding = seed(engine, args.ventures)
        _, secret = engine.create_token("bench-chair", "chairman", actor=LEAD)
        with TestClient(create_app(engine)) as client:
            form = client.get("/login").text
            csrf = re.search(r'name="csrf" value="([^"]+)"', form)
            assert csrf is not None
            client.post("/login", data={"token": secret, "csrf": csrf.group(1)})

            def page() -> None:
                r = client.get("/")
                assert r.status_code == 200 and f"<b>{args.ventures:,}</b> ventures" in r.text, r.status_code

            def fragment() -> None:
                assert client.get("/fragments/portfolio").status_code == 200

            def peer() -> None:
                r = client.get("/api/ventures", headers={"Authorization": f"Bearer {secret}"})
                assert r.status_code == 200 and len(r.json()) == args.ventures

            size = len(client.get("/").content)
            results = {
                "portfolio_page": {**timed(page, args.requests), "bytes": size},
                "portfolio_fragment": timed(fragment, args.requests),
                "peer_api_ventures": timed(peer, args.requests),
            }
        engine.db.dispose()
    out = {
        "benchmark": "portfolio",
        "ventures": args.ventures,
        "requests": args.requests,
        "seed_seconds": round(seeding, 1),
        "goal_p95_ms": 200,
        **results,
        "meets_goal": results["portfolio_page"]["p95_ms"] < 200,
        "loadavg": [round(x, 2) for x in os.getloadavg()],
        "cpus": os.cpu_count(),
        "python": sys.version.split()[0],
    }
    print(json.dumps(out, indent=2))


if __name__ == "__main__":
    main()
