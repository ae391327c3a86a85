"""The job queue that wakes the engine: Huey on SQLite (embedded), Redis or PostgreSQL (at scale).

The queue holds no truth: timers live in the database and `Engine.tick` runs whatever is due. The
worker wakes at the next due timer, and a once-a-minute sweep catches any wake-up that was lost.
A collision with another writer (`Collision`) or a lost database connection (`StoreUnavailable`) is logged as
one line and the wake-up runs again after `RETRY_AFTER`: each timer and notification is claimed in its own
transaction, so running the loop again does only what is still due.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

from huey import Huey, RedisHuey, SqliteHuey, crontab

from venturegate.engine import Collision, Engine, StoreUnavailable
from venturegate.engine.jobs import worker_id
from venturegate.store.database import DEFAULT_DIR

if TYPE_CHECKING:
    from huey.consumer import Consumer

log = logging.getLogger("venturegate.worker")
MAX_SLEEP = timedelta(seconds=60)
POLL_MAX_DELAY = 1.0
"""The longest (seconds) a worker waits between two polls of an idle SQLite or PostgreSQL queue. Huey's default,
10 s, made a crew job or a wake-up queued after a quiet minute wait up to 10 s (benchmarks/job_queue.py); one poll
a second per worker thread costs an idle PostgreSQL about one transaction a second. Redis blocks on its list and
does not poll."""
RETRY_AFTER = timedelta(seconds=1)
"""How soon a wake-up held back by a collision or a lost connection runs again."""
HELD_BACK = (Collision, StoreUnavailable)
"""The errors that hold a pass of the loop back without being a bug: logged as one line, then retried."""


def held_back(what: str, exc: Exception, again: str) -> None:
    """Log, as one line without a traceback, that `what` was held back by `exc` and when it runs `again`."""
    log.warning("%s held back: %s; %s", what, exc, again)


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


def consumer(huey: Huey, workers: int) -> Consumer:
    """Huey's consumer as venturegate runs it: periodic tasks on, idle polls at most `POLL_MAX_DELAY` apart."""
    from huey.consumer import Consumer

    return Consumer(huey, workers=workers, periodic=True, check_worker_health=True, max_delay=POLL_MAX_DELAY)


def register(huey: Huey, engine_factory: Any) -> Any:
    """Register the wake-up task and the sweep on `huey`; returns the wake task."""
    engines: dict[str, Engine] = {}

    def engine() -> Engine:
        if "e" not in engines:
            engines["e"] = engine_factory()
        return engines["e"]

    @huey.task(name="venturegate.wake")  # type: ignore[untyped-decorator]
    def wake() -> None:
        try:
            run()
        except HELD_BACK as exc:
            held_back("wake-up", exc, f"again in {RETRY_AFTER.total_seconds():g} s")
            wake.schedule(delay=RETRY_AFTER.total_seconds())

    def run() -> None:
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
        try:
            engine().tick()
            deliver()
        except HELD_BACK as exc:
            held_back("sweep", exc, "again in a minute")

    @huey.periodic_task(crontab(minute="17"), name="venturegate.retention")  # type: ignore[untyped-decorator]
    def retention() -> None:
        try:
            removed = engine().apply_retention()
        except HELD_BACK as exc:
            held_back("retention", exc, "again in an hour")
            return
        if removed.total:
            log.info("retention: removed %d samples of %d ventures", removed.total, len(removed.removed))

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

        with _ACTIVE_LOCK:
            if job_id in _ACTIVE:
                return "running"  # a second message for a job a thread of this process runs
            _ACTIVE.add(job_id)
        me = worker_name()
        try:
            return run(engine(), job_id, worker=me).status
        finally:
            try:
                settle_job(engine(), job_id, me)
            finally:
                with _ACTIVE_LOCK:
                    _ACTIVE.discard(job_id)

    @huey.periodic_task(crontab(minute="*"), name="venturegate.sweep_jobs")  # type: ignore[untyped-decorator]
    def sweep_jobs() -> None:
        try:
            sweep_jobs_once()
        except HELD_BACK as exc:
            held_back("job sweep", exc, "again in a minute")

    def sweep_jobs_once() -> None:
        me = worker_name()
        for job in engine().sweep_jobs():
            log.warning("job %s failed: %s", job.id, job.error)
        requeue_stale(engine(), run_job)
        for job in engine().jobs(status="running", limit=10_000):
            with _ACTIVE_LOCK:  # read after the query: a thread marks a job active before it claims it
                orphaned = job.worker == me and job.id not in _ACTIVE
            if orphaned:  # signed by this process, run by none of its threads
                settle_job(engine(), job.id, me)

    return run_job


_ACTIVE: set[int] = set()
"""Ids of the jobs this process's threads are running."""
_ACTIVE_LOCK = threading.Lock()
SETTLE_ATTEMPTS = 8


def settle_job(engine: Engine, job_id: int, me: str) -> None:
    """Fail a job this worker signed but left `running` (its outcome was lost with a database connection).

    A claim whose commit reached the database but whose answer did not, or a `finish_job` that failed, leaves the
    job running with no thread running it. Tried again with backoff while the database is unreachable.
    """
    for attempt in range(SETTLE_ATTEMPTS):
        try:
            job = engine.job(job_id)
            if job.status == "running" and job.worker == me:
                engine.finish_job(
                    job_id, "failed", error="the run ended without recording its outcome (database connection lost); "
                    "re-run the crew",
                )  # fmt: skip
                log.warning("job %s failed: its outcome was lost; re-run the crew", job_id)
            return
        except Exception:
            log.exception("could not settle job %s (attempt %d)", job_id, attempt + 1)
            time.sleep(min(0.2 * 2**attempt, 5.0))


REQUEUE_AFTER = timedelta(minutes=1)
"""How long a job may stay queued before the sweep sends its message again."""


def requeue_stale(
    engine: Engine, run_job: Any, *, now: datetime | None = None, after: timedelta = REQUEUE_AFTER
) -> list[int]:
    """Queue again the jobs still `queued` `after` their creation; returns their ids.

    A job's row and its queue message are written in two steps: an API process killed between them (or a worker
    killed after taking the message, before claiming the job) leaves a queued job that no message names. Sending
    a second message is safe, as only one claim of a job succeeds.
    """
    cutoff = (now or engine.clock()) - after
    stale = [job.id for job in engine.jobs(status="queued", limit=10_000) if job.created_at <= cutoff]
    for job_id in stale:
        log.warning("job %s still queued after %s: queued again", job_id, after)
        run_job(job_id)
    return stale


def worker_name() -> str:
    """How this process signs the jobs it runs: `huey:PID@HOST` (`engine.jobs.worker_id`; `process_gone` reads it)."""
    return worker_id("huey")


def recover_jobs(engine: Engine, run_job: Any) -> tuple[int, int]:
    """At worker start: fail the running jobs of dead workers on this host, queue the queued jobs again.

    A worker killed after taking a job's message from the queue but before claiming it leaves the job queued with
    no message; queueing every queued job again is safe, as only one claim of a job succeeds.
    Returns (jobs failed, jobs queued again).
    """
    failed = engine.sweep_jobs()
    for job in failed:
        log.warning("job %s failed: %s", job.id, job.error)
    queued = engine.jobs(status="queued", limit=10_000)
    for job in queued:
        run_job(job.id)
    return len(failed), len(queued)


def run_worker(db_url: str | None, workers: int = 1, workflow: str | None = None) -> None:
    """Run the consumer until interrupted (`venturegate worker`); `workflow` as `--workflow` names it."""
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    huey = make_huey()
    engines: list[Engine] = []

    def engine() -> Engine:  # one engine per worker process: timers and crew jobs share its hooks
        if not engines:
            engines.append(Engine.open(db_url, workflow))
        return engines[0]

    wake = register(huey, engine)
    run_job = register_jobs(huey, engine)
    try:
        recover_jobs(engine(), run_job)
    except HELD_BACK as exc:
        held_back("job recovery at start", exc, "the minute job sweep catches up")
    wake()
    consumer(huey, workers).run()
