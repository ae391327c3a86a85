"""The job queue that wakes the engine: Huey on SQLite (embedded), Redis or PostgreSQL (at scale).

The queue holds no truth: timers live in the database and `Engine.tick` runs whatever is due. The
worker wakes at the next due timer, and a once-a-minute sweep catches any wake-up that was lost.
"""

from __future__ import annotations

import logging
import os
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from huey import Huey, RedisHuey, SqliteHuey, crontab

from venturegate.engine import Engine
from venturegate.engine.jobs import worker_id
from venturegate.store.database import DEFAULT_DIR

log = logging.getLogger("venturegate.worker")
MAX_SLEEP = timedelta(seconds=60)


def queue_url() -> str:
    """`VENTUREGATE_QUEUE_URL`, else a SQLite queue file beside the workspace database."""
    return os.environ.get("VENTUREGATE_QUEUE_URL") or f"sqlite:///{Path.cwd() / DEFAULT_DIR / 'queue.db'}"


def make_huey(url: str | None = None, *, immediate: bool = False) -> Huey:
    """A Huey instance for a queue URL: `sqlite:///FILE`, `redis://…` or `postgresql://…`."""
    url = url or queue_url()
    if url.startswith("sqlite:///"):
        path = Path(url.removeprefix("sqlite:///"))
        path.parent.mkdir(parents=True, exist_ok=True)
        return SqliteHuey("venturegate", filename=str(path), immediate=immediate)
    if url.startswith(("redis://", "rediss://", "unix://")):
        return RedisHuey("venturegate", url=url, immediate=immediate)
    if url.startswith(("postgresql://", "postgresql+psycopg://", "postgres://")):
        from huey.contrib.sql_huey import SqlHuey

        rest = url.split("://", 1)[1]
        return SqlHuey("venturegate", database=f"psycopg3://{rest}", immediate=immediate)
    raise ValueError(f"VENTUREGATE_QUEUE_URL '{url}' is not sqlite:///, redis:// or postgresql://")


def register(huey: Huey, engine_factory: Any) -> Any:
    """Register the wake-up task and the sweep on `huey`; returns the wake task."""
    engines: dict[str, Engine] = {}

    def engine() -> Engine:
        if "e" not in engines:
            engines["e"] = engine_factory()
        return engines["e"]

    @huey.task(name="venturegate.wake")  # type: ignore[untyped-decorator]
    def wake() -> None:
        report = engine().tick()
        if report.timers:
            log.info("ran %d timers, %d triggers fired", report.timers, len(report.fired))
        sent = deliver()
        now = datetime.now(UTC)
        nxt = min((d for d in (report.next_due, sent) if d is not None), default=now + MAX_SLEEP)
        wake.schedule(eta=min(max(nxt, now), now + MAX_SLEEP))

    def deliver() -> datetime | None:
        """Send the notifications that are due; when the next one is (its rows hold attempts and times)."""
        out = engine().deliver_outbox()
        if out.claimed:
            log.info("outbox: %d sent, %d to retry, %d dead-lettered", out.sent, out.retrying, len(out.dead))
        return out.next_due

    @huey.periodic_task(crontab(minute="*"), name="venturegate.sweep")  # type: ignore[untyped-decorator]
    def sweep() -> None:
        engine().tick()
        deliver()

    return wake


def register_jobs(huey: Huey, engine_factory: Any) -> Any:
    """Register the crew-job task (`run_job(job_id)`) and the sweep that fails jobs whose worker died."""
    engines: dict[str, Engine] = {}

    def engine() -> Engine:
        if "e" not in engines:
            engines["e"] = engine_factory()
        return engines["e"]

    @huey.task(name="venturegate.run_job")  # type: ignore[untyped-decorator]
    def run_job(job_id: int) -> str:
        from venturegate.crews.runner import run_job as run

        return run(engine(), job_id, worker=worker_id("huey")).status

    @huey.periodic_task(crontab(minute="*"), name="venturegate.sweep_jobs")  # type: ignore[untyped-decorator]
    def sweep_jobs() -> None:
        for job in engine().sweep_jobs():
            log.warning("job %s failed: %s", job.id, job.error)

    return run_job


def run_worker(db_url: str | None, workers: int = 1) -> None:
    """Run the consumer until interrupted (`venturegate worker`)."""
    from huey.consumer import Consumer

    huey = make_huey()
    engines: list[Engine] = []

    def engine() -> Engine:  # one engine per worker process: timers and crew jobs share its hooks
        if not engines:
            engines.append(Engine.open(db_url))
        return engines[0]

    wake = register(huey, engine)
    register_jobs(huey, engine)
    wake()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    Consumer(huey, workers=workers, periodic=True, check_worker_health=True).run()
