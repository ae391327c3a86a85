"""Progression modes (manual → assisted → auto) per stage, promoted by successful runs, demoted by failures."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Connection, bindparam, delete, insert, select, update

from venturegate.core.triggers import Mode, demote, promote
from venturegate.definitions.model import Workflow
from venturegate.engine.actors import Actor
from venturegate.engine.base import EngineBase
from venturegate.engine.exceptions import BadInput
from venturegate.store.prepared import Prepared, Record
from venturegate.store.schema import stage_modes

STAGE_WIDE = 0
"""`stage_modes.venture_id` of the stage-wide progression mode (a venture row overrides it)."""
MODES: tuple[Mode, ...] = ("manual", "assisted", "auto")
_MODES_FOR = Prepared(
    select(stage_modes.c.venture_id, stage_modes.c.mode, stage_modes.c.successes, stage_modes.c.failures).where(
        stage_modes.c.stage == bindparam("stage"), stage_modes.c.venture_id.in_([bindparam("vid"), STAGE_WIDE])
    )
)
_INSERT_MODE = Prepared(
    insert(stage_modes).values(
        venture_id=STAGE_WIDE,
        stage=bindparam("stage"),
        mode=bindparam("mode"),
        successes=bindparam("succ"),
        failures=bindparam("fail"),
    )
)
_UPDATE_MODE = Prepared(
    update(stage_modes)
    .where(stage_modes.c.venture_id == STAGE_WIDE, stage_modes.c.stage == bindparam("stage"))
    .values(mode=bindparam("mode"), successes=bindparam("succ"), failures=bindparam("fail"))
)


class ProgressionOps(EngineBase):
    """Reading, counting and setting progression modes."""

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
        self._write_mode(conn, stage_id, new, wide, success=False, reset=new != mode)

    def _record_success(self, conn: Connection, wf: Workflow, stage_id: int) -> None:
        prog = wf.progression_for(stage_id)
        mode, wide = self._mode_rows(conn, wf, STAGE_WIDE, stage_id)
        new = promote(mode, (wide.successes if wide else 0) + 1, {str(k): v for k, v in prog.promote_after.items()})
        self._write_mode(conn, stage_id, new, wide, success=True, reset=new != mode)

    @staticmethod
    def _write_mode(
        conn: Connection, stage_id: int, mode: str, r: Record | None, *, success: bool, reset: bool
    ) -> None:
        """Store the stage-wide mode and run counts; `r` is the stage-wide row as read in this transaction."""
        succ = 0 if reset else (r.successes if r else 0) + (1 if success else 0)
        fail = (r.failures if r else 0) + (0 if success else 1)
        values = {"stage": stage_id, "mode": mode, "succ": succ, "fail": fail}
        (_INSERT_MODE if r is None else _UPDATE_MODE).run(conn, values)

    def progression(self, stage: int | None = None) -> list[dict[str, Any]]:
        """Stage-wide and per-venture modes with their run counts."""
        query = select(stage_modes).order_by(stage_modes.c.stage, stage_modes.c.venture_id)
        if stage is not None:
            query = query.where(stage_modes.c.stage == stage)
        with self.tx() as conn:
            return [
                {
                    "stage": int(r.stage),
                    "venture_id": int(r.venture_id) or None,
                    "mode": r.mode,
                    "successes": int(r.successes),
                    "failures": int(r.failures),
                }
                for r in conn.execute(query)
            ]

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
