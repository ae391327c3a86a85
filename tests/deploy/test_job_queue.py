"""benchmarks/job_queue.py at a small size: Redis, PostgreSQL and SQLite queues with both poll settings."""

from __future__ import annotations

import os

import pytest
from benchmarks.job_queue import run
from sqlalchemy.engine import make_url

from tests.conftest import PG_URL
from tests.worker.test_worker import _redis_up


def test_every_queue_runs_its_tasks_and_reports_the_figures(postgres_ok: bool) -> None:
    if not postgres_ok or not _redis_up():
        if os.environ.get("CI"):
            pytest.fail("PostgreSQL and Redis are required in CI (make test starts them)")
        pytest.skip("PostgreSQL or Redis not reachable")
    admin = make_url(PG_URL).set(drivername="postgresql", database="postgres").render_as_string(hide_password=False)
    doc = run(admin, "redis://127.0.0.1:6379/13", 30, [0.1, 0.3], 0.3)
    names = [r["queue"] for r in doc["results"]]
    assert names == [
        "redis",
        "postgresql (huey default)",
        "postgresql (venturegate)",
        "sqlite (huey default)",
        "sqlite (venturegate)",
    ]
    for r in doc["results"]:
        assert r["burst"]["tasks"] == 30 and r["burst"]["enqueued_per_s"] > 0 and r["burst"]["run_per_s"] > 0
        assert r["after_idle"]["tasks"] == 2 and set(r["after_idle"]["latency_ms_by_gap_s"]) == {"0.1", "0.3"}
        assert r["poll_max_delay_s"] == (None if r["queue"] == "redis" else 10.0 if "default" in r["queue"] else 1.0)
        polled = r["after_idle"]["poll_interval_s_by_gap_s"]
        if r["queue"] == "redis":
            assert polled is None  # it blocks on the list
        else:
            assert set(polled) == {"0.1", "0.3"} and all(0 < v <= r["poll_max_delay_s"] for v in polled.values())
    # The idle figures are not checked here: PostgreSQL's backends flush their statistics at most once a second
    # (up to 10 s when idle), so a 0.3 s window may show no transaction at all (a CI run saw 0).
    assert all(r["idle"]["server_requests"] >= 0 for r in doc["results"])
