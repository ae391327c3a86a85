"""A batch judges every venture it touched with a bounded number of statements, and judges each as alone.

Window reads are shared by the batch's ventures (`store.windows.WindowReads`: one statement per kind, metric and
window for all of them) and quiet trigger-state writes are saved in bulk (`store.trigger_states.StateWrites`).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import AGENT, T0
from tests.triggers.helpers import trig
from venturegate.definitions.loader import load_workflow
from venturegate.engine import Engine, SampleIn
from venturegate.store.database import connect, ensure_schema

M = timedelta(minutes=1)
WINDOWS = """\
workflow: {id: windows, version: "1"}
stages:
  - id: 1
    title: Watch
    substages:
      - {id: "1.1", title: Measure, done_when: [Measured]}
    metrics:
      load: {unit: count, direction: lower_is_better}
      other: {unit: count, direction: lower_is_better}
    triggers:
      - {id: AVG, kind: alert, when: "avg(load, 1h) > 50", action: {severity: P3}}
      - {id: SPAN, kind: alert, when: "max(load, 30m) - min(load, 30m) > 40", action: {severity: P3}}
      - {id: DELTA, kind: alert, when: "delta(load, 1h) > 30", action: {severity: P3}}
      - {id: COUNT, kind: alert, when: "count(load, 10m) >= 3 and last(load, 10m) > 10", action: {severity: P3}}
      - {id: P95, kind: alert, when: "p95(load, 1h) > 90", action: {severity: P3}}
      - {id: LATEST, kind: recursion, when: "load > 95 or other > 5", action: {go_to: "1.1"}, max: 1}
"""
IDS = ("AVG", "SPAN", "DELTA", "COUNT", "P95", "LATEST")


@pytest.fixture
def windows(db_url: str, tmp_path: Path) -> Iterator[Engine]:
    path = tmp_path / "windows.yaml"
    path.write_text(WINDOWS, encoding="utf-8")
    db = connect(db_url)
    ensure_schema(db)
    yield Engine(db, load_workflow(path), clock=lambda: T0)
    db.dispose()


def _history(eng: Engine, prefix: str, n: int, calm: bool = False) -> list[int]:
    """`n` ventures, each with its own hour of `load` samples (different per venture; `calm`: all 20)."""
    ids = []
    for i in range(n):
        v = eng.create_venture(f"{prefix}{i}", "b2b_smb", 1, actor=AGENT, now=T0).id
        ids.append(v)
        history = [
            SampleIn(v, "load", 20.0 if calm else float((i * 7 + k * 13) % 100), T0 + k * 5 * M)
            for k in range(i % 4 + 2)
        ]
        eng.record_samples(history, actor=AGENT, now=T0 + 30 * M)
    return ids


def _fresh(ids: list[int], i: int, v: int) -> list[SampleIn]:
    """The new samples of venture `v` (the `i`-th): one below `now`, so the latest is read back from the store."""
    value = float((i * 31) % 100)
    samples = [SampleIn(v, "load", value, T0 + 55 * M)]
    if i % 3 == 0:
        samples.append(SampleIn(v, "other", float(i % 9), T0 + 55 * M))
    return samples


def test_a_batch_judges_each_venture_as_it_would_be_judged_alone(windows: Engine) -> None:
    batched, alone = _history(windows, "b", 9), _history(windows, "a", 9)
    now = T0 + 56 * M
    got = windows.record_samples(
        [s for i, v in enumerate(batched) for s in _fresh(batched, i, v)], actor=AGENT, now=now
    )
    one_by_one = [windows.record_samples(_fresh(alone, i, v), actor=AGENT, now=now) for i, v in enumerate(alone)]
    assert sorted((f.trigger, f.outcome) for f in got.fired) == sorted(
        (f.trigger, f.outcome) for r in one_by_one for f in r.fired
    )
    assert got.fired  # the case is not vacuous: some conditions hold
    for b, a in zip(batched, alone, strict=True):
        for t in IDS:
            mine, theirs = trig(windows, b, t), trig(windows, a, t)
            assert (mine["state"], mine["last_value"]) == (theirs["state"], theirs["last_value"]), (t, b, a)


class _Statements:
    """Counts the statements sent to PostgreSQL (each `execute`, and each `executemany` once: it is pipelined)."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        import psycopg

        self.count: Counter[str] = Counter()
        for name in ("execute", "executemany"):
            original = getattr(psycopg.Cursor, name)

            def counted(cur: Any, query: Any, *args: Any, _original: Any = original, **kw: Any) -> Any:
                self.count[str(query).split(None, 1)[0]] += 1
                return _original(cur, query, *args, **kw)

            monkeypatch.setattr(psycopg.Cursor, name, counted)

    def total(self) -> int:
        return sum(self.count.values())


@pytest.mark.parametrize("db_url", ["postgresql"], indirect=True)  # round trips are PostgreSQL's cost only
def test_the_statements_of_a_batch_do_not_grow_with_its_ventures(
    windows: Engine, db_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    few, many = _history(windows, "f", 3, calm=True), _history(windows, "m", 24, calm=True)
    counter = _Statements(monkeypatch)
    totals = []
    for k, ids in enumerate((few, many)):
        counter.count.clear()
        now = T0 + (57 + k) * M
        quiet = [SampleIn(v, "load", 20.0, now - M) for v in ids]  # no trigger fires: every write is a state write
        got = windows.record_samples(quiet, actor=AGENT, now=now)
        assert not got.fired
        totals.append(counter.total())
    assert totals[0] == totals[1], counter.count
    assert totals[1] <= 15, counter.count
