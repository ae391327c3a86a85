"""Real services for the stage-28 tests: the throwaway PostgreSQL with pg_stat_statements and hypopg
(`scripts/pg-stage28.sh`, started here when it is not running), a private Redis on a free port (so
`INFO` counters are the test's alone), and the demo shop as a child process."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import psycopg
import pytest
import redis
from psycopg import sql

from venturegate.crews.stage28 import database
from venturegate.crews.stage28.demo_target import ShopProcess, prepare_database

ROOT = Path(__file__).resolve().parents[3]


@pytest.fixture(scope="session")
def pg28() -> str:
    """The stage-28 PostgreSQL URL (the script is idempotent: it starts the cluster only when it is down)."""
    given = os.environ.get("VENTUREGATE_TEST_PERF_POSTGRES_URL")
    if given:
        return given
    got = subprocess.run(
        ["bash", str(ROOT / "scripts" / "pg-stage28.sh"), "start"], capture_output=True, text=True, timeout=300
    )
    if got.returncode != 0:
        pytest.fail(f"the stage-28 PostgreSQL did not start: {got.stderr[-800:]}")
    return got.stdout.strip().splitlines()[-1]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="session")
def redis28(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A private redis-server on a free loopback port."""
    binary = shutil.which("redis-server")
    if binary is None:
        pytest.fail("redis-server is not installed (scripts/services.sh installs it)")
    port = _free_port()
    folder = tmp_path_factory.mktemp("redis28")
    proc = subprocess.Popen(
        [binary, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no", "--dir", str(folder)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"redis://127.0.0.1:{port}/0"
    client = redis.Redis.from_url(url)
    for _ in range(100):
        try:
            client.ping()
            break
        except redis.ConnectionError:
            time.sleep(0.05)
    client.close()
    yield url
    proc.terminate()
    proc.wait(5)


@pytest.fixture(scope="session")
def shop_db(pg28: str) -> str:
    """The shop's tables, filled once per session (120k orders, no customer_id index), and the profiler's
    extensions (a fresh cluster has none until a crew run creates them; a test may measure before any does)."""
    prepare_database(pg28)
    with database.connect(pg28) as conn:
        database.check_extensions(conn)
    return pg28


@pytest.fixture
def shop(shop_db: str, redis28: str, tmp_path: Path) -> Iterator[Callable[..., ShopProcess]]:
    """Start shops with chosen defects (stopped at the end); the cache keys are flushed first."""
    started: list[ShopProcess] = []

    def start(defects: str = "all") -> ShopProcess:
        redis.Redis.from_url(redis28).flushdb()
        with psycopg.connect(shop_db, autocommit=True) as conn:  # indexes an earlier test's crew built
            for (name,) in conn.execute("SELECT indexname FROM pg_indexes WHERE indexname LIKE 'vg28%%'").fetchall():
                conn.execute(sql.SQL("DROP INDEX IF EXISTS {}").format(sql.Identifier(name)))
        proc = ShopProcess(shop_db, redis28, tmp_path / f"shop-{len(started)}.json", defects)
        started.append(proc)
        return proc

    yield start
    for proc in started:
        proc.stop()
