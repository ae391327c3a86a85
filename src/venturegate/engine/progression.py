"""Progression modes (manual → assisted → auto) per stage, promoted by successful runs, demoted by failures."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Connection, bindparam, delete, func, insert, select, update
from sqlalchemy.dialects import postgresql, sqlite

from venturegate.core.triggers import Mode, demote, promote
from venturegate.definitions.model import Workflow
from venturegate.engine.actors import Actor
from venturegate.engine.base import EngineBase
from venturegate.engine.exceptions import BadInput
from venturegate.store.prepared import Prepared, Record
from venturegate.store.schema import stage_modes, stage_runs

STAGE_WIDE = 0
"""`stage_modes.venture_id` of the stage-wide progression mode (a venture row overrides it)."""
MODES: tuple[Mode, ...] = ("manual", "assisted", "auto")
FOLD_EVERY = 256
"""A run whose `stage_runs.id` is a multiple of this folds the stage's appended runs into its stage-wide row."""
_MODES_FOR = Prepared(
    select(stage_modes.c.venture_id, stage_modes.c.mode, stage_modes.c.successes, stage_modes.c.failures).where(
        stage_modes.c.stage == bindparam("stage"), stage_modes.c.venture_id.in_([bindparam("vid"), STAGE_WIDE])
    )
)
_PENDING_SUCCESSES = Prepared(
    select(func.count()).select_from(stage_runs).where(stage_runs.c.stage == bindparam("stage"), stage_runs.c.success)
)
_APPEND_RUN = Prepared(
    insert(stage_runs).values(stage=bindparam("stage"), success=bindparam("success")).returning(stage_runs.c.id)
)
_ENSURE_WIDE = {
    # The stage-wide row, created in the mode the caller read (no row) or left as it is (a row).
    d.__name__.rsplit(".", 1)[-1]: Prepared(
        d.insert(stage_modes)
        .values(venture_id=STAGE_WIDE, stage=bindparam("stage"), mode=bindparam("mode"), successes=0, failures=0)
        .on_conflict_do_nothing(index_elements=["venture_id", "stage"])
    )
    for d in (sqlite, postgresql)
}
_SET_MODE = Prepared(
    update(stage_modes)
    .where(
        stage_modes.c.venture_id == STAGE_WIDE,
        stage_modes.c.stage == bindparam("stage"),
        stage_modes.c.mode == bindparam("expected"),
    )
    .values(mode=bindparam("mode"))
    .returning(stage_modes.c.successes, stage_modes.c.failures)
)
_SET_COUNTS = Prepared(
    update(stage_modes)
    .where(stage_modes.c.venture_id == STAGE_WIDE, stage_modes.c.stage == bindparam("stage"))
    .values(successes=bindparam("succ"), failures=bindparam("fail"))
)
_TAKE_RUNS = Prepared(
    delete(stage_runs).where(stage_runs.c.stage == bindparam("stage")).returning(stage_runs.c.success)
)


class ProgressionOps(EngineBase):
    """Reading, counting and setting progression modes.

    A stage's run counts are its stage-wide `stage_modes` row plus its appended `stage_runs`. A run appends a
    row and locks nothing shared, so concurrent recursions neither queue on one row nor lose counts; only a
    mode change (rare) or a fold (one run in `FOLD_EVERY`) locks the stage-wide row.
    """

    def _progression_mode(self, conn: Connection, wf: Workflow, vid: int, stage_id: int) -> Any:
        return self._mode_rows(conn, wf, vid, stage_id)[0]

    @staticmethod
    def _mode_rows(conn: Connection, wf: Workflow, vid: int, stage_id: int) -> tuple[Any, Record | None]:
        """The venture's effective mode at a stage, and the stage-wide row (one query for both)."""
        rows = {r.venture_id: r for r in _MODES_FOR.all(conn, {"stage": stage_id, "vid": vid})}
        own, wide = rows.get(vid), rows.get(STAGE_WIDE)
        mode = (own.mode if own else None) or (wide.mode if wide else None) or wf.progression_for(stage_id).mode
        return mode, wide

    def _record_failure(self, conn: Connection, wf: Workflow, vid: int, stage_id: int) -> None:
        prog = wf.progression_for(stage_id)
        mode, wide = self._mode_rows(conn, wf, vid, stage_id)
        new = demote(mode) if prog.demote_on_failure else mode
        self._count_run(conn, wf, stage_id, wide, new, success=False, reset=new != mode)

    def _record_success(self, conn: Connection, wf: Workflow, stage_id: int) -> None:
        prog = wf.progression_for(stage_id)
        mode, wide = self._mode_rows(conn, wf, STAGE_WIDE, stage_id)
        after = {str(k): v for k, v in prog.promote_after.items()}
        new = mode
        if mode in after:  # only a mode that can be promoted needs the count
            pending = int(_PENDING_SUCCESSES.scalar(conn, {"stage": stage_id}))
            new = promote(mode, (wide.successes if wide else 0) + pending + 1, after)
        self._count_run(conn, wf, stage_id, wide, new, success=True, reset=new != mode)

    @staticmethod
    def _count_run(
        conn: Connection, wf: Workflow, stage_id: int, r: Record | None, mode: str, *, success: bool, reset: bool
    ) -> None:
        """Count a run and store the stage-wide `mode`; `r` is the stage-wide row as read in this transaction,
        `reset` restarts the success count."""
        current = (r.mode if r else None) or wf.progression_for(stage_id).mode
        if mode == current and not reset:
            run_id = int(_APPEND_RUN.scalar(conn, {"stage": stage_id, "success": success}))
            if run_id % FOLD_EVERY == 0:
                ProgressionOps._fold(conn, stage_id, current, current, None, reset=False)
            return
        ProgressionOps._fold(conn, stage_id, current, mode, success, reset=reset)

    @staticmethod
    def _fold(conn: Connection, stage_id: int, expected: str, mode: str, success: bool | None, *, reset: bool) -> None:
        """Set the stage-wide mode from `expected` to `mode` and add the appended runs (and this run's outcome,
        unless None) into its counts; if another transaction changed the mode first, this run is only appended."""
        _ENSURE_WIDE[conn.dialect.name].run(conn, {"stage": stage_id, "mode": expected})
        row = _SET_MODE.first(conn, {"stage": stage_id, "expected": expected, "mode": mode})
        if row is None:
            if success is not None:
                _APPEND_RUN.scalar(conn, {"stage": stage_id, "success": success})
            return
        taken = [bool(t.success) for t in _TAKE_RUNS.all(conn, {"stage": stage_id})]
        if success is not None:
            taken.append(success)
        wins = sum(taken)
        succ = 0 if reset else int(row.successes) + wins
        _SET_COUNTS.run(conn, {"stage": stage_id, "succ": succ, "fail": int(row.failures) + len(taken) - wins})

    def progression(self, stage: int | None = None) -> list[dict[str, Any]]:
        """Stage-wide and per-venture modes with their run counts."""
        query = select(stage_modes).order_by(stage_modes.c.stage, stage_modes.c.venture_id)
        if stage is not None:
            query = query.where(stage_modes.c.stage == stage)
        runs = select(stage_runs.c.stage, stage_runs.c.success, func.count()).group_by(
            stage_runs.c.stage, stage_runs.c.success
        )
        if stage is not None:
            runs = runs.where(stage_runs.c.stage == stage)
        with self.tx() as conn:
            pending: dict[int, list[int]] = {}  # stage -> [successes, failures] appended since the last fold
            for s, success, n in conn.execute(runs):
                pending.setdefault(int(s), [0, 0])[0 if success else 1] += int(n)
            found: list[dict[str, Any]] = [
                {
                    "stage": int(r.stage),
                    "venture_id": int(r.venture_id) or None,
                    "mode": r.mode,
                    "successes": int(r.successes),
                    "failures": int(r.failures),
                }
                for r in conn.execute(query)
            ]
        wf = self.workflow.workflow
        wide = {int(r["stage"]): r for r in found if r["venture_id"] is None}
        for s, (succ, fail) in pending.items():
            if s not in wide:  # no mode change yet: the row is not written before its first fold
                wide[s] = {"stage": s, "venture_id": None, "mode": wf.progression_for(s).mode}
                wide[s] |= {"successes": 0, "failures": 0}
                found.append(wide[s])
            wide[s]["successes"] += succ
            wide[s]["failures"] += fail
        return sorted(found, key=lambda r: (r["stage"], r["venture_id"] or 0))

    def set_progression(
        self,
        stage: int,
        mode: str | None,
        *,
        actor: Actor,
        venture: str | int | None = None,
        now: datetime | None = None,
    ) -> None:
        """Set a stage's mode (stage-wide, or for one venture); `None` removes a venture's override."""
        now = self.when(now)
        if mode is not None and mode not in MODES:
            raise BadInput(f"unknown mode '{mode}'", where="MODE", hint="manual, assisted or auto")
        self._stage(self.workflow.workflow, stage)
        with self.tx() as conn:
            vid = STAGE_WIDE if venture is None else int(self._row(conn, venture).id)
            where = (stage_modes.c.venture_id == vid, stage_modes.c.stage == stage)
            if mode is None:
                conn.execute(delete(stage_modes).where(*where))
            elif conn.execute(select(stage_modes.c.mode).where(*where)).first() is None:
                conn.execute(
                    insert(stage_modes).values(venture_id=vid, stage=stage, mode=mode, successes=0, failures=0)
                )
            else:
                conn.execute(update(stage_modes).where(*where).values(mode=mode, successes=0))
            if vid == STAGE_WIDE:  # the appended runs: their successes restart with the mode, failures stay
                failed = sum(not t.success for t in _TAKE_RUNS.all(conn, {"stage": stage}))
                if mode is not None and failed:
                    conn.execute(update(stage_modes).where(*where).values(failures=stage_modes.c.failures + failed))
            self._event(
                conn,
                vid or None,
                "progression.set",
                actor,
                now,
                stage=stage,
                reason=mode or "override removed",
                data={"mode": mode, "scope": "venture" if vid else "stage"},
            )
