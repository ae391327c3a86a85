"""Cost as data grows: gate check, single-sample trigger evaluation, venture show and the portfolio page for a
venture with 10^3, 10^5 (and, with --full, 10^7) samples, on SQLite and PostgreSQL.

The samples are generated straight into the store (one every 10 seconds up to now, so a bigger venture has a
longer history at the same density: 10^3 samples are 2.8 hours, 10^5 are 11.6 days, 10^7 are 3.2 years). The
workflow (`benchmarks/growth.yaml`) reads them through every kind of window: `delta` over 7 days and `rate`
over a day (the window's two ends), `avg`, `count` and `p95` over an hour, `last` and `age`. A 7-day window
holds 1,000 samples at 10^3 and 60,480 from 10^5 on: a read that scanned it would show.

Each figure is the median and p95 of `--repeat` calls after two warm-ups, in milliseconds:
- gate check: `Engine.check_gate` of the venture's exit gate (six window checks);
- trigger evaluation: `Engine.record_sample` of one sample, which judges the stage's three triggers;
- venture show: what `venturegate venture show` reads (venture, visits, substages, approvals, bypasses);
- venture page and portfolio: the dashboard's `GET /ventures/NAME` and `GET /`, in-process.

    .venv/bin/python benchmarks/growth.py                 # 10^3 and 10^5, both backends
    .venv/bin/python benchmarks/growth.py --full          # and 10^7 (minutes to generate)
    .venv/bin/python benchmarks/growth.py --full --plans --compare-index   # plans; the narrow index's timings too
    .venv/bin/python benchmarks/growth.py --interleaved 20   # the index comparison on 20 ventures' interleaved rows
    .venv/bin/python benchmarks/growth.py --quick         # 10^3 and 10^4, a smoke run
"""

from __future__ import annotations

import argparse
import io
import json
import os
import re
import statistics
import sys
import tempfile
import time
import warnings
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from functools import partial
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, TextClause, create_engine, text

with warnings.catch_warnings():
    warnings.filterwarnings("ignore", message="Using `httpx` with `starlette.testclient` is deprecated")
    from starlette.testclient import TestClient

from venturegate.api import create_app
from venturegate.engine import Actor, Engine

WORKFLOW = Path(__file__).resolve().parent / "growth.yaml"
LEAD = Actor("bench", "lead")
CHAIR = Actor("bench-chair", "chairman")
STEP = timedelta(seconds=10)
ADMIN_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"


def timed(call: Callable[[], Any], n: int) -> dict[str, float]:
    """p50 / p95 of `n` calls in milliseconds (after two warm-ups)."""
    for _ in range(2):
        call()
    times = []
    for _ in range(n):
        t = time.perf_counter()
        call()
        times.append((time.perf_counter() - t) * 1000)
    times.sort()
    return {"p50_ms": round(statistics.median(times), 2), "p95_ms": round(times[max(0, round(0.95 * n) - 1)], 2)}


def generate(engine: Engine, venture_ids: list[int], n: int, end: datetime) -> float:
    """Insert `n` samples of `quality` for each venture, one every 10 s up to `end`, straight into the store, the
    ventures' rows interleaved in time order (as ventures measured together are stored); the seconds it took.

    PostgreSQL: COPY in chunks of 200,000 rows, one transaction, then VACUUM ANALYZE (what autovacuum leaves in a
    steady state: the visibility map set, so index-only scans skip the heap). SQLite: the driver's executemany in
    transactions of 1,000,000 rows (the format the store writes: naive UTC, ISO with a space), then ANALYZE.
    """
    start = time.perf_counter()
    first = end - STEP * (n - 1)
    raw = engine.db.raw_connection()
    try:
        driver: Any = raw.driver_connection
        if engine.db.dialect.name == "postgresql":
            with driver.cursor() as cur:
                step = max(1, 200_000 // len(venture_ids))
                for lo in range(0, n, step):
                    buf = io.StringIO()
                    for i in range(lo, min(n, lo + step)):
                        at = (first + STEP * i).isoformat()
                        for vid in venture_ids:
                            buf.write(f"{vid}\tquality\t{50 + (i % 40)}\t{at}\tbench\t{at}\n")
                    with cur.copy("COPY samples (venture_id, metric, value, at, actor, recorded_at) FROM STDIN") as cp:
                        cp.write(buf.getvalue())
            driver.commit()
            driver.autocommit = True
            driver.execute("VACUUM ANALYZE samples")
            driver.autocommit = False
        else:
            base = first.astimezone(UTC).replace(tzinfo=None)
            sql = "INSERT INTO samples (venture_id, metric, value, at, actor, recorded_at) VALUES (?, ?, ?, ?, ?, ?)"
            for lo in range(0, n, 1_000_000 // len(venture_ids)):
                rows: list[tuple[Any, ...]] = []
                for i in range(lo, min(n, lo + 1_000_000 // len(venture_ids))):
                    at = (base + STEP * i).isoformat(" ", "microseconds")
                    rows.extend((vid, "quality", float(50 + (i % 40)), at, "bench", at) for vid in venture_ids)
                driver.execute("BEGIN IMMEDIATE")
                driver.executemany(sql, rows)
                driver.execute("COMMIT")
            driver.execute("ANALYZE")
    finally:
        raw.close()
    return time.perf_counter() - start


@contextmanager
def database(backend: str, tmp: Path, n: int, admin_url: str = ADMIN_URL) -> Iterator[str]:
    """A fresh database URL for one run."""
    if backend == "sqlite":
        yield f"sqlite:///{tmp / f'growth-{n}.db'}"
        return
    name = f"venturegate_growth_{os.getpid()}_{n}"
    admin = create_engine(admin_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield admin_url.rsplit("/", 1)[0] + "/" + name
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


HOT = {
    "last (ends of a 7d window)": "SELECT id, at, value FROM samples WHERE venture_id = :v AND metric = 'quality' "
    "AND at > :week AND at <= :now ORDER BY at DESC, id DESC LIMIT 1",
    "first (ends of a 7d window)": "SELECT id, at, value FROM samples WHERE venture_id = :v AND metric = 'quality' "
    "AND at > :week AND at <= :now ORDER BY at, id LIMIT 1",
    "stats (avg/count/min/max/sum, 1h)": "SELECT count(*), sum(value), min(value), max(value) FROM samples "
    "WHERE venture_id = :v AND metric = 'quality' AND at > :hour AND at <= :now",
    "stats (avg/count/min/max/sum, 7d)": "SELECT count(*), sum(value), min(value), max(value) FROM samples "
    "WHERE venture_id = :v AND metric = 'quality' AND at > :week AND at <= :now",
    "newest (percentiles, 1h, capped)": "SELECT at, value FROM samples WHERE venture_id = :v AND metric = 'quality' "
    "AND at > :hour AND at <= :now ORDER BY at DESC, id DESC LIMIT 10001",
}


def plans(engine: Engine, venture_id: int, now: datetime) -> dict[str, list[str]]:
    """The query plans of the hot window reads (PostgreSQL: EXPLAIN ANALYZE with buffers)."""
    pg = engine.db.dialect.name == "postgresql"
    params = {"v": venture_id, "now": now, "week": now - timedelta(days=7), "hour": now - timedelta(hours=1)}
    out = {}
    with engine.db.connect() as conn:
        for name, sql in HOT.items():
            explain = "EXPLAIN (ANALYZE, BUFFERS, COSTS OFF) " if pg else "EXPLAIN QUERY PLAN "
            rows = conn.execute(text(explain + sql), params).all()
            out[name] = [str(r[0]) if pg else str(r[-1]) for r in rows]
    return out


NARROW = "CREATE INDEX ix_samples_venture_metric_at ON samples (venture_id, metric, at)"
COVERING = "CREATE INDEX ix_samples_venture_metric_at ON samples (venture_id, metric, at, id, value)"


def aggregates(engine: Engine, venture_id: int, now: datetime, repeat: int) -> dict[str, dict[str, float]]:
    """The store's aggregate read (count, sum, min, max) over the last hour and the last 7 days, timed."""
    out = {}
    with engine.db.connect() as conn:
        for label, key, span in (
            ("aggregates_1h", "1h", timedelta(hours=1)),
            ("aggregates_7d", "7d", timedelta(days=7)),
        ):
            sql = text(HOT[f"stats (avg/count/min/max/sum, {key})"])
            params = {"v": venture_id, "now": now, "week": now - span, "hour": now - span}
            out[label] = timed(partial(_one, conn, sql, params), repeat)
    return out


def _one(conn: Connection, sql: TextClause, params: dict[str, Any]) -> None:
    conn.execute(sql, params).one()


def with_index(engine: Engine, create: str) -> None:
    """Replace the window index (to compare the narrow one with the covering one on the same data)."""
    with engine.db.begin() as conn:
        conn.execute(text("DROP INDEX ix_samples_venture_metric_at"))
        conn.execute(text(create))
        conn.execute(text("ANALYZE samples" if engine.db.dialect.name == "postgresql" else "ANALYZE"))


def measure(url: str, n: int, repeat: int, with_plans: bool = False, compare: bool = False) -> dict[str, Any]:
    """Generate `n` samples for one venture and time the reads (and, with `compare`, the narrow index's)."""
    engine = Engine.open(url, str(WORKFLOW))
    try:
        v = engine.create_venture("big", "b2b_smb", actor=LEAD)
        engine.create_venture("small", "b2b_smb", actor=LEAD)
        now = datetime.now(UTC)
        seconds = generate(engine, [v.id], n, now)
        _, secret = engine.create_token("bench-chair", "chairman", actor=CHAIR)
        keys = iter(range(10**9))
        result: dict[str, Any] = {"samples": n, "generate_s": round(seconds, 1)}
        if with_plans:
            result["plans"] = plans(engine, v.id, now)
        with engine.db.connect() as conn:  # the generated samples are where the store's reads look for them
            week = {"v": v.id, "now": now, "week": now - timedelta(days=7)}
            seen = conn.execute(text(HOT["stats (avg/count/min/max/sum, 7d)"]), week).one()[0]
        assert seen == min(n, 7 * 8640), (seen, n)
        result |= aggregates(engine, v.id, now, repeat)
        if compare:  # the same reads with the index before migration 0011, then the covering one back
            t = time.perf_counter()
            with_index(engine, NARROW)
            narrow: dict[str, Any] = {"build_s": round(time.perf_counter() - t, 1)}
            narrow |= aggregates(engine, v.id, now, repeat)
            narrow["plans"] = {k: w for k, w in plans(engine, v.id, now).items() if k.startswith("stats")}
            t = time.perf_counter()
            with_index(engine, COVERING)
            result["narrow_index"] = narrow
            result["covering_index_build_s"] = round(time.perf_counter() - t, 1)
            if engine.db.dialect.name == "postgresql":
                with engine.db.connect() as conn:
                    result["index_mb"] = round(
                        int(conn.execute(text("SELECT pg_relation_size('ix_samples_venture_metric_at')")).scalar_one())
                        / 1e6
                    )
        result["gate_check"] = timed(lambda: engine.check_gate(v.id, "exit"), repeat)
        result["trigger_evaluation"] = timed(
            lambda: engine.record_sample(v.id, "quality", 70.0, actor=LEAD, key=f"t{next(keys)}"), repeat
        )

        def show() -> None:
            engine.venture(v.id), engine.visits(v.id), engine.substages(v.id)
            engine.approvals(v.id, "pending"), engine.unreviewed_bypasses(v.id)

        result["venture_show"] = timed(show, repeat)
        with TestClient(create_app(engine)) as client:
            form = client.get("/login").text
            csrf = re.search(r'name="csrf" value="([^"]+)"', form)
            assert csrf is not None
            client.post("/login", data={"token": secret, "csrf": csrf.group(1)})
            result["venture_page"] = timed(lambda: _ok(client.get("/ventures/big")), repeat)
            result["portfolio_page"] = timed(lambda: _ok(client.get("/")), repeat)
        return result
    finally:
        engine.db.dispose()


OPS = (
    "gate_check",
    "trigger_evaluation",
    "venture_show",
    "venture_page",
    "portfolio_page",
    "aggregates_1h",
    "aggregates_7d",
)


def interleaved(url: str, ventures: int, n: int, repeat: int) -> dict[str, Any]:
    """The aggregates of one venture whose `n` samples are interleaved with `ventures - 1` others' (each heap page
    holds a few of its rows, as in a store where ventures are measured together), on the covering index and on
    the narrow one (before migration 0011)."""
    engine = Engine.open(url, str(WORKFLOW))
    try:
        ids = [engine.create_venture(f"v{i}", "b2b_smb", actor=LEAD).id for i in range(ventures)]
        now = datetime.now(UTC)
        result: dict[str, Any] = {"ventures": ventures, "samples_per_venture": n}
        result["generate_s"] = round(generate(engine, ids, n, now), 1)
        result["covering"] = aggregates(engine, ids[0], now, repeat)
        result["covering"]["plans"] = {k: w for k, w in plans(engine, ids[0], now).items() if k.startswith("stats")}
        with_index(engine, NARROW)
        result["narrow"] = aggregates(engine, ids[0], now, repeat)
        result["narrow"]["plans"] = {k: w for k, w in plans(engine, ids[0], now).items() if k.startswith("stats")}
        return result
    finally:
        engine.db.dispose()


def _ok(answer: Any) -> None:
    assert answer.status_code == 200, answer.status_code


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--full", action="store_true", help="Also 10^7 samples.")
    parser.add_argument("--repeat", type=int, default=30)
    parser.add_argument("--plans", action="store_true", help="Add the hot queries' plans at the largest size.")
    parser.add_argument("--backend", choices=["sqlite", "postgresql", "both"], default="both")
    parser.add_argument(
        "--compare-index",
        action="store_true",
        help="At the largest size, also time the aggregates on the narrow index.",
    )
    parser.add_argument(
        "--interleaved",
        type=int,
        default=0,
        metavar="V",
        help="Instead: compare the indexes on V ventures' interleaved samples (60,480 each: a full 7-day window).",
    )
    parser.add_argument("--postgres", default=ADMIN_URL, help="An admin URL of the PostgreSQL server to use.")
    parser.add_argument("--quick", action="store_true", help="A smoke run: 10^3 and 10^4 samples, 5 repeats.")
    args = parser.parse_args()
    sizes = [1_000, 100_000] + ([10_000_000] if args.full else [])
    if args.quick:
        sizes, args.repeat = [1_000, 10_000], 5
    backends = ["sqlite", "postgresql"] if args.backend == "both" else [args.backend]
    if args.interleaved:
        with tempfile.TemporaryDirectory() as tmp:
            found = {}
            for backend in backends:
                with database(backend, Path(tmp), 0, args.postgres) as url:
                    found[backend] = interleaved(url, args.interleaved, 7 * 8640, args.repeat)
        print(json.dumps({"benchmark": "growth --interleaved", "runs": found, "loadavg": os.getloadavg()}, indent=2))
        return
    runs: dict[str, list[dict[str, Any]]] = {}
    with tempfile.TemporaryDirectory() as tmp:
        for backend in backends:
            runs[backend] = []
            for n in sizes:
                with database(backend, Path(tmp), n, args.postgres) as url:
                    last = n == sizes[-1]
                    runs[backend].append(measure(url, n, args.repeat, args.plans and last, args.compare_index and last))
                    print(f"{backend} {n}: done", file=sys.stderr)
    ratios = {
        backend: {op: round(rows[-1][op]["p50_ms"] / rows[0][op]["p50_ms"], 2) for op in OPS}
        for backend, rows in runs.items()
    }
    out = {
        "benchmark": "growth",
        "runs": runs,
        f"p50 ratio {sizes[-1]:.0e} / {sizes[0]:.0e}": ratios,
        "goal": "each ratio <= 2",
        "loadavg": [round(x, 2) for x in os.getloadavg()],
        "cpus": os.cpu_count(),
        "python": sys.version.split()[0],
    }
    print(json.dumps(out, indent=2))


if __name__ == "__main__":
    main()
