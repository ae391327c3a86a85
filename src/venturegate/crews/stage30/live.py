"""Deployments in progress, and the rollback handlers that act on them for the engine.

An engine rollback (from a trigger, the CLI, the API or the crew itself) runs the handlers of the
scopes it touches; stage 30 declares three, and this module registers one for each:

- `traffic`: all traffic of the venture's live deployment back to blue;
- `database`: restore the backup 30.1 took, when migrations ran in this deployment;
- `green`: take green out of rotation and stop it (the "destroy green" of the decision tree).

Handlers run inside the engine's rollback transaction, so they act on the outside world only and
never call the engine. A venture without a live deployment has nothing to act on; the handler says so. The crew declares
them (`DeploymentCrew.hooks`), so every engine a process opens runs them.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from venturegate.crews.stage30.driver import DeploymentDriver
from venturegate.engine.rollbacks import RollbackContext


@dataclass
class LiveDeployment:
    """One venture's deployment while the crew runs it: the driver, the two versions, the backup."""

    driver: DeploymentDriver
    blue: str
    green: str
    database_url: str | None = None
    backup: Path | None = None
    migrations_ran: bool = False
    restore_timeout: float = 300.0
    log: list[str] = field(default_factory=list)
    """What the handlers did, in order (the crew copies it into its rollback log)."""


_live: dict[str, LiveDeployment] = {}
_lock = threading.Lock()


def current(venture: str) -> LiveDeployment | None:
    """The venture's live deployment, if the crew is running one."""
    with _lock:
        return _live.get(venture)


@contextlib.contextmanager
def live(venture: str, deployment: LiveDeployment) -> Iterator[LiveDeployment]:
    """Make `deployment` the venture's live one (what rollback handlers act on) for the block."""
    with _lock:
        _live[venture] = deployment
    try:
        yield deployment
    finally:
        with _lock:
            _live.pop(venture, None)


def move_traffic_to_blue(ctx: RollbackContext) -> str:
    """The `traffic` handler: all traffic of the venture's live deployment back to blue."""
    dep = current(ctx.venture)
    if dep is None:
        return "no live deployment of this venture: nothing to move"
    dep.driver.set_weights(100, 0)
    dep.log.append(f"traffic: all on blue ({dep.blue})")
    return "all traffic on blue"


def restore_database(ctx: RollbackContext) -> str:
    """The `database` handler: restore 30.1's backup when this deployment ran migrations."""
    dep = current(ctx.venture)
    if dep is None:
        return "no live deployment of this venture: nothing to restore"
    if not dep.migrations_ran:
        return "no migration ran in this deployment: the database is unchanged"
    if dep.backup is None or dep.database_url is None:
        raise RuntimeError("rollback failed: migrations ran but there is no backup to restore")
    from venturegate.crews.stage30.backup import restore_backup

    detail = restore_backup(dep.backup, dep.database_url, timeout=dep.restore_timeout)
    dep.log.append(f"database: restored from {dep.backup.name}")
    return f"database restored from {dep.backup.name}: {detail}"


def destroy_green(ctx: RollbackContext) -> str:
    """The `green` handler: green out of rotation (traffic to blue first) and stopped."""
    dep = current(ctx.venture)
    if dep is None:
        return "no live deployment of this venture: nothing to destroy"
    try:
        dep.driver.stop(dep.green)
    except RuntimeError as exc:
        if "not running" in str(exc):
            return f"green ({dep.green}) is not running"
        raise
    dep.log.append(f"green: {dep.green} stopped")
    return f"green ({dep.green}) stopped"
