"""Progression modes (manual → assisted → auto) per stage, promoted by successful runs, demoted by failures."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Connection

from venturegate.core.triggers import Mode, demote, promote
from venturegate.definitions.model import Workflow
from venturegate.engine.actors import Actor
from venturegate.engine.exceptions import BadInput
from venturegate.engine.plumbing import Plumbing
from venturegate.store import stage_modes
from venturegate.store.stage_modes import STAGE_WIDE, ModeRow

MODES: tuple[Mode, ...] = ("manual", "assisted", "auto")


class ProgressionModes:
    """Reading, counting and setting progression modes (the store keeps the counts: `store/stage_modes.py`)."""

    def __init__(self, plumbing: Plumbing) -> None:
        self.plumbing = plumbing

    @staticmethod
    def _effective(wf: Workflow, stage_id: int, own: ModeRow | None, wide: ModeRow | None) -> Mode:
        mode = (own.mode if own else None) or (wide.mode if wide else None) or wf.progression_for(stage_id).mode
        return mode  # type: ignore[return-value]  # the store holds only `MODES`

    def mode(self, conn: Connection, wf: Workflow, vid: int, stage_id: int) -> Mode:
        """The venture's effective mode at a stage (its own, else the stage-wide one, else the workflow's)."""
        own, wide = stage_modes.mode_rows(conn, stage_id, vid)
        return self._effective(wf, stage_id, own, wide)

    def record_failure(self, conn: Connection, wf: Workflow, vid: int, stage_id: int) -> None:
        """Count a failed run of a stage (a recursion), demoting its stage-wide mode if the workflow says so."""
        prog = wf.progression_for(stage_id)
        own, wide = stage_modes.mode_rows(conn, stage_id, vid)
        mode = self._effective(wf, stage_id, own, wide)
        new = demote(mode) if prog.demote_on_failure else mode
        self._count_run(conn, wf, stage_id, wide, new, success=False, reset=new != mode)

    def record_success(self, conn: Connection, wf: Workflow, stage_id: int) -> None:
        """Count a successful run of a stage, promoting its stage-wide mode after enough of them."""
        prog = wf.progression_for(stage_id)
        _, wide = stage_modes.mode_rows(conn, stage_id, STAGE_WIDE)
        mode = self._effective(wf, stage_id, None, wide)
        after = {str(k): v for k, v in prog.promote_after.items()}
        new = mode
        if mode in after:  # only a mode that can be promoted needs the count
            pending = stage_modes.pending_successes(conn, stage_id)
            new = promote(mode, (wide.successes if wide else 0) + pending + 1, after)
        self._count_run(conn, wf, stage_id, wide, new, success=True, reset=new != mode)

    @staticmethod
    def _count_run(
        conn: Connection, wf: Workflow, stage_id: int, wide: ModeRow | None, mode: str, *, success: bool, reset: bool
    ) -> None:
        """Count a run and store the stage-wide `mode`; `wide` is the stage-wide row as read in this transaction,
        `reset` restarts the success count."""
        current = (wide.mode if wide else None) or wf.progression_for(stage_id).mode
        if mode == current and not reset:
            stage_modes.append_run(conn, stage_id, success, current)
        else:
            stage_modes.fold(conn, stage_id, current, mode, success, reset=reset)

    def listing(self, stage: int | None = None) -> list[dict[str, Any]]:
        """Stage-wide and per-venture modes with their run counts (`Engine.progression`)."""
        with self.plumbing.tx() as conn:
            pending = stage_modes.pending_runs(conn, stage)
            found: list[dict[str, Any]] = [
                {
                    "stage": r.stage,
                    "venture_id": r.venture_id or None,
                    "mode": r.mode,
                    "successes": r.successes,
                    "failures": r.failures,
                }
                for r in stage_modes.all_modes(conn, stage)
            ]
        wf = self.plumbing.workflow.workflow
        wide = {r["stage"]: r for r in found if r["venture_id"] is None}
        for s, (succ, fail) in pending.items():
            if s not in wide:  # no mode change yet: the row is not written before its first fold
                wide[s] = {"stage": s, "venture_id": None, "mode": wf.progression_for(s).mode}
                wide[s] |= {"successes": 0, "failures": 0}
                found.append(wide[s])
            wide[s]["successes"] += succ
            wide[s]["failures"] += fail
        return sorted(found, key=lambda r: (r["stage"], r["venture_id"] or 0))

    def set_mode(
        self,
        stage: int,
        mode: str | None,
        *,
        actor: Actor,
        venture: str | int | None = None,
        now: datetime | None = None,
    ) -> None:
        """Set a stage's mode (stage-wide, or for one venture); `None` removes a venture's override."""
        p = self.plumbing
        now = p.when(now)
        if mode is not None and mode not in MODES:
            raise BadInput(f"unknown mode '{mode}'", where="MODE", hint="manual, assisted or auto")
        p._stage(p.workflow.workflow, stage)
        with p.tx() as conn:
            vid = STAGE_WIDE if venture is None else p._row(conn, venture).id
            stage_modes.set_mode(conn, vid, stage, mode)
            p._event(
                conn,
                vid or None,
                "progression.set",
                actor,
                now,
                stage=stage,
                reason=mode or "override removed",
                data={"mode": mode, "scope": "venture" if vid else "stage"},
            )
