"""The venture's production as persisted state, and the rollback handlers that act on it from any process.

The local driver keeps production (HAProxy and the versions) in a folder named from the venture's id,
`<workspace>/.venturegate/deploy/v<venture id>/`: the driver's `state.json` (pids, ports, admin socket)
and this module's `deployment.json` (which release is blue and green, the backup taken right before the
migrations, whether they ran and are not undone yet, and which backup was restored). An engine rollback -
from a trigger, the CLI, the API, the worker or a timer - runs the handlers of the scopes it touches;
stage 30 declares three, served by `handlers()`:

- `traffic`: all traffic of the venture's production back to blue;
- `database`: restore the backup taken right before this deployment's migrations, once (a restored
  backup is never restored again: the next migration takes a fresh one);
- `green`: take green out of rotation and stop it (the "destroy green" of the decision tree).

Handlers run inside the engine's rollback transaction, so they act on the outside world only and never
call the engine. A venture without a running production has nothing to act on; the handler says so.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path

from venturegate.crews.stage30.haproxy import STATE_FILE, DriverError, LocalDriver
from venturegate.engine.rollbacks import RollbackContext, RollbackHandler

DEPLOYMENT_FILE = "deployment.json"
ALREADY = "database already restored from"
"""How the `database` handler's detail begins when an earlier rollback restored the backup."""


def production_dir(workspace: Path, venture_id: int) -> Path:
    """Where the venture's production state lives (named from its id only)."""
    return workspace / ".venturegate" / "deploy" / f"v{int(venture_id)}"


def default_workspace() -> Path:
    """`VENTUREGATE_WORKSPACE`, else the current directory: where every process finds production."""
    return Path(os.environ.get("VENTUREGATE_WORKSPACE") or ".").resolve()


@dataclass
class Deployment:
    """What the handlers need to know about the deployment in progress (or the last one)."""

    blue: str
    green: str | None = None
    state: str = "serving"
    """serving (blue only), cutover, held, live (green took all traffic), rolled_back, cancelled."""
    database_url: str | None = None
    backup: str | None = None
    """30.1's backup until a migration starts; then the one taken right before it (the one a restore uses)."""
    migrations_ran: bool = False
    """A migration started and is neither live nor undone: the `database` handler restores `backup`."""
    restore_timeout: float = 300.0
    release: str | None = None
    """The release being deployed (green's version)."""
    run: str | None = None
    """The crew run that started the migration."""
    restored: str | None = None
    """The backup the `database` handler restored (and `restored_at`, ISO 8601 UTC), once it did."""
    restored_at: str | None = None

    def save(self, folder: Path) -> None:
        folder.mkdir(parents=True, exist_ok=True)
        tmp = folder / (DEPLOYMENT_FILE + ".tmp")
        # The database URL may carry a password: the file is for this user only.
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as f:
            json.dump(asdict(self), f, indent=2)
        tmp.replace(folder / DEPLOYMENT_FILE)

    @classmethod
    def load(cls, folder: Path) -> Deployment | None:
        try:
            data = json.loads((folder / DEPLOYMENT_FILE).read_text())
        except (OSError, ValueError):
            return None
        known = set(cls.__dataclass_fields__)
        return cls(**{k: v for k, v in data.items() if k in known}) if isinstance(data, dict) else None


def running(folder: Path) -> bool:
    """Whether a production is recorded in `folder` (it may have died since; `attach` tells)."""
    return (folder / STATE_FILE).exists()


def move_traffic_to_blue(ctx: RollbackContext) -> str:
    """The `traffic` handler: all traffic of the venture's production back to blue (the last known-good)."""
    return handlers()["traffic"](ctx)  # type: ignore[return-value]


def restore_database(ctx: RollbackContext) -> str:
    """The `database` handler: restore the pre-migration backup when this deployment's migrations are not undone."""
    return handlers()["database"](ctx)  # type: ignore[return-value]


def destroy_green(ctx: RollbackContext) -> str:
    """The `green` handler: green out of rotation (traffic to blue first) and stopped."""
    return handlers()["green"](ctx)  # type: ignore[return-value]


def default_handlers() -> dict[str, RollbackHandler]:
    """The handlers the crew declares: production found under `default_workspace()` when they run."""
    return {"traffic": move_traffic_to_blue, "database": restore_database, "green": destroy_green}


def handlers(workspace: Callable[[], Path] = default_workspace) -> dict[str, RollbackHandler]:
    """The `traffic`, `database` and `green` handlers, finding production under `workspace()`."""

    def attach(ctx: RollbackContext) -> tuple[LocalDriver, Deployment | None] | None:
        folder = production_dir(workspace(), ctx.venture_id)
        if not running(folder):
            return None
        try:
            return LocalDriver.attach(folder), Deployment.load(folder)
        except DriverError:
            return None

    def move_traffic_to_blue(ctx: RollbackContext) -> str:
        """All traffic of the venture's production back to blue (the last known-good version)."""
        found = attach(ctx)
        if found is None:
            return "no production of this venture is running: nothing to move"
        driver, dep = found
        try:
            versions = driver.versions()
            if "green" not in versions:
                return f"all traffic already on blue ({versions.get('blue')}): no green is running"
            driver.set_weights(100, 0)
            if dep is not None and dep.state in ("cutover", "held"):
                dep.state = "rolled_back"
                dep.save(production_dir(workspace(), ctx.venture_id))
            return f"all traffic on blue ({versions.get('blue')}); green ({versions['green']}) takes none"
        finally:
            driver.detach()

    def restore_database(ctx: RollbackContext) -> str:
        """Restore the backup taken before this deployment's migrations, unless it was restored already."""
        folder = production_dir(workspace(), ctx.venture_id)
        dep = Deployment.load(folder)
        if dep is None:
            return "no deployment of this venture is recorded: nothing to restore"
        if not dep.migrations_ran and dep.restored is not None:
            return f"{ALREADY} {Path(dep.restored).name} at {dep.restored_at}: nothing to restore"
        if not dep.migrations_ran:
            return "no migration ran in this deployment: the database is unchanged"
        if dep.backup is None or dep.database_url is None:
            raise RuntimeError("rollback failed: migrations ran but there is no backup to restore")
        from venturegate.crews.stage30.backup import restore_backup

        backup = Path(dep.backup)
        detail = restore_backup(backup, dep.database_url, timeout=dep.restore_timeout)
        dep.migrations_ran = False
        dep.restored, dep.restored_at = str(backup), datetime.now(UTC).isoformat(timespec="seconds")
        dep.save(folder)
        return f"database restored from {backup.name}: {detail}"

    def destroy_green(ctx: RollbackContext) -> str:
        """Green out of rotation (traffic to blue first) and stopped."""
        found = attach(ctx)
        if found is None:
            return "no production of this venture is running: nothing to destroy"
        driver, dep = found
        try:
            green = driver.versions().get("green")
            if green is None:
                return "no green is running"
            driver.stop(green)
            if dep is not None:
                dep.green = None
                dep.save(production_dir(workspace(), ctx.venture_id))
            return f"green ({green}) stopped"
        finally:
            driver.detach()

    return {"traffic": move_traffic_to_blue, "database": restore_database, "green": destroy_green}
