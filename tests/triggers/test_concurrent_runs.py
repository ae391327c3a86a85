"""Concurrent transactions on shared per-stage state: progression counts, escalation codes, the pinned workflow.

Each test runs real concurrent engines (one connection pool each) on the same database, released together by a
barrier; SQLite serialises them, PostgreSQL runs them at once under READ COMMITTED.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from typing import TypeVar

import pytest
from sqlalchemy import func, select

from tests.conftest import AGENT, T0
from tests.triggers.helpers import fired
from venturegate.definitions.loader import LoadedWorkflow
from venturegate.engine import Engine
from venturegate.store import stage_modes
from venturegate.store.database import connect, ensure_schema
from venturegate.store.schema import stage_runs, workflow_versions

M = timedelta(minutes=1)
R = TypeVar("R")


@pytest.fixture
def engines(db_url: str, tiny_workflow: LoadedWorkflow) -> Iterator[Callable[[int], list[Engine]]]:
    """`make(n)`: n engines of their own on the test's database (as n processes would have)."""
    made: list[Engine] = []

    def make(n: int) -> list[Engine]:
        new = [Engine(connect(db_url), tiny_workflow, clock=lambda: T0) for _ in range(n)]
        made.extend(new)
        return new

    yield make
    for eng in made:
        eng.db.dispose()


def _at_once(jobs: list[Callable[[], R]]) -> list[R]:
    """Run the jobs in threads released together; their results in order (the first error is raised)."""
    barrier = threading.Barrier(len(jobs), timeout=30)

    def go(job: Callable[[], R]) -> R:
        barrier.wait()
        return job()

    with ThreadPoolExecutor(len(jobs)) as pool:
        return [f.result(timeout=60) for f in [pool.submit(go, job) for job in jobs]]


@pytest.mark.parametrize("fold_every", [stage_modes.FOLD_EVERY, 2])
def test_concurrent_runs_lose_no_count(
    tiny: Engine, engines: Callable[[int], list[Engine]], monkeypatch: pytest.MonkeyPatch, fold_every: int
) -> None:
    """Three recursions (failed runs) and three exits (successful runs) of stage 1 at once: all six counted."""
    monkeypatch.setattr(stage_modes, "FOLD_EVERY", fold_every)  # 2: most runs also fold, under contention
    ids = [tiny.create_venture(f"v{i}", "b2b_smb", 1, actor=AGENT, now=T0).id for i in range(6)]
    pool = engines(6)

    def fail(eng: Engine, v: int) -> Callable[[], str]:
        return lambda: fired(eng.record_sample(v, "slips", 1, actor=AGENT, now=T0 + M))["REDRAFT"]

    def succeed(eng: Engine, v: int) -> Callable[[], str]:
        return lambda: str(eng.advance(v, actor=AGENT, now=T0 + M).stage)

    got = _at_once([(fail if i % 2 else succeed)(pool[i], v) for i, v in enumerate(ids)])
    assert got == ["2", "acted"] * 3
    (row,) = tiny.progression(stage=1)
    assert (row["mode"], row["successes"], row["failures"]) == ("manual", 3, 3)  # 3 < 5: not promoted yet
    # Two more successful runs make five: promoted, and the appended runs are folded into the stage-wide row.
    for i in range(2):
        v = tiny.create_venture(f"w{i}", "b2b_smb", 1, actor=AGENT, now=T0).id
        tiny.advance(v, actor=AGENT, now=T0 + 2 * M)
    (row,) = tiny.progression(stage=1)
    assert (row["mode"], row["successes"], row["failures"]) == ("assisted", 0, 3)
    with tiny.db.connect() as conn:
        assert conn.execute(select(func.count()).select_from(stage_runs)).scalar_one() == 0


def test_folding_keeps_the_mode_ladder(tiny: Engine, monkeypatch: pytest.MonkeyPatch) -> None:
    """Folding every third run changes no count and no promotion."""
    monkeypatch.setattr(stage_modes, "FOLD_EVERY", 3)
    for i in range(4):
        v = tiny.create_venture(f"f{i}", "b2b_smb", 1, actor=AGENT, now=T0).id
        assert fired(tiny.record_sample(v, "slips", 1, actor=AGENT, now=T0 + M)) == {"REDRAFT": "acted"}
    for i in range(4):
        tiny.advance(tiny.create_venture(f"s{i}", "b2b_smb", 1, actor=AGENT, now=T0).id, actor=AGENT, now=T0 + M)
    assert [(r["mode"], r["successes"], r["failures"]) for r in tiny.progression(stage=1)] == [("manual", 4, 4)]
    tiny.advance(tiny.create_venture("s4", "b2b_smb", 1, actor=AGENT, now=T0).id, actor=AGENT, now=T0 + M)
    assert [(r["mode"], r["successes"], r["failures"]) for r in tiny.progression(stage=1)] == [("assisted", 0, 4)]


def test_concurrent_escalations_get_distinct_codes(tiny: Engine, engines: Callable[[int], list[Engine]]) -> None:
    """Five ventures pass REDO-RUN's limit at once: five escalations, numbered 1 to 5 at stage 2."""
    ids = []
    for i in range(5):
        v = tiny.create_venture(f"e{i}", "b2b_smb", 2, actor=AGENT, now=T0).id
        for j, x in enumerate([9, 0, 9, 0], start=1):  # two recursions: REDO-RUN's `max: 2`
            tiny.record_sample(v, "errors", x, actor=AGENT, now=T0 + j * M)
        ids.append(v)
    pool = engines(5)

    def escalate(eng: Engine, v: int) -> Callable[[], str]:
        return lambda: fired(eng.record_sample(v, "errors", 9, actor=AGENT, now=T0 + 10 * M))["REDO-RUN"]

    assert _at_once([escalate(eng, v) for eng, v in zip(pool, ids, strict=True)]) == ["escalated"] * 5
    codes = sorted(e.code for e in tiny.escalations())
    assert codes == sorted(f"SD-2-ESCALATION-{n}" for n in range(1, 6))
    assert sorted(str(tiny.venture(v).status_detail["escalation"]) for v in ids) == codes  # type: ignore[index]


def test_first_ventures_of_two_engines_pin_the_workflow_once(
    db_url: str, engines: Callable[[int], list[Engine]]
) -> None:
    """While one engine's first transaction holds the new workflow version uncommitted, another creates its first
    venture: it waits for that row instead of failing on the version's key."""
    first, second = engines(2)
    ensure_schema(first.db)
    with first.db.connect() as conn:
        first._pin_current(conn, T0)
        with ThreadPoolExecutor(1) as pool:
            created = pool.submit(second.create_venture, "late", "b2b_smb", 1, actor=AGENT, now=T0)
            time.sleep(0.3)  # the second engine is now waiting on the first's uncommitted row (PostgreSQL)
            conn.commit()
            assert created.result(timeout=30).name == "late"
    assert first.create_venture("early", "b2b_smb", 1, actor=AGENT, now=T0).name == "early"
    with first.db.connect() as conn:
        assert conn.execute(select(func.count()).select_from(workflow_versions)).scalar_one() == 1
