"""Progression modes in the store: a stage's stage-wide and per-venture rows, and its appended runs.

A stage's run counts are its stage-wide `stage_modes` row plus its appended `stage_runs`. A run appends a row and
locks nothing shared, so concurrent runs neither queue on one row nor lose counts; only a mode change (rare) or a
fold (one run in `FOLD_EVERY`) locks the stage-wide row.
"""

from __future__ import annotations

from typing import NamedTuple

from sqlalchemy import Connection, bindparam, delete, func, insert, select, update
from sqlalchemy.dialects import postgresql, sqlite

from venturegate.store.prepared import Prepared
from venturegate.store.schema import stage_modes, stage_runs

STAGE_WIDE = 0
"""`stage_modes.venture_id` of the stage-wide progression mode (a venture row overrides it)."""
FOLD_EVERY = 256
"""A run whose `stage_runs.id` is a multiple of this folds the stage's appended runs into its stage-wide row."""


class ModeRow(NamedTuple):
    """A `stage_modes` row: a stage's mode, stage-wide (`venture_id` 0) or for one venture, with its run counts."""

    venture_id: int
    stage: int
    mode: str
    successes: int
    failures: int


class _Counts(NamedTuple):
    successes: int
    failures: int


_COLUMNS = (
    stage_modes.c.venture_id,
    stage_modes.c.stage,
    stage_modes.c.mode,
    stage_modes.c.successes,
    stage_modes.c.failures,
)
_MODES_FOR = Prepared(
    select(*_COLUMNS).where(
        stage_modes.c.stage == bindparam("stage"), stage_modes.c.venture_id.in_([bindparam("vid"), STAGE_WIDE])
    ),
    ModeRow,
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
    .returning(stage_modes.c.successes, stage_modes.c.failures),
    _Counts,
)
_SET_COUNTS = Prepared(
    update(stage_modes)
    .where(stage_modes.c.venture_id == STAGE_WIDE, stage_modes.c.stage == bindparam("stage"))
    .values(successes=bindparam("succ"), failures=bindparam("fail"))
)
_TAKE_RUNS = Prepared(
    delete(stage_runs).where(stage_runs.c.stage == bindparam("stage")).returning(stage_runs.c.success)
)


def mode_rows(conn: Connection, stage_id: int, vid: int) -> tuple[ModeRow | None, ModeRow | None]:
    """The venture's own row and the stage-wide row of a stage (one query for both; None where there is none)."""
    rows: list[ModeRow] = _MODES_FOR.all(conn, {"stage": stage_id, "vid": vid})
    own = next((r for r in rows if r.venture_id == vid), None)
    wide = next((r for r in rows if r.venture_id == STAGE_WIDE), None)
    return own, wide


def pending_successes(conn: Connection, stage_id: int) -> int:
    """The successful runs appended since the stage's last fold."""
    found: int = _PENDING_SUCCESSES.scalar(conn, {"stage": stage_id})
    return found


def append_run(conn: Connection, stage_id: int, success: bool, current: str) -> None:
    """Append a run; one in `FOLD_EVERY` also folds the appended runs into the stage-wide row (mode `current`)."""
    run_id: int = _APPEND_RUN.scalar(conn, {"stage": stage_id, "success": success})
    if run_id % FOLD_EVERY == 0:
        fold(conn, stage_id, current, current, None, reset=False)


def fold(conn: Connection, stage_id: int, expected: str, mode: str, success: bool | None, *, reset: bool) -> None:
    """Set the stage-wide mode from `expected` to `mode` and add the appended runs (and this run's outcome, unless
    None) into its counts; `reset` restarts the success count. If another transaction changed the mode first, this
    run is only appended."""
    _ENSURE_WIDE[conn.dialect.name].run(conn, {"stage": stage_id, "mode": expected})
    row: _Counts | None = _SET_MODE.first(conn, {"stage": stage_id, "expected": expected, "mode": mode})
    if row is None:
        if success is not None:
            _APPEND_RUN.scalar(conn, {"stage": stage_id, "success": success})
        return
    taken = take_runs(conn, stage_id)
    if success is not None:
        taken.append(success)
    wins = sum(taken)
    succ = 0 if reset else row.successes + wins
    _SET_COUNTS.run(conn, {"stage": stage_id, "succ": succ, "fail": row.failures + len(taken) - wins})


def take_runs(conn: Connection, stage_id: int) -> list[bool]:
    """Delete the stage's appended runs; returns their outcomes."""
    return [bool(t.success) for t in _TAKE_RUNS.all(conn, {"stage": stage_id})]


def all_modes(conn: Connection, stage: int | None) -> list[ModeRow]:
    """Every stage-wide and per-venture row (of one stage, when given), by stage then venture."""
    query = select(*_COLUMNS).order_by(stage_modes.c.stage, stage_modes.c.venture_id)
    if stage is not None:
        query = query.where(stage_modes.c.stage == stage)
    return [ModeRow._make(r) for r in conn.execute(query)]


def pending_runs(conn: Connection, stage: int | None) -> dict[int, tuple[int, int]]:
    """Per stage, the (successes, failures) appended since its last fold."""
    runs = select(stage_runs.c.stage, stage_runs.c.success, func.count()).group_by(
        stage_runs.c.stage, stage_runs.c.success
    )
    if stage is not None:
        runs = runs.where(stage_runs.c.stage == stage)
    pending: dict[int, tuple[int, int]] = {}
    for s, success, n in conn.execute(runs):
        succ, fail = pending.get(s, (0, 0))
        pending[s] = (succ + n, fail) if success else (succ, fail + n)
    return pending


def set_mode(conn: Connection, vid: int, stage: int, mode: str | None) -> None:
    """Set (or, with None, remove) a mode row; a set mode restarts its success count.

    Setting the stage-wide mode also takes the appended runs: their successes restart with the mode, their failures
    are added to the row's.
    """
    where = (stage_modes.c.venture_id == vid, stage_modes.c.stage == stage)
    if mode is None:
        conn.execute(delete(stage_modes).where(*where))
    elif conn.execute(select(stage_modes.c.mode).where(*where)).first() is None:
        conn.execute(insert(stage_modes).values(venture_id=vid, stage=stage, mode=mode, successes=0, failures=0))
    else:
        conn.execute(update(stage_modes).where(*where).values(mode=mode, successes=0))
    if vid == STAGE_WIDE:
        failed = sum(not t for t in take_runs(conn, stage))
        if mode is not None and failed:
            conn.execute(update(stage_modes).where(*where).values(failures=stage_modes.c.failures + failed))


def stage_wide_modes(conn: Connection) -> dict[int, str]:
    """Each stage's stage-wide mode, where one is stored."""
    rows = conn.execute(select(stage_modes.c.stage, stage_modes.c.mode).where(stage_modes.c.venture_id == STAGE_WIDE))
    return {stage: mode for stage, mode in rows}
