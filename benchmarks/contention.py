"""SQLite under write contention (issue 17, M2): `--writers` processes writing to one file for `--seconds`.

Each writer process opens its own engine on the same SQLite file (the bundled lifecycle) and, in a
loop, records a batch of `--batch` samples for its own venture (one transaction each, like a busy
API client). Every call's latency is kept. Reported per writer: calls, p50/p99/max latency; overall:
the slowest call and the fewest calls any writer made.

`--legacy` restores the driver's own busy handler for the whole wait (`PRAGMA busy_timeout=30000`,
what the store did before): waiters sleep in ever longer steps and the writer that just committed
wins again, which is the unfairness measured in the issue.

    .venv/bin/python benchmarks/contention.py                 # 6 writers, 30 s
    .venv/bin/python benchmarks/contention.py --legacy
    .venv/bin/python benchmarks/contention.py --quick
"""

from __future__ import annotations

import argparse
import json
import multiprocessing as mp
import os
import tempfile
import time
from pathlib import Path
from typing import Any

from sqlalchemy import event

from venturegate.definitions.loader import load_workflow
from venturegate.engine import Actor, Engine, SampleIn
from venturegate.store.database import connect, ensure_schema

LEAD = Actor("bench", "lead")


def writer(url: str, name: str, seconds: float, batch: int, legacy: bool, start_at: float, out: Any) -> None:
    """One writer process: record batches for `name` until the time is up; send back each call's seconds."""
    db = connect(url)
    if legacy:

        @event.listens_for(db, "connect")
        def _driver_waits(dbapi_connection: Any, _record: Any) -> None:
            dbapi_connection.execute("PRAGMA busy_timeout=30000")

    ensure_schema(db)
    engine = Engine(db, load_workflow(None))
    latencies: list[float] = []
    errors = 0
    while time.time() < start_at:
        time.sleep(0.001)
    stop = time.monotonic() + seconds
    i = 0
    while time.monotonic() < stop:
        samples = [SampleIn(name, "cache_hit_rate", 90.0 + (k % 5), None, f"{name}-{i}-{k}") for k in range(batch)]
        t0 = time.monotonic()
        try:
            engine.record_samples(samples, actor=LEAD)
        except Exception:  # a busy timeout: counted, the writer carries on
            errors += 1
        latencies.append(time.monotonic() - t0)
        i += 1
    db.dispose()
    out.put({"writer": name, "latencies": latencies, "errors": errors})


def _pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return round(ordered[min(len(ordered) - 1, int(q * len(ordered)))] * 1000, 1)


def run(writers: int, seconds: float, batch: int, legacy: bool) -> dict[str, Any]:
    """Start the writers together on a fresh file; their calls, summarised."""
    with tempfile.TemporaryDirectory() as tmp:
        url = f"sqlite:///{Path(tmp) / 'contention.db'}"
        setup = Engine.open(url)
        names = [setup.create_venture(f"w{i}", "b2b_smb", 28, actor=LEAD).name for i in range(writers)]
        setup.db.dispose()
        ctx = mp.get_context("spawn")
        out = ctx.Queue()
        start_at = time.time() + 3.0  # every process imported and connected before the clock starts
        procs = [ctx.Process(target=writer, args=(url, n, seconds, batch, legacy, start_at, out)) for n in names]
        for p in procs:
            p.start()
        got = [out.get(timeout=seconds + 120) for _ in procs]
        for p in procs:
            p.join(timeout=30)
    per = [
        {
            "writer": g["writer"],
            "calls": len(g["latencies"]),
            "busy_timeouts": g["errors"],
            "p50_ms": _pct(g["latencies"], 0.5),
            "p99_ms": _pct(g["latencies"], 0.99),
            "max_ms": _pct(g["latencies"], 1.0),
        }
        for g in sorted(got, key=lambda g: str(g["writer"]))
    ]
    every = [x for g in got for x in g["latencies"]]
    return {
        "mode": "legacy driver wait" if legacy else "backoff with jitter",
        "writers": writers,
        "seconds": seconds,
        "batch": batch,
        "calls": len(every),
        "max_call_ms": _pct(every, 1.0),
        "p99_call_ms": _pct(every, 0.99),
        "fewest_calls_by_a_writer": min(w["calls"] for w in per),
        "most_calls_by_a_writer": max(w["calls"] for w in per),
        "per_writer": per,
    }


def main() -> None:
    """Parse arguments, run, print JSON."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--writers", type=int, default=6)
    parser.add_argument("--seconds", type=float, default=30.0)
    parser.add_argument("--batch", type=int, default=100)
    parser.add_argument("--legacy", action="store_true", help="The driver's own busy handler (before the fix).")
    parser.add_argument("--quick", action="store_true", help="A smoke run: 3 writers, 3 s.")
    args = parser.parse_args()
    if args.quick:
        args.writers, args.seconds = 3, 3.0
    result: dict[str, Any] = {"load_average_start": [round(x, 2) for x in os.getloadavg()]}
    result.update(run(args.writers, args.seconds, args.batch, args.legacy))
    result["load_average_end"] = [round(x, 2) for x in os.getloadavg()]
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
