"""`/metrics` cost, and what scraping it every second does to sample ingestion (issue 17, M4).

A `venturegate serve --no-worker` process (uvicorn, one process) on a fresh SQLite file (or a scratch
PostgreSQL schema with --postgres URL) holds `--ventures` ventures at stage 28, each with a sample of
three metrics (so `/metrics` carries 3 × ventures `metric_latest` series). Three phases of
`--seconds` each send one-sample `POST /api/metrics` requests one at a time, paced every 20 ms:

1. quiet: nobody scrapes;
2. cached: a scraper on loopback fetches `/metrics` every second (`--cache-seconds`, default the
   server's default of 60 s; a phase should span at least two refreshes);
3. uncached: the same against a server started with `VENTUREGATE_METRICS_CACHE_SECONDS=0` (every
   scrape reads the database: the behaviour before the cache).

Reported: ingest p50/p95/p99 per phase, and each phase's scrape latencies as the scraper saw them.

    .venv/bin/python benchmarks/scrape.py --seconds 150      # 3,000 ventures, 150 s per phase
    .venv/bin/python benchmarks/scrape.py --postgres URL
    .venv/bin/python benchmarks/scrape.py --quick
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
import time
from pathlib import Path
from typing import Any

import aiohttp

from venturegate.engine import Actor, Engine, SampleIn

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from benchmarks._serve import scratch_database, serving

LEAD = Actor("bench", "lead")
VALUES = {"cache_hit_rate": 92.0, "cpu_utilization": 40.0, "memory_utilization": 50.0}


async def _phase(url: str, token: str, names: list[str], seconds: float, scrape: bool, tag: str) -> dict[str, Any]:
    ingest: list[float] = []
    scrapes: list[float] = []
    sizes: list[int] = []
    stop = time.monotonic() + seconds
    async with aiohttp.ClientSession() as http:

        async def writer() -> None:
            i = 0
            headers = {"Authorization": f"Bearer {token}"}
            while time.monotonic() < stop:
                body = {"venture": names[i % len(names)], "metric": "cache_hit_rate", "value": 91.0, "key": f"{tag}{i}"}
                start = time.perf_counter()
                async with http.post(f"{url}/api/metrics", json=body, headers=headers) as resp:
                    await resp.read()
                    if resp.status != 200:
                        raise RuntimeError(f"ingest: {resp.status}")
                ingest.append((time.perf_counter() - start) * 1000)
                i += 1
                await asyncio.sleep(0.02)

        async def scraper() -> None:
            while time.monotonic() < stop:
                start = time.perf_counter()
                async with http.get(f"{url}/metrics") as resp:
                    body = await resp.read()
                    if resp.status != 200:
                        raise RuntimeError(f"scrape: {resp.status}")
                took = time.perf_counter() - start
                scrapes.append(took * 1000)
                sizes.append(len(body))
                await asyncio.sleep(max(0.0, 1.0 - took))

        await asyncio.gather(writer(), *([scraper()] if scrape else []))
    out: dict[str, Any] = {"ingest_ms": _summary(ingest)}
    if scrapes:
        out["scrape_ms"] = _summary(scrapes)
        out["scrape_bytes"] = max(sizes)
    return out


def _summary(values: list[float]) -> dict[str, float]:
    ordered = sorted(values)

    def pct(q: float) -> float:
        return round(ordered[min(len(ordered) - 1, int(q * len(ordered)))], 2)

    return {"p50": pct(0.5), "p95": pct(0.95), "p99": pct(0.99), "max": round(ordered[-1], 2), "n": len(ordered)}


def run(args: argparse.Namespace, db_url: str) -> dict[str, Any]:
    """One backend: fill the portfolio, then the three phases."""
    engine = Engine.open(db_url)
    names = [engine.create_venture(f"v{i}", "b2b_smb", 28, actor=LEAD).name for i in range(args.ventures)]
    engine.record_samples([SampleIn(n, m, v) for n in names for m, v in VALUES.items()], actor=LEAD)
    token = engine.create_token("bench", "agent", actor=LEAD)[1]
    engine.db.dispose()
    phases: dict[str, Any] = {}
    cached = {"VENTUREGATE_METRICS_CACHE_SECONDS": str(args.cache_seconds)} if args.cache_seconds else {}
    with serving(db_url, cached, log_prefix="vg-scrape-bench-") as (url, _):
        phases["quiet"] = asyncio.run(_phase(url, token, names, args.seconds, False, "q"))
        phases["cached"] = asyncio.run(_phase(url, token, names, args.seconds, True, "c"))
    with serving(db_url, {"VENTUREGATE_METRICS_CACHE_SECONDS": "0"}, log_prefix="vg-scrape-bench-") as (url, _):
        phases["uncached"] = asyncio.run(_phase(url, token, names, args.seconds, True, "u"))
    quiet = phases["quiet"]["ingest_ms"]["p95"]
    return {
        "backend": "postgresql" if db_url.startswith("postgresql") else "sqlite",
        "ventures": args.ventures,
        "seconds_per_phase": args.seconds,
        "cache_seconds": args.cache_seconds or "default",
        **phases,
        "ingest_p95_change_cached": round(phases["cached"]["ingest_ms"]["p95"] / quiet - 1, 3),
        "ingest_p95_change_uncached": round(phases["uncached"]["ingest_ms"]["p95"] / quiet - 1, 3),
    }


def main() -> None:
    """Parse arguments, run on SQLite (and PostgreSQL when asked), print JSON."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--ventures", type=int, default=3_000)
    parser.add_argument("--seconds", type=float, default=30.0)
    parser.add_argument("--cache-seconds", type=float, help="The server's cache (default: its default).")
    parser.add_argument("--postgres", help="Also run on this PostgreSQL database (a scratch schema).")
    parser.add_argument("--quick", action="store_true", help="A smoke run.")
    args = parser.parse_args()
    if args.quick:
        args.ventures, args.seconds = 100, 3.0
    runs: list[dict[str, Any]] = []
    results: dict[str, Any] = {"load_average_start": [round(x, 2) for x in os.getloadavg()], "runs": runs}
    for backend in (None, args.postgres) if args.postgres else (None,):
        with scratch_database(backend) as url:
            runs.append(run(args, url))
    results["load_average_end"] = [round(x, 2) for x in os.getloadavg()]
    print(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
