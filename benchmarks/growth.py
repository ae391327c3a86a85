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
from pathlib import Path
from typing import Any

from sqlalchemy import create_engine, insert, text

with warnings.catch_warnings():
    warnings.filterwarnings("ignore", message="Using `httpx` with `starlette.testclient` is deprecated")
    from starlette.testclient import TestClient

from venturegate.api import create_app
from venturegate.engine import Actor, Engine
from venturegate.store.schema import samples

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


def generate(engine: Engine, venture_id: int, n: int, end: datetime) -> float:
    """Insert `n` samples of `quality`, one every 10 s up to `end`, straight into the store; the seconds it took."""
    start = time.perf_counter()
    first = end - STEP * (n - 1)
    if engine.db.dialect.name == "postgresql":
        raw = engine.db.raw_connection()
        try:
            driver: Any = raw.driver_connection
            with driver.cursor() as cur:
                for lo in range(0, n, 200_000):
                    buf = io.StringIO()
                    for i in range(lo, min(n, lo + 200_000)):
                        at = (first + STEP * i).isoformat()
                        buf.write(f"{venture_id}\tquality\t{50 + (i % 40)}\t{at}\tbench\t{at}\n")
                    with cur.copy("COPY samples (venture_id, metric, value, at, actor, recorded_at) FROM STDIN") as cp:
                        cp.write(buf.getvalue())
            driver.commit()
        finally:
            raw.close()
        with engine.db.begin() as conn:
            conn.execute(text("ANALYZE samples"))
    else:
        with engine.db.begin() as conn:
            for lo in range(0, n, 50_000):
                conn.execute(
                    insert(samples),
                    [
                        {
                            "venture_id": venture_id,
                            "metric": "quality",
                            "value": float(50 + (i % 40)),
                            "at": first + STEP * i,
                            "actor": "bench",
                            "recorded_at": first + STEP * i,
                        }
                        for i in range(lo, min(n, lo + 50_000))
                    ],
                )
            conn.execute(text("ANALYZE"))
    return time.perf_counter() - start


@contextmanager
def database(backend: str, tmp: Path, n: int) -> Iterator[str]:
    """A fresh database URL for one run."""
    if backend == "sqlite":
        yield f"sqlite:///{tmp / f'growth-{n}.db'}"
        return
    name = f"venturegate_growth_{os.getpid()}_{n}"
    admin = create_engine(ADMIN_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield ADMIN_URL.rsplit("/", 1)[0] + "/" + name
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


def measure(url: str, n: int, repeat: int, with_plans: bool = False) -> dict[str, Any]:
    """Generate `n` samples for one venture and time the four reads."""
    engine = Engine.open(url, str(WORKFLOW))
    try:
        v = engine.create_venture("big", "b2b_smb", actor=LEAD)
        engine.create_venture("small", "b2b_smb", actor=LEAD)
        now = datetime.now(UTC)
        seconds = generate(engine, v.id, n, now)
        _, secret = engine.create_token("bench-chair", "chairman", actor=CHAIR)
        keys = iter(range(10**9))
        result: dict[str, Any] = {"samples": n, "generate_s": round(seconds, 1)}
        if with_plans:
            result["plans"] = plans(engine, v.id, now)
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


def _ok(answer: Any) -> None:
    assert answer.status_code == 200, answer.status_code


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--full", action="store_true", help="Also 10^7 samples.")
    parser.add_argument("--repeat", type=int, default=30)
    parser.add_argument("--plans", action="store_true", help="Add the hot queries' plans at the largest size.")
    parser.add_argument("--backend", choices=["sqlite", "postgresql", "both"], default="both")
    args = parser.parse_args()
    sizes = [1_000, 100_000] + ([10_000_000] if args.full else [])
    backends = ["sqlite", "postgresql"] if args.backend == "both" else [args.backend]
    runs: dict[str, list[dict[str, Any]]] = {}
    with tempfile.TemporaryDirectory() as tmp:
        for backend in backends:
            runs[backend] = []
            for n in sizes:
                with database(backend, Path(tmp), n) as url:
                    runs[backend].append(measure(url, n, args.repeat, args.plans and n == sizes[-1]))
                    print(f"{backend} {n}: done", file=sys.stderr)
    ratios = {
        backend: {
            op: round(rows[-1][op]["p50_ms"] / rows[0][op]["p50_ms"], 2)
            for op in ("gate_check", "trigger_evaluation", "venture_show", "venture_page", "portfolio_page")
        }
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
