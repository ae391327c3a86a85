"""Job queue: Redis against PostgreSQL (and the embedded SQLite queue), as `venturegate worker` runs them.

The scale path can queue wake-ups and crew jobs in Redis or in PostgreSQL (docs/deployment.md, "Queue"). This
script measures the difference with the worker's own setup: `venturegate.worker.make_huey` for each queue URL and
Huey's consumer with two thread workers. An idle SQLite or PostgreSQL queue is polled, first after 0.1 s, then
×1.15 longer each time, up to a maximum: Huey's default is 10 s, venturegate's `POLL_MAX_DELAY` (1 s); both are
run here, the default as the peer. Redis blocks on its list and does not poll. A no-op task records when it
started. Per queue and setting, in the same run:

1. burst: `--burst` tasks enqueued as fast as one client can (enqueue rate), then run by the two workers (the
   rate from the first enqueue to the last task's start);
2. after idle: `--rounds` rounds of tasks, each enqueued after the queue has been idle for 0.1, 1, 3, 10, 30
   and 70 s; the latency from enqueue to the task's start, and the interval the idle workers were polling at
   then (the shorter of the two workers': a task waits for the next poll). That is what a crew job or a
   wake-up waits after a quiet spell: a polled queue's interval has grown by then, a blocking one has none;
3. idle cost: what the idle consumer asks of the queue's server in `--idle` seconds (PostgreSQL: transactions
   committed in the queue's database, from `pg_stat_database`, whose backends flush their counts at most once
   a second, so use several seconds; Redis: commands, from `INFO commandstats`).

PostgreSQL gets a scratch database on the server of `--postgres` (dropped afterwards); Redis uses `--redis`
(a queue name of its own, flushed afterwards); SQLite a temporary file.

    .venv/bin/python benchmarks/job_queue.py --postgres postgresql://postgres@127.0.0.1:5432/postgres
    .venv/bin/python benchmarks/job_queue.py --quick      # smoke run: 200 tasks, gaps 0.1 and 1 s, 2 s idle
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import statistics
import tempfile
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import redis
from huey import Huey
from huey.consumer import Consumer
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from venturegate.worker import POLL_MAX_DELAY, make_huey

GAPS = (0.1, 1.0, 3.0, 10.0, 30.0, 70.0)
"""Idle gaps before the tasks of a round."""
QUICK_GAPS = (0.1, 1.0)
HUEY_MAX_DELAY = 10.0
"""Huey's own default for the longest wait between two polls (the peer setting)."""
WAIT_LIMIT = 120.0
"""The longest any phase waits for its tasks to start (a stuck queue fails the run instead of hanging it)."""


class Recorder:
    """When each task (by its number) started, written by the consumer's worker threads."""

    def __init__(self) -> None:
        self.started: dict[int, float] = {}
        self.done = threading.Condition()

    def touch(self, n: int) -> None:
        with self.done:
            self.started[n] = time.perf_counter()
            self.done.notify_all()

    def wait_for(self, count: int, limit: float = WAIT_LIMIT) -> None:
        """Block until `count` tasks have started; raise if `limit` seconds pass first."""
        deadline = time.monotonic() + limit
        with self.done:
            while len(self.started) < count:
                left = deadline - time.monotonic()
                if left <= 0:
                    raise TimeoutError(f"{len(self.started)} of {count} tasks started within {limit:g} s")
                self.done.wait(left)


def _ms(seconds: float) -> float:
    return round(seconds * 1000, 1)


def measure(
    name: str,
    huey: Huey,
    max_delay: float,
    idle_cost: Callable[[], float],
    burst: int,
    gaps: list[float],
    idle: float,
) -> dict[str, Any]:
    """The three phases on one queue, its consumer polling at most `max_delay` apart when idle."""
    rec = Recorder()
    touch = huey.task(name="bench.touch")(rec.touch)
    huey.flush()
    consumer = Consumer(huey, workers=2, periodic=False, max_delay=max_delay)
    consumer.start()
    try:
        touch(-1)  # warm-up: connections, the workers' first poll
        rec.wait_for(1)
        # 1. burst
        t0 = time.perf_counter()
        for n in range(burst):
            touch(n)
        enqueued = time.perf_counter() - t0
        rec.wait_for(1 + burst)
        ran = max(rec.started[n] for n in range(burst)) - t0
        # 2. after idle
        latencies: dict[float, list[float]] = {g: [] for g in gaps}
        intervals: dict[float, float] = {}
        for i, gap in enumerate(gaps):
            time.sleep(gap)
            if not huey.storage.blocking:  # the wait each worker is in (Huey grows `delay` after the wait)
                intervals[gap] = min(min(w.delay, w.max_delay) for w, _ in consumer.worker_threads)
            n = burst + i
            sent = time.perf_counter()
            touch(n)
            rec.wait_for(2 + burst + i)
            latencies[gap].append(rec.started[n] - sent)
        # 3. idle cost
        time.sleep(0.5)
        before = idle_cost()
        time.sleep(idle)
        asked = idle_cost() - before
    finally:
        consumer.stop(graceful=True)
        huey.flush()
    every = [x for v in latencies.values() for x in v]
    return {
        "queue": name,
        "poll_max_delay_s": None if huey.storage.blocking else max_delay,
        "burst": {
            "tasks": burst,
            "enqueued_per_s": round(burst / enqueued),
            "run_per_s": round(burst / ran),
        },
        "after_idle": {
            "tasks": len(every),
            "latency_ms_by_gap_s": {
                str(g): {"median": _ms(statistics.median(v)), "max": _ms(max(v))} for g, v in latencies.items() if v
            },
            "latency_ms_max": _ms(max(every)) if every else None,
            "poll_interval_s_by_gap_s": {str(g): round(v, 2) for g, v in intervals.items()} or None,
        },
        "idle": {"seconds": idle, "server_requests": round(asked), "per_s": round(asked / idle, 1)},
    }


@contextmanager
def postgres_queue(admin_url: str) -> Iterator[tuple[str, Callable[[], float]]]:
    """A scratch database for the queue; its URL and a counter of its committed and rolled-back transactions."""
    name = f"venturegate_queue_{os.getpid()}_{uuid.uuid4().hex[:6]}"
    admin = create_engine(make_url(admin_url).set(drivername="postgresql+psycopg"), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))

    def transactions() -> float:
        with admin.connect() as conn:
            conn.execute(text("SELECT pg_stat_clear_snapshot()"))
            got = conn.execute(
                text("SELECT xact_commit + xact_rollback FROM pg_stat_database WHERE datname = :n"), {"n": name}
            ).scalar_one()
        return float(got)

    url = make_url(admin_url).set(drivername="postgresql", database=name).render_as_string(hide_password=False)
    try:
        yield url, transactions
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def _tracked(database: Any) -> list[Any]:
    """The driver connections a peewee database opens from now on (to close those of the consumer's threads)."""
    opened: list[Any] = []
    connect = database._connect

    def tracking(*args: Any, **kwargs: Any) -> Any:
        conn = connect(*args, **kwargs)
        opened.append(conn)
        return conn

    database._connect = tracking
    return opened


def redis_commands(url: str) -> Callable[[], float]:
    """A counter of the commands the Redis server has run (all clients; the INFO call itself excluded)."""
    client = redis.Redis.from_url(url)

    def commands() -> float:
        stats = client.info("commandstats")
        return float(sum(v["calls"] for k, v in stats.items() if k != "cmdstat_info"))

    return commands


def run(postgres: str, redis_url: str, burst: int, gaps: list[float], idle: float) -> dict[str, Any]:
    """Every queue and setting, one after the other; the JSON document."""
    logging.getLogger("huey").setLevel(logging.WARNING)
    started = time.perf_counter()
    settings = (("huey default", HUEY_MAX_DELAY), ("venturegate", POLL_MAX_DELAY))
    results = [measure("redis", make_huey(redis_url), POLL_MAX_DELAY, redis_commands(redis_url), burst, gaps, idle)]
    for label, delay in settings:
        with postgres_queue(postgres) as (url, transactions):
            pg = make_huey(url)
            opened = _tracked(pg.storage.database)
            try:
                results.append(measure(f"postgresql ({label})", pg, delay, transactions, burst, gaps, idle))
            finally:
                for conn in opened:  # each consumer thread opened its own (peewee keeps them per thread)
                    conn.close()
    for label, delay in settings:
        with tempfile.TemporaryDirectory() as tmp:
            lite = make_huey(f"sqlite:///{tmp}/queue.db")
            results.append(measure(f"sqlite ({label})", lite, delay, lambda: 0.0, burst, gaps, idle))
    return {
        "benchmark": "job_queue",
        "consumer": "huey Consumer(workers=2, thread workers, first poll after 0.1 s, x1.15 backoff)",
        "idle_gaps_s": gaps,
        "results": results,
        "seconds": round(time.perf_counter() - started, 1),
        "load_average": [round(x, 2) for x in os.getloadavg()],
        "cpus": os.cpu_count(),
    }


def main() -> None:
    """Parse options, run, print JSON."""
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--postgres", default="postgresql://postgres@127.0.0.1:5432/postgres", help="an admin URL")
    ap.add_argument("--redis", default="redis://127.0.0.1:6379/14", help="the Redis queue's URL")
    ap.add_argument("--burst", type=int, default=2000, help="tasks in the burst phase")
    ap.add_argument("--rounds", type=int, default=1, help="rounds of tasks enqueued after idle gaps")
    ap.add_argument("--idle", type=float, default=10.0, help="seconds the idle cost is counted over")
    ap.add_argument("--quick", action="store_true", help="a smoke run: 200 tasks, gaps 0.1 and 1 s, 2 s idle")
    args = ap.parse_args()
    gaps = list(GAPS) * args.rounds
    if args.quick:
        args.burst, gaps, args.idle = 200, list(QUICK_GAPS), 2.0
    print(json.dumps(run(args.postgres, args.redis, args.burst, gaps, args.idle), indent=2))


if __name__ == "__main__":
    main()
