"""The crew's engine rollbacks: ask for a branch of the decision tree, list what was logged, and say what
became of the database once a migration script started (its backup restored, or why it was not).

The `database` handler (`live.py`) restores the backup taken right before the migration when
`deployment.json` says migrations ran, then clears that mark and names the backup it restored: the crew
reads both back after every rollback, so its own later saves never make a second rollback restore the
(by then stale) backup again.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from venturegate.crews.runtime import CrewRun, Stop
from venturegate.crews.stage30.live import ALREADY, Deployment
from venturegate.engine.exceptions import Conflict, NotFound
from venturegate.engine.rollbacks import RollbackRecord

RESTORED = "database restored from"
"""How the `database` handler's detail begins when it restored the backup."""


@dataclass(frozen=True)
class Restore:
    """What became of the database after a migration started: restored from its backup, or not (and why)."""

    ok: bool
    detail: str

    def __str__(self) -> str:
        return self.detail


def request(run: CrewRun, cause: str, reason: str) -> str:
    """Ask the engine for the branch `cause` of the stage's decision tree; say what it did, or why it did nothing."""
    try:
        # keys=[]: the crew changed no setting, so none is restored (a setting changed since the snapshot stays).
        record = run.engine.rollback(run.ctx.venture, cause=cause, actor=run.ctx.actor, reason=reason, keys=[])
    except NotFound as exc:  # no pre-stage-30 snapshot (a venture created at 30 with nothing to restore)
        return f"{cause}: {exc.message}"
    except Conflict as exc:  # the venture was killed or completed meanwhile: the engine rolls nothing back
        return f"{cause}: refused: {exc.message}"
    return f"{cause}: rollback #{record.id} {record.outcome}"


def stop(run: CrewRun, status: str, outcome: str, db: Restore | None) -> Stop:
    """`run.stop(status, outcome)` saying what became of the database; a restore that failed makes the run `failed`."""
    if db is not None:
        status, outcome = (status if db.ok else "failed"), f"{outcome}; {db}"
    return run.stop(status, outcome)


def count(run: CrewRun) -> int:
    """How many rollbacks the venture's log holds (to tell the ones logged after)."""
    return len(run.engine.rollbacks(run.ctx.venture))


def since(run: CrewRun, before: int) -> list[RollbackRecord]:
    """The rollbacks logged since the log held `before` of them, newest first."""
    after = run.engine.rollbacks(run.ctx.venture)
    return after[: len(after) - before]


def logged(run: CrewRun, before: int, db: Restore | None = None) -> dict[str, Any]:
    """The engine rollbacks logged since the log held `before`, what their handlers did, and the database's fate."""
    records = since(run, before)
    out: dict[str, Any] = {
        "engine_rollbacks": [{"id": r.id, "cause": r.cause, "trigger": r.trigger, "outcome": r.outcome,
                              "scope": r.scope} for r in records],
        "handlers": [f"{h.scope}: {h.detail}" for r in records for h in r.handlers],
    }  # fmt: skip
    if db is not None:
        out["database"] = {"restored": db.ok, "detail": db.detail}
    return out


def database(run: CrewRun, dep: Deployment, folder: Path, before: int, why: str) -> Restore:
    """What the rollbacks logged since `before` did to the database (`why`: what the crew's request came to)."""
    _reread(dep, folder)
    handled = [(r, h) for r in since(run, before) for h in r.handlers if h.scope == "database"]
    for r, h in handled:
        if h.ok and h.detail.startswith((RESTORED, ALREADY)):  # already: by a rollback since this run migrated
            return Restore(True, f"{h.detail} (rollback #{r.id}, {r.trigger or r.cause})")
    for r, h in handled:
        if not h.ok:
            escalated = f", escalation {r.escalation}" if r.escalation else ""
            return Restore(False, f"database NOT restored: {h.detail} (rollback #{r.id} {r.outcome}{escalated})")
    detail = handled[0][1].detail if handled else why
    return Restore(False, f"database NOT restored: {detail}")


def undo_migrations(run: CrewRun, dep: Deployment, folder: Path, reason: str) -> Restore | None:
    """When a migration script started in this deployment, restore its backup through the decision tree's
    `schema_changed` branch (traffic back on blue, then the database); None when no migration ran."""
    if not dep.migrations_ran:
        return None
    _reread(dep, folder)
    if not dep.migrations_ran:  # a rollback from elsewhere (the CLI, an approved trigger) restored it in this run
        earlier = [(r, h) for r in run.engine.rollbacks(run.ctx.venture) if r.started_at >= run.started_at
                   for h in r.handlers if h.scope == "database" and h.ok and h.detail.startswith(RESTORED)]  # fmt: skip
        if earlier:
            r, h = earlier[0]
            return Restore(True, f"{h.detail} (rollback #{r.id}, {r.trigger or r.cause})")
    before = count(run)
    return database(run, dep, folder, before, request(run, "schema_changed", reason))


def _reread(dep: Deployment, folder: Path) -> None:
    """Take over the `migrations_ran` mark (and the backup restored) as the `database` handler left them on disk."""
    saved = Deployment.load(folder)
    if saved is not None:
        dep.migrations_ran, dep.restored, dep.restored_at = saved.migrations_ran, saved.restored, saved.restored_at
