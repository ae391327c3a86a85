"""Bulk writes give what row-by-row writes give: samples and trigger states, on both backends.

On PostgreSQL a batch of samples goes in as one statement over arrays (`store.samples._INSERT_ARRAYS`) and a
batch's quiet trigger-state updates as one (`store.trigger_states._UPDATE_ARRAYS`); small ones go row by row
(pipelined). Each test runs both paths (the thresholds moved) and checks the same outcome.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import select

import venturegate.store.samples as sample_store
import venturegate.store.trigger_states as state_store
from tests.conftest import AGENT, MINI, T0
from venturegate.core.jsontext import dumps
from venturegate.definitions.loader import load_workflow
from venturegate.engine import Engine
from venturegate.store.database import connect, ensure_schema
from venturegate.store.prepared import RawJSON
from venturegate.store.schema import samples


@pytest.fixture(params=["row by row", "arrays"])
def eng(request: pytest.FixtureRequest, db_url: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[Engine]:
    bulk = request.param == "arrays"
    monkeypatch.setattr(sample_store, "ARRAY_INSERT_FROM", 1 if bulk else 10**9)
    monkeypatch.setattr(state_store, "ARRAY_UPDATE_FROM", 1 if bulk else 10**9)
    db = connect(db_url)
    ensure_schema(db)
    yield Engine(db, load_workflow(MINI), clock=lambda: T0)
    db.dispose()


def _row(vid: int, i: int, key: str | None, at_offset: int = 0) -> dict[str, Any]:
    return {
        "venture_id": vid,
        "metric": "latency_ms",
        "value": float(i),
        "at": T0 - timedelta(seconds=100 - at_offset),
        "sample_key": key,
        "actor": "bot",
        "recorded_at": T0,
    }


def test_samples_go_in_once_per_key_in_the_batch_order(eng: Engine) -> None:
    a = eng.create_venture("a", "b2b_smb", 2, actor=AGENT).id
    b = eng.create_venture("b", "b2b_smb", 2, actor=AGENT).id
    first = [_row(a, i, f"k{i}") for i in range(10)] + [_row(b, 100 + i, None) for i in range(5)]
    with eng.tx() as conn:
        went, existing = sample_store.insert_samples(conn, first)
    assert went == first and existing == set()
    # Keys k5..k9 of venture a are stored; the same keys on venture b are new; unkeyed rows always go in.
    second = (
        [_row(a, 200 + i, f"k{i}") for i in range(5, 15)]
        + [_row(b, 300 + i, f"k{i}") for i in range(5, 8)]
        + [_row(a, 400, None)]
    )
    with eng.tx() as conn:
        went, existing = sample_store.insert_samples(conn, second)
    assert existing == {(a, f"k{i}") for i in range(5, 10)}
    assert went == [r for r in second if (r["venture_id"], r["sample_key"]) not in existing]
    with eng.tx() as conn:
        stored = [tuple(r) for r in conn.execute(select(samples.c.venture_id, samples.c.value).order_by(samples.c.id))]
    expected = first + went
    assert stored == [(r["venture_id"], r["value"]) for r in expected]  # ids follow the batches' order


def test_a_batch_at_one_instant_keeps_its_order_for_the_latest_sample(eng: Engine) -> None:
    a = eng.create_venture("a", "b2b_smb", 2, actor=AGENT).id
    rows = [_row(a, i, f"s{i}", at_offset=50) for i in range(12)]
    with eng.tx() as conn:
        sample_store.insert_samples(conn, rows)
        latest = sample_store.latest_value(conn, a, "latency_ms")
    assert latest is not None and latest.value == 11.0  # the batch's last row is the newest of equal instants


def test_quiet_trigger_states_saved_in_bulk_read_back_as_written(eng: Engine) -> None:
    vids = [eng.create_venture(f"v{i}", "b2b_smb", 2, actor=AGENT).id for i in range(10)]
    writes = state_store.StateWrites()
    for n, vid in enumerate(vids):
        writes.add(_state(vid, "inactive", n, {"value": None}), exists=False)
    with eng.tx() as conn:
        writes.flush(conn)
    for n, vid in enumerate(vids):
        writes.add(_state(vid, "pending" if n % 2 else "inactive", n + 1, {"value": n / 3, "why": 'é "q"'}), True)
    with eng.tx() as conn:
        writes.flush(conn)
        shown = {vid: state_store.shown_states(conn, vid)["T"] for vid in vids}
    for n, vid in enumerate(vids):
        row = shown[vid]
        assert (row.state, row.fired_count, row.acted_count) == ("pending" if n % 2 else "inactive", n + 1, 0)
        assert row.since == (T0 if n % 2 else None) and row.last_evaluated_at == T0 + timedelta(seconds=n + 1)
        assert row.last_value == {"value": n / 3, "why": 'é "q"'}


def _state(vid: int, state: str, n: int, value: object) -> dict[str, Any]:
    return {
        "vid": vid,
        "tid": "T",
        "state": state,
        "since": T0 if state == "pending" else None,
        "last_fired_at": None,
        "fired_count": n,
        "acted_count": 0,
        "last_evaluated_at": T0 + timedelta(seconds=n),
        "last_value": RawJSON(dumps(value)),
    }
