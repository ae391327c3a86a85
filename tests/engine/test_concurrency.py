"""Two processes advancing one venture at once produce exactly one advance; a mid-operation failure leaves nothing."""

from __future__ import annotations

import multiprocessing as mp
from typing import Any

import pytest

from tests.conftest import MINI, T0
from tests.engine.test_lifecycle import _ready_stage_1
from venturegate.definitions.loader import load_workflow
from venturegate.engine import Actor, Engine, VenturegateError
from venturegate.engine.base import EngineBase
from venturegate.store.database import connect


def _advance_in_child(url: str, vid: int, expected: int | None, barrier: Any, results: Any) -> None:
    eng = Engine(connect(url), load_workflow(MINI), clock=lambda: T0)
    barrier.wait(timeout=30)
    try:
        v = eng.advance(vid, actor=Actor("p", "lead"), expected_stage=expected)
        results.put(("ok", v.stage))
    except VenturegateError as exc:
        results.put((type(exc).__name__, str(exc)))
    finally:
        eng.db.dispose()


@pytest.mark.parametrize("expected", [1, None])
def test_two_processes_advance_once(engine: Engine, db_url: str, expected: int | None) -> None:
    vid = _ready_stage_1(engine)
    ctx = mp.get_context("spawn")
    barrier, results = ctx.Barrier(2), ctx.Queue()
    procs = [ctx.Process(target=_advance_in_child, args=(db_url, vid, expected, barrier, results)) for _ in range(2)]
    for p in procs:
        p.start()
    outcomes = [results.get(timeout=60) for _ in procs]
    for p in procs:
        p.join(timeout=30)
        assert p.exitcode == 0
    kinds = sorted(o[0] for o in outcomes)
    # With --from-stage the loser is told it lost the race; without it, it finds stage 2 not ready to leave.
    assert kinds == ["Conflict", "ok"] if expected else kinds in (["Conflict", "ok"], ["GateNotPassed", "ok"])
    assert engine.venture(vid).stage == 2
    assert sum(e.kind == "venture.advanced" for e in engine.events(vid)) == 1
    assert [v.stage for v in engine.visits(vid)] == [1, 2]


def test_failure_mid_operation_leaves_no_partial_state(engine: Engine, monkeypatch: pytest.MonkeyPatch) -> None:
    vid = _ready_stage_1(engine)
    before = (engine.venture(vid), engine.visits(vid), engine.events(vid), engine.substages(vid))
    real = EngineBase._event

    def failing(self: EngineBase, conn: Any, venture_id: int | None, kind: str, *args: Any, **kw: Any) -> None:
        if kind == "stage.entered":
            raise RuntimeError("injected crash after the stage was left")
        real(self, conn, venture_id, kind, *args, **kw)

    monkeypatch.setattr(EngineBase, "_event", failing)
    with pytest.raises(RuntimeError, match="injected"):
        engine.advance(vid, actor=Actor("p", "lead"))
    monkeypatch.undo()
    after = (engine.venture(vid), engine.visits(vid), engine.events(vid), engine.substages(vid))
    assert after == before
    assert engine.advance(vid, actor=Actor("p", "lead")).stage == 2
