"""Two writers sending overlapping batches at once (API threads, two crews) neither deadlock nor lose data."""

from __future__ import annotations

import threading
from datetime import timedelta

from sqlalchemy import func, select

from tests.conftest import AGENT, T0
from tests.triggers.helpers import at_stage
from venturegate.engine import Engine, SampleIn
from venturegate.store.schema import samples, timers

ROUNDS = 8


def test_overlapping_batches_from_two_threads(bundled: Engine) -> None:
    ids = [at_stage(bundled, f"v{i}", 17).id for i in range(6)]
    errors: list[BaseException] = []

    def writer(tag: str, order: list[int]) -> None:
        try:
            for n in range(ROUNDS):
                at = T0 + timedelta(hours=n)
                batch = [SampleIn(v, "conversion_rate", 2.5, at, f"{tag}-{n}-{v}") for v in order]
                bundled.record_samples(batch, actor=AGENT, now=at + timedelta(minutes=1))
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    # Opposite orders: without locking the ventures in one order first, PostgreSQL deadlocks on the timer rows.
    threads = [
        threading.Thread(target=writer, args=("a", ids)),
        threading.Thread(target=writer, args=("b", ids[::-1])),
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert not any(t.is_alive() for t in threads)
    assert errors == []
    with bundled.db.connect() as conn:
        stored = conn.execute(select(func.count()).select_from(samples)).scalar_one()
        stale = conn.execute(
            select(func.count()).select_from(timers).where(timers.c.kind == "stale", timers.c.done_at.is_(None))
        ).scalar_one()
    assert stored == 2 * ROUNDS * len(ids)
    assert stale == len(ids)  # one pending staleness timer per venture and metric, moved forward, never doubled
