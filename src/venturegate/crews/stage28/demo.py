"""The stage-28 demo: the defective shop on the throwaway PostgreSQL (pg_stat_statements, hypopg) and a private
Redis, a venture at stage 28, and one crew run — baseline, cache, index, a rejected tunable — with its figures.

`services()` starts what the scene needs: the stage-28 PostgreSQL through `scripts/pg-stage28.sh` (it
installs hypopg when missing and never touches the machine's 5432 server) and a redis-server of
its own on a free port (so Redis `INFO` counts the shop's cache alone). The shop's database is named after the
demo folder (`demo_database`) and dropped at the end of the scene, so two demos at once (`make demo` while the
tests run the scenes) never rebuild each other's tables.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import socket
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import psycopg
import redis
from psycopg import sql
from rich.console import Console

from venturegate.crews.paths import ROOT_ENV
from venturegate.crews.runner import queue_job, run_job
from venturegate.crews.stage28.demo_target import ShopProcess, prepare_database
from venturegate.crews.stage28.inputs import grant_target, put_entry_inputs
from venturegate.crews.stage28.target import DATABASE_ENV, REDIS_ENV
from venturegate.engine import Actor, Engine

LEAD = Actor("lee", "lead")
SCRIPT = Path(__file__).resolve().parents[4] / "scripts" / "pg-stage28.sh"
DEMO_OPTIONS = {"rate": 25, "seconds": 5, "tunables": "pool_size=1; throttle_ms=40"}
"""A short run: 125 requests per measurement. `pool_size=1` is the operator's proposal to save connections
(one database connection for the whole service), which the crew measures and rejects."""


class ServicesMissing(RuntimeError):
    """The stage-28 PostgreSQL or Redis could not be started."""


def postgres_url(database: str = "stage28") -> str:
    """A database of the stage-28 PostgreSQL (created if missing): on `VENTUREGATE_TEST_PERF_POSTGRES_URL`'s
    server, or on the script's cluster (started)."""
    given = os.environ.get("VENTUREGATE_TEST_PERF_POSTGRES_URL")
    url = given or _script_url()
    base, _, _ = url.rpartition("/")
    with psycopg.connect(f"{base}/postgres", autocommit=True) as conn:
        if conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (database,)).fetchone() is None:
            conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(database)))
    return f"{base}/{database}"


def demo_database(workdir: Path) -> str:
    """The scene's shop database: one per demo folder (`stage28_demo_` and 8 hex characters of its path)."""
    return "stage28_demo_" + hashlib.sha256(str(workdir.resolve()).encode()).hexdigest()[:8]


def drop_database(url: str) -> None:
    """Drop the database `url` names (its sessions ended first), if it exists."""
    base, _, database = url.rpartition("/")
    with psycopg.connect(f"{base}/postgres", autocommit=True) as conn:
        conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(database)))


def _script_url() -> str:
    if not SCRIPT.exists():
        raise ServicesMissing(f"{SCRIPT} not found: run the demo from a source checkout (make demo)")
    got = subprocess.run(["bash", str(SCRIPT), "start"], capture_output=True, text=True, timeout=300, check=False)
    if got.returncode != 0:
        raise ServicesMissing(f"the stage-28 PostgreSQL did not start: {got.stderr.strip()[-400:]}")
    return got.stdout.strip().splitlines()[-1]


@contextmanager
def private_redis(folder: Path) -> Iterator[str]:
    """A redis-server on a free loopback port, stopped at the end."""
    binary = shutil.which("redis-server")
    if binary is None:
        raise ServicesMissing("redis-server is not installed (scripts/services.sh installs it)")
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = int(s.getsockname()[1])
    folder.mkdir(parents=True, exist_ok=True)
    cmd = [binary, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"]
    proc = subprocess.Popen([*cmd, "--dir", str(folder)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"redis://127.0.0.1:{port}/0"
    client = redis.Redis.from_url(url)
    try:
        for _ in range(200):
            try:
                client.ping()
                break
            except redis.ConnectionError:
                time.sleep(0.05)
        else:
            raise ServicesMissing(f"redis-server did not answer on port {port}")
        yield url
    finally:
        client.close()
        proc.terminate()
        proc.wait(5)


@contextmanager
def _environment(values: dict[str, str]) -> Iterator[None]:
    before = {k: os.environ.get(k) for k in values}
    os.environ.update(values)
    try:
        yield
    finally:
        for k, v in before.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


def run_crew(
    engine: Engine, venture: str, shop: ShopProcess, options: dict[str, Any], sink: Any = None
) -> dict[str, Any]:
    """Queue and run the stage-28 crew for `venture` on `shop`; the job's result summary with its status."""
    opts = {"base_url": shop.base_url, "pid": shop.pid, "config_file": str(shop.config), **options}
    job = queue_job(engine, venture, 28, opts, actor=LEAD)
    finished = run_job(engine, job.id, sink=sink)
    result = finished.result or {}
    return {
        "job": finished.id,
        "status": finished.status,
        "error": finished.error,
        **result.get("summary", {}),
        "fired": result.get("fired", []),
        "artifacts": result.get("artifacts", []),
    }


def run_stage28_demo(engine: Engine, console: Console, workdir: Path) -> dict[str, Any]:
    """One crew run on the defective shop for a new stage-28 venture; prints and returns what happened."""
    started = time.perf_counter()
    console.rule("[bold]Stage 28 — Performance Optimization")
    db = postgres_url(demo_database(workdir))
    try:
        got = _scene(engine, console, workdir, db)
    finally:
        drop_database(db)
    got["wall_seconds"] = round(time.perf_counter() - started, 1)
    return got


def _scene(engine: Engine, console: Console, workdir: Path, db: str) -> dict[str, Any]:
    from rich.progress import Progress

    prepare_database(db)
    name = f"perf-demo-{int(time.time())}"
    engine.create_venture(name, "b2c_mass", 28, actor=LEAD)
    crews = workdir / "crews"
    env = {DATABASE_ENV: db, ROOT_ENV: str(crews)}
    with (
        private_redis(workdir / "redis") as redis_url,
        _environment({**env, REDIS_ENV: redis_url}),
        ShopProcess(db, redis_url, crews / "shop.json", "all") as shop,
    ):
        console.print(
            f"Shop at {shop.base_url} (pid {shop.pid}) with an N+1 query, no index on orders.customer_id "
            "(120k orders), an uncached aggregate and a hot Python loop"
        )
        opts = {"base_url": shop.base_url, "pid": shop.pid, "config_file": str(shop.config)}
        refs = put_entry_inputs(engine, name, opts, actor=LEAD, root=crews, requests=40)
        grant_target(engine, name, db, redis_url, actor=LEAD)
        console.print(f"  entry inputs measured and stored: {', '.join(refs)} → {engine.venture(name).status}")
        with Progress(console=console, transient=True) as bar:
            task = bar.add_task("stage 28", total=None)

            def sink(step: str, done: int, total: int, message: str) -> None:
                bar.update(task, completed=done, total=total, description=f"{step} — {message}")

            got = run_crew(engine, name, shop, DEMO_OPTIONS, sink)
    console.print(f"  baseline p95 {got.get('baseline_p95_ms')} ms → final p95 {got.get('final_p95_ms')} ms")
    console.print(
        f"  cache hit rate predicted {got.get('predicted_hit_rate')}% → measured {got.get('measured_hit_rate')}%"
    )
    for change in got.get("changes", []):
        colour = "green" if change["verdict"] == "kept" else "yellow"
        console.print(
            f"  [{colour}]{change['verdict']}[/{colour}] {change['technique']}: {str(change['hot_path'])[:70]} "
            f"({change.get('measured_on')}: {change['before_ms']} → {change['after_ms']} ms)"
        )
    for line in got.get("rollbacks", []):
        console.print(f"  [yellow]↩[/yellow] {line}")
    console.print(f"  outcome: {got.get('outcome')}  (report: {got.get('report')})")
    got["venture"] = name
    return got


def bench_run(*, orders: int, rate: float, seconds: float) -> dict[str, Any]:
    """The benchmark's full crew run (SQLite engine in a temporary folder); the run's figures and wall time."""
    import tempfile

    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        engine = Engine.open(f"sqlite:///{folder / 'vg.db'}")
        try:
            db = postgres_url("stage28_bench")
            prepare_database(db, orders=orders)
            engine.create_venture("bench", "b2c_mass", 28, actor=LEAD)
            env = {DATABASE_ENV: db, ROOT_ENV: str(folder / "crews")}
            with (
                private_redis(folder / "redis") as redis_url,
                _environment({**env, REDIS_ENV: redis_url}),
                ShopProcess(db, redis_url, folder / "crews" / "shop.json", "all") as shop,
            ):
                opts = {"base_url": shop.base_url, "pid": shop.pid, "config_file": str(shop.config)}
                put_entry_inputs(engine, "bench", opts, actor=LEAD, root=folder / "crews")
                grant_target(engine, "bench", db, redis_url, actor=LEAD)
                t0 = time.perf_counter()
                got = run_crew(
                    engine,
                    "bench",
                    shop,
                    {"rate": rate, "seconds": seconds, "tunables": "pool_size=1; throttle_ms=40"},
                )
                got["crew_seconds"] = round(time.perf_counter() - t0, 1)
        finally:
            engine.db.dispose()
    return got
