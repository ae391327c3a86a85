"""The worker inside `venturegate serve`: the same Huey consumer as `venturegate worker`, on threads.

A change made through the API may create a timer (a trigger going pending, an approval's expiry)
due before the worker's next planned wake-up; `nudge` (called after every write request) schedules
one wake-up half a second later, so the worker re-reads the next due time. Nudges within that half
second share it. The process's signals stay with uvicorn (the consumer's own handlers would take Ctrl-C away from
it); the app's lifespan starts the consumer and stops it gracefully on shutdown.
"""

from __future__ import annotations

import logging
import threading
import time
from typing import Any

from huey.consumer import Consumer

from venturegate.engine import Engine
from venturegate.worker import POLL_MAX_DELAY, make_huey, register, register_jobs

log = logging.getLogger("venturegate.api.worker")
NUDGE_DELAY = 0.5
"""Seconds between a write request and the wake-up it asks for."""


class NudgeMiddleware:
    """After each write request (not GET/HEAD/OPTIONS), nudge the in-process worker."""

    def __init__(self, app: Any, worker: InProcessWorker) -> None:
        self.app = app
        self.worker = worker

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        await self.app(scope, receive, send)
        if scope["type"] == "http" and scope["method"] not in ("GET", "HEAD", "OPTIONS"):
            self.worker.nudge()


class _QuietConsumer(Consumer):  # type: ignore[misc]
    def _set_signal_handlers(self) -> None:
        """Leave the process's signals to the server."""


class InProcessWorker:
    """A Huey consumer (wake-ups at the next due timer, a once-a-minute sweep) sharing the API's engine."""

    def __init__(self, engine: Engine, queue_url: str | None = None, workers: int = 1) -> None:
        self.huey = make_huey(queue_url)
        self._wake = register(self.huey, lambda: engine)
        register_jobs(self.huey, lambda: engine)  # crew jobs too, as `venturegate worker` runs them
        self._consumer = _QuietConsumer(
            self.huey, workers=workers, periodic=True, check_worker_health=False, max_delay=POLL_MAX_DELAY
        )
        self._lock = threading.Lock()
        self._nudge_due = 0.0

    def start(self) -> None:
        """Start the scheduler and worker threads, and wake the engine once now."""
        self._wake()
        self._consumer.start()
        log.info("in-process worker started")

    def nudge(self) -> None:
        """Wake the engine shortly: something may have scheduled a timer sooner than the next wake-up."""
        now = time.monotonic()
        with self._lock:
            if now < self._nudge_due:
                return  # a wake-up is already coming after this request's commit
            self._nudge_due = now + NUDGE_DELAY
        self._wake.schedule(delay=NUDGE_DELAY)

    def stop(self) -> None:
        """Let a running task finish, then stop."""
        self._consumer.stop(graceful=True)
