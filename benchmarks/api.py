"""REST API throughput and latency through uvicorn on loopback, with two peers in the same run.

The server is `venturegate serve --no-worker` (uvicorn, one process) on a fresh SQLite file (or a
scratch PostgreSQL schema with --postgres URL) running the bundled lifecycle, with `--ventures`
ventures at stage 28. The client is aiohttp in this process.

1. batched: `POST /api/metrics` with batches of `--batch` samples (unique idempotency keys, three
   metrics that triggers read), `--concurrency` requests in flight; samples/s = samples / wall time,
   and the server's CPU time per batch (less distorted than wall time on a busy machine).
2. engine peer: the same batches through `Engine.record_samples` in this process (no HTTP, no JSON),
   so 1 − engine/API is the HTTP cost; its CPU time per batch against the server's. The inputs of
   both phases are built first and frozen (`gc.freeze()`, as `serve` does with its startup heap).
3. single: `--singles` one-sample requests, one at a time; latency p50/p99 as the client sees it.
4. bare peer: `GET /api/health` (the token check skipped, one query) at the same pace: the
   floor a request costs in this stack.

    .venv/bin/python benchmarks/api.py                       # 100,000 samples in batches of 5,000
    .venv/bin/python benchmarks/api.py --postgres URL
    .venv/bin/python benchmarks/api.py --quick               # smoke run
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import aiohttp

from venturegate.engine import Actor, Engine, SampleIn

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from benchmarks._serve import scratch_database, serving

LEAD = Actor("bench", "lead")
METRICS = ("cache_hit_rate", "cpu_utilization", "memory_utilization")
"""Stage 28 metrics that its triggers read (values that fire nothing, so the run measures ingestion)."""
VALUES = {"cache_hit_rate": 92.0, "cpu_utilization": 40.0, "memory_utilization": 50.0}


def _cpu_seconds(pid: int) -> float:
    """CPU time (user + system) a process has used so far, from /proc (Linux)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _batches(names: list[str], total: int, size: int, tag: str) -> list[list[dict[str, Any]]]:
    rows = [
        {
            "venture": names[i % len(names)],
            "metric": METRICS[i % len(METRICS)],
            "value": VALUES[METRICS[i % len(METRICS)]],
            "key": f"{tag}-{i}",
        }
        for i in range(total)
    ]
    return [rows[i : i + size] for i in range(0, total, size)]


async def _post_batches(url: str, token: str, lanes: list[list[list[dict[str, Any]]]]) -> float:
    """Send each lane's batches in order, the lanes concurrently; the wall time."""
    headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
    async with aiohttp.ClientSession(headers=headers) as http:

        async def lane(batches: list[list[dict[str, Any]]]) -> None:
            for batch in batches:
                async with http.post(f"{url}/api/metrics", data=json.dumps({"samples": batch})) as resp:
                    got = await resp.json()
                    if resp.status != 200 or got["recorded"] != len(batch):
                        raise RuntimeError(f"{resp.status}: {str(got)[:300]}")

        start = time.perf_counter()
        await asyncio.gather(*(lane(b) for b in lanes))
        return time.perf_counter() - start


async def _latencies(url: str, token: str, path: str, bodies: list[dict[str, Any]] | None, n: int) -> list[float]:
    headers = {"Authorization": f"Bearer {token}"}
    out = []
    async with aiohttp.ClientSession(headers=headers) as http:
        for i in range(n):
            start = time.perf_counter()
            if bodies is None:
                async with http.get(f"{url}{path}") as resp:
                    await resp.read()
            else:
                async with http.post(f"{url}{path}", json=bodies[i]) as resp:
                    await resp.read()
            if resp.status != 200:
                raise RuntimeError(f"{path}: {resp.status}")
            out.append((time.perf_counter() - start) * 1000)
    return out


def _pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return round(ordered[min(len(ordered) - 1, int(q * len(ordered)))], 2)


def run(args: argparse.Namespace, db_url: str) -> dict[str, Any]:
    """One backend: set up, serve, measure the four phases."""
    engine = Engine.open(db_url)
    names = [engine.create_venture(f"v{i}", "b2b_smb", 28, actor=LEAD).name for i in range(args.ventures)]
    token = engine.create_token("bench", "agent", actor=LEAD)[1]
    try:
        with serving(db_url, log_prefix="vg-api-bench-") as (url, proc):
            return _measure(args, engine, names, token, url, proc)
    finally:
        engine.db.dispose()


def _measure(
    args: argparse.Namespace, engine: Engine, names: list[str], token: str, url: str, proc: subprocess.Popen[bytes]
) -> dict[str, Any]:
    """The four phases against a running server."""
    try:
        warm = _batches(names, args.batch, args.batch, "warm")
        asyncio.run(_post_batches(url, token, [warm]))
        # Each connection writes its own ventures (as each crew would): overlapping batches would only
        # measure lock waits (and on PostgreSQL meet the engine's timer-update deadlock, see docs).
        share = args.samples // args.concurrency
        lanes = [_batches(names[k :: args.concurrency], share, args.batch, f"api{k}") for k in range(args.concurrency)]
        peer = _batches(names, args.samples, args.batch, "engine")
        # The inputs stay alive for the whole run: frozen, the collector's full passes in either phase skip them
        # (the server freezes its own startup heap the same way).
        gc.collect()
        gc.freeze()
        cpu = _cpu_seconds(proc.pid)
        wall = asyncio.run(_post_batches(url, token, lanes))
        api_rate = args.samples / wall
        server_cpu = _cpu_seconds(proc.pid) - cpu

        start, cpu = time.perf_counter(), time.process_time()
        for b in peer:
            engine.record_samples(
                [SampleIn(r["venture"], r["metric"], r["value"], None, r["key"]) for r in b], actor=LEAD
            )
        engine_rate = args.samples / (time.perf_counter() - start)
        engine_cpu = time.process_time() - cpu

        singles = [
            {"venture": names[i % len(names)], "metric": "cache_hit_rate", "value": 91.0, "key": f"one-{i}"}
            for i in range(args.singles)
        ]
        single = asyncio.run(_latencies(url, token, "/api/metrics", singles, args.singles))
        bare = asyncio.run(_latencies(url, token, "/api/health", None, args.singles))
    finally:
        gc.unfreeze()
    return {
        "backend": "postgresql" if engine.db.dialect.name == "postgresql" else "sqlite",
        "samples": args.samples,
        "batch": args.batch,
        "concurrency": args.concurrency,
        "ventures": args.ventures,
        "api_batched_samples_per_s": round(api_rate),
        "engine_peer_samples_per_s": round(engine_rate),
        "http_share_of_batch_time": round(1 - api_rate / engine_rate, 3),
        "server_cpu_ms_per_batch": round(server_cpu * 1000 * args.batch / args.samples, 1),
        "engine_peer_cpu_ms_per_batch": round(engine_cpu * 1000 * args.batch / args.samples, 1),
        "single_sample_ms": {"p50": _pct(single, 0.5), "p99": _pct(single, 0.99), "n": len(single)},
        "bare_health_ms": {"p50": _pct(bare, 0.5), "p99": _pct(bare, 0.99), "n": len(bare)},
    }


def main() -> None:
    """Parse arguments, run on SQLite (and PostgreSQL when asked), print JSON."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--samples", type=int, default=100_000)
    parser.add_argument("--batch", type=int, default=5_000)
    parser.add_argument("--concurrency", type=int, default=2)
    parser.add_argument("--ventures", type=int, default=20)
    parser.add_argument("--singles", type=int, default=1_000)
    parser.add_argument("--postgres", help="Also run on this PostgreSQL database (a scratch schema).")
    parser.add_argument("--quick", action="store_true", help="A smoke run.")
    args = parser.parse_args()
    if args.quick:
        args.samples, args.batch, args.singles, args.ventures = 4_000, 1_000, 50, 4
    runs: list[dict[str, Any]] = []
    results: dict[str, Any] = {"load_average_start": [round(x, 2) for x in os.getloadavg()], "runs": runs}
    for backend in (None, args.postgres) if args.postgres else (None,):
        with scratch_database(backend) as url:
            runs.append(run(args, url))
    results["load_average_end"] = [round(x, 2) for x in os.getloadavg()]
    print(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
