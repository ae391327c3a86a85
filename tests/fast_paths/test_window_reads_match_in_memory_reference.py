"""The store's window reads (ends, aggregates, newest) agree with the in-memory reference, on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import timedelta

import pytest

from tests.conftest import LEAD, T0
from venturegate.core.conditions import InMemoryData, Sample
from venturegate.engine import Engine, SampleIn
from venturegate.engine.facts import StoreData

# Two samples share a time (the later id is the newer), one sits on the window's start (outside), one after `now`.
POINTS = [(-600, 1.0), (-300, 5.0), (-240, 7.5), (-240, 2.5), (-60, 9.0), (0, 4.0), (30, 100.0)]
NOW = T0 + timedelta(hours=1)


@pytest.mark.parametrize(("start_s", "end_s"), [(-300, 0), (-900, 0), (-250, -200), (-240, -100), (-30, -10)])
def test_store_window_reads_match_the_reference(engine: Engine, start_s: int, end_s: int) -> None:
    v = engine.create_venture("acme", "b2b_smb", actor=LEAD)
    batch = [
        SampleIn(v.id, "idea_score", value, NOW + timedelta(seconds=s), f"k{i}") for i, (s, value) in enumerate(POINTS)
    ]
    engine.record_samples(batch, actor=LEAD, now=NOW + timedelta(minutes=5))
    reference = InMemoryData(samples={"idea_score": [Sample(NOW + timedelta(seconds=s), v) for s, v in POINTS]})
    start, end = NOW + timedelta(seconds=start_s), NOW + timedelta(seconds=end_s)
    with engine.tx() as conn:
        store = StoreData(conn, v.id, engine.workflow.workflow, 1, "b2b_smb", None, NOW)
        assert store.ends("idea_score", start, end) == reference.ends("idea_score", start, end)
        got, want = store.stats("idea_score", start, end), reference.stats("idea_score", start, end)
        assert (got.count, got.low, got.high) == (want.count, want.low, want.high)
        assert got.total == pytest.approx(want.total)
        for limit in (1, 2, 10):
            assert list(store.newest("idea_score", start, end, limit)) == list(
                reference.newest("idea_score", start, end, limit)
            )
        assert store.ends("nps", start, end).last is None and store.stats("nps", start, end).count == 0
