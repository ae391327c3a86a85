"""PreDeploymentValidator (30.1): health checks, dependency checks and a verified database backup.

The module knows nothing of the engine; the crew turns a `ValidationReport` into samples
(`health_check_pass_rate`, `dependency_check_pass_rate`, `backup_verification_pass_rate`) and, when
`report.ok` is false, into the typed error `report.error()` for the stage's error rules.

- **Health checks** (`HealthCheck(name, url)`, name `database`, `api` or `external`): an `http(s)://`
  URL must answer exactly 200 (after redirects); a `postgresql://` (or SQLAlchemy `postgresql+psycopg://`) URL must
  accept a connection and answer `select 1`. Each check gets `retries` tries in all (as
  `deployment.health_check_retries` counts them: the studio's 3) `interval` seconds apart (the
  studio's 10 s), each bounded by `timeout`; `sleep` is injected so tests never wait. A plan without
  any health check fails (`health_check_pass_rate` 0): nothing would show production is healthy.
- **Dependencies** (`Dependency(name, kind, target, critical)`), one try each:
  `env_var` - the variable `target` (default: `name`) is set and non-empty in `plan.environ`;
  `secret` - `file:/path` names a non-empty file, anything else an environment variable as above
  (values are never read into a report);
  `external_service` - the URL answers any HTTP status below 500;
  `migration` - `cmd:<command>` runs (shell-split, no shell) and exits 0, anything else is a path
  to a migration file or directory that must exist.
  A non-critical failure is reported but neither fails the validation nor lowers
  `dependency_check_pass_rate`, which is the share of *critical* dependencies verified.
- **Backup** (when the plan has a `database_url`): `take_backup` runs `pg_dump -Fc` inside an exported snapshot and
  writes, beside the dump, the exact row count of every table *in that snapshot* (`<dump>.json`), so
  verifying never races live writes. `verify_backup` reads the archive's table of contents, restores
  it into a scratch database (`vg_verify_<hex>`, created on the source's server or on `scratch_url`,
  always dropped) and compares every table's `count(*)` with those counts (with the live source's
  when there is no manifest - exact only on a quiet source). `restore_backup` restores a dump over a
  database in one transaction (the `database` rollback handler's tool); tables created after the
  backup are left in place.

`validate` runs every health and dependency check so the report is complete; the backup step is
skipped when the health checks did not all pass (the report says so). `backup_verification_pass_rate` is the
share of the four backup steps passed (taken, archive readable, restored, row counts equal): 100 when
the plan asks for no database backup (a note says so), 0 when a requested backup was skipped.
"""

from __future__ import annotations

import http.client
import json
import math
import os
import shlex
import shutil
import subprocess
import time
import urllib.error
import urllib.parse
import urllib.request
import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal

import psycopg
from psycopg import sql
from psycopg.conninfo import conninfo_to_dict, make_conninfo

HealthName = Literal["database", "api", "external"]
DependencyKind = Literal["external_service", "migration", "env_var", "secret"]
HEALTH_NAMES = ("database", "api", "external")
DEPENDENCY_KINDS = ("external_service", "migration", "env_var", "secret")
BACKUP_STEPS = ("backup taken", "archive readable", "restored to scratch", "row counts equal")


class HealthCheckError(RuntimeError):
    """A pre-deployment health check failed (matched by the stage's E30-HEALTH-CHECK rule)."""


class DependencyCheckError(RuntimeError):
    """A critical dependency is missing (matched by E30-DEPENDENCY)."""


class BackupVerificationError(RuntimeError):
    """A backup could not be taken, verified or restored (matched by E30-BACKUP)."""


@dataclass(frozen=True)
class HealthCheck:
    """One health endpoint: `name` is database, api or external; `url` is http(s) or postgresql."""

    name: str
    url: str

    def __post_init__(self) -> None:
        if self.name not in HEALTH_NAMES:
            raise ValueError(f"health check name must be one of {HEALTH_NAMES}, not {self.name!r}")


@dataclass(frozen=True)
class Dependency:
    """One dependency to verify; `target` defaults to `name` (see the module docstring per kind)."""

    name: str
    kind: str
    target: str = ""
    critical: bool = True

    def __post_init__(self) -> None:
        if self.kind not in DEPENDENCY_KINDS:
            raise ValueError(f"dependency kind must be one of {DEPENDENCY_KINDS}, not {self.kind!r}")


@dataclass(frozen=True)
class ValidationPlan:
    """What 30.1 checks; the defaults are the studio's. A database backup is taken when `database_url` is set."""

    health_checks: Sequence[HealthCheck]
    dependencies: Sequence[Dependency] = ()
    database_url: str | None = None
    """The production database to back up (SQLAlchemy or libpq URL)."""
    backup_dir: Path | None = None
    backup_timeout: float = 1800.0
    """Seconds for taking plus verifying the backup (`deployment.backup_verification_timeout`, 30 min)."""
    scratch_url: str | None = None
    """A server to restore the scratch copy on (a staging server); default the database's own server."""
    environ: Mapping[str, str] = field(default_factory=lambda: os.environ)
    retries: int = 3
    """Tries per health check in all, as `deployment.health_check_retries` counts them."""
    interval: float = 10.0
    """Seconds between tries."""
    timeout: float = 5.0
    """Seconds per try (and per dependency check)."""

    def __post_init__(self) -> None:
        object.__setattr__(self, "health_checks", tuple(self.health_checks))
        object.__setattr__(self, "dependencies", tuple(self.dependencies))
        if self.retries < 1 or self.interval < 0 or self.timeout <= 0 or self.backup_timeout <= 0:
            raise ValueError("retries must be >= 1, interval >= 0, timeout and backup_timeout > 0")
        if self.database_url is not None and self.backup_dir is None:
            raise ValueError("a database backup needs a backup_dir")

    @classmethod
    def from_config(cls, config: Mapping[str, Any], **fields: Any) -> ValidationPlan:
        """A plan with the stage-30 configuration's retries and backup timeout (minutes), then `fields`."""
        values: dict[str, Any] = {}
        if "deployment.health_check_retries" in config:
            values["retries"] = int(config["deployment.health_check_retries"])
        if "deployment.backup_verification_timeout" in config:
            values["backup_timeout"] = 60.0 * float(config["deployment.backup_verification_timeout"])
        return cls(**(values | fields))


@dataclass(frozen=True)
class CheckResult:
    """The outcome of one health or dependency check."""

    name: str
    kind: str
    """`health` for health checks, the dependency kind otherwise."""
    ok: bool
    detail: str
    attempts: int
    ms: float
    critical: bool = True


@dataclass(frozen=True)
class TableCount:
    """One table's rows in the source (at backup time when known) and in the restored copy."""

    table: str
    source: int | None
    restored: int | None

    @property
    def equal(self) -> bool:
        """Both sides counted and the same."""
        return self.source is not None and self.source == self.restored


@dataclass(frozen=True)
class BackupStep:
    """One backup step: taken, archive readable, restored to scratch, row counts equal."""

    name: str
    ok: bool
    detail: str


@dataclass(frozen=True)
class BackupResult:
    """A backup's verification: its steps, per-table counts and the scratch database used (now dropped)."""

    path: Path | None
    steps: tuple[BackupStep, ...]
    tables: tuple[TableCount, ...] = ()
    scratch_database: str = ""
    counted_against: str = ""
    """`snapshot` (the counts taken with the dump) or `live source`."""
    cleanup: str = ""
    """Why the scratch database could not be dropped (empty when it was); not a verification failure."""
    ms: float = 0.0

    @property
    def ok(self) -> bool:
        """Every step ran and passed."""
        return len(self.steps) > 0 and all(s.ok for s in self.steps)

    @property
    def mismatches(self) -> list[TableCount]:
        """Tables whose counts differ or that are missing on one side."""
        return [t for t in self.tables if not t.equal]

    @property
    def detail(self) -> str:
        """The first failed step's detail, or a one-line summary."""
        failed = next((s for s in self.steps if not s.ok), None)
        if failed is not None:
            return f"{failed.name}: {failed.detail}"
        return f"{len(self.tables)} tables restored with equal row counts"


@dataclass(frozen=True)
class ValidationReport:
    """Everything 30.1 found; `ok` is the go/no-go."""

    health: tuple[CheckResult, ...]
    dependencies: tuple[CheckResult, ...]
    backup: BackupResult | None
    backup_note: str = ""
    backup_skipped: bool = False
    """A backup was asked for but not attempted (the health checks did not all pass)."""
    ms: float = 0.0

    @property
    def health_check_pass_rate(self) -> float:
        """Percent of health checks passed (0 when the plan has none: nothing shows production is healthy)."""
        return _rate(self.health) if self.health else 0.0

    @property
    def dependency_check_pass_rate(self) -> float:
        """Percent of critical dependencies verified (100 when none is critical)."""
        return _rate([d for d in self.dependencies if d.critical])

    @property
    def backup_verification_pass_rate(self) -> float:
        """Percent of the backup steps passed; 100 with no backup asked, 0 when it was skipped."""
        if self.backup is None:
            return 0.0 if self.backup_skipped else 100.0
        passed = sum(1 for s in self.backup.steps if s.ok)
        return 100.0 * passed / len(BACKUP_STEPS)

    @property
    def ok(self) -> bool:
        """Go: every health check, every critical dependency and the backup (if asked) passed."""
        return not self.failures

    @property
    def failures(self) -> list[str]:
        """One line per failed health check, critical dependency and backup problem."""
        out = [f"health check {c.name}: {c.detail}" for c in self.health if not c.ok]
        if not self.health:
            out.append("health check: the plan has none, so nothing shows production is healthy")
        out += [f"dependency {c.name} ({c.kind}): {c.detail}" for c in self.dependencies if c.critical and not c.ok]
        if self.backup_skipped:
            out.append(f"backup {self.backup_note}")
        elif self.backup is not None and not self.backup.ok:
            out.append(f"backup verification failed: {self.backup.detail}")
        return out

    def error(self) -> HealthCheckError | DependencyCheckError | BackupVerificationError | None:
        """The typed exception of the first failing part (for the stage's error rules), or None."""
        failures = self.failures
        if not failures:
            return None
        if self.health_check_pass_rate < 100:
            return HealthCheckError("; ".join(f for f in failures if f.startswith("health check")))
        if self.dependency_check_pass_rate < 100:
            return DependencyCheckError("; ".join(f for f in failures if f.startswith("dependency")))
        return BackupVerificationError("; ".join(failures))

    def as_dict(self) -> dict[str, Any]:
        """JSON form, with the pass rates and failures."""
        backup = None
        if self.backup is not None:
            backup = asdict(self.backup) | {"path": str(self.backup.path) if self.backup.path else None}
            backup |= {"ok": self.backup.ok, "mismatches": [t.table for t in self.backup.mismatches]}
        return {
            "ok": self.ok,
            "health_check_pass_rate": self.health_check_pass_rate,
            "dependency_check_pass_rate": self.dependency_check_pass_rate,
            "backup_verification_pass_rate": self.backup_verification_pass_rate,
            "failures": self.failures,
            "health": [asdict(c) for c in self.health],
            "dependencies": [asdict(c) for c in self.dependencies],
            "backup": backup,
            "backup_note": self.backup_note,
            "backup_skipped": self.backup_skipped,
            "ms": self.ms,
        }


def _rate(results: Sequence[CheckResult]) -> float:
    return 100.0 * sum(1 for r in results if r.ok) / len(results) if results else 100.0


# -- health and dependency checks --------------------------------------------------------------
def redact(url: str) -> str:
    """`url` with any password replaced by `***` (for messages and reports)."""
    parts = urllib.parse.urlsplit(url)
    if parts.password is None:
        return url
    netloc = parts.netloc.replace(f":{parts.password}@", ":***@", 1)
    return urllib.parse.urlunsplit(parts._replace(netloc=netloc))


def _http_status(url: str, timeout: float) -> int:
    """The status `url` answers a GET with (an HTTP error status is an answer too)."""
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response:
            response.read(65536)
            return int(response.status)
    except urllib.error.HTTPError as e:
        e.close()
        return int(e.code)


def _probe(url: str, timeout: float) -> str:
    """Return a success detail or raise `HealthCheckError` with the reason."""
    scheme = urllib.parse.urlsplit(url).scheme.lower()
    try:
        if scheme in ("http", "https"):
            status = _http_status(url, timeout)
            if status != 200:
                raise HealthCheckError(f"answered HTTP {status}, not 200")
            return "HTTP 200"
        if scheme.split("+")[0] in ("postgresql", "postgres"):
            with psycopg.connect(libpq_url(url), connect_timeout=max(2, math.ceil(timeout))) as conn:
                row = conn.execute("select 1").fetchone()
            if row is None or row[0] != 1:
                raise HealthCheckError(f"`select 1` returned {row!r}")
            return "select 1 ok"
    except (urllib.error.URLError, http.client.HTTPException, OSError, psycopg.Error) as e:
        reason = e.reason if isinstance(e, urllib.error.URLError) else e
        raise HealthCheckError(str(reason).strip() or type(e).__name__) from e
    raise HealthCheckError(f"unsupported URL scheme {scheme!r} (use http, https or postgresql)")


def check_health(
    check: HealthCheck,
    *,
    retries: int = 3,
    interval: float = 10.0,
    timeout: float = 5.0,
    sleep: Callable[[float], None] = time.sleep,
) -> CheckResult:
    """Probe `check.url` up to `retries` times in all, `interval` s apart; the last failure is the detail."""
    started = time.perf_counter()
    detail = ""
    for attempt in range(1, retries + 1):
        try:
            ok_detail = _probe(check.url, timeout)
        except HealthCheckError as e:
            detail = f"{redact(check.url)} {e}"
            if attempt < retries:
                sleep(interval)
            continue
        return CheckResult(check.name, "health", True, ok_detail, attempt, _ms(started))
    message = f"health check failed after {retries} attempt{'s' * (retries > 1)}: {detail}"
    return CheckResult(check.name, "health", False, message, retries, _ms(started))


def check_dependency(dep: Dependency, environ: Mapping[str, str], *, timeout: float = 5.0) -> CheckResult:
    """Verify one dependency (one try); secret values never appear in the result."""
    started = time.perf_counter()
    target = dep.target or dep.name
    try:
        detail = _dependency(dep.kind, target, environ, timeout)
    except DependencyCheckError as e:
        return CheckResult(dep.name, dep.kind, False, str(e), 1, _ms(started), dep.critical)
    return CheckResult(dep.name, dep.kind, True, detail, 1, _ms(started), dep.critical)


def _dependency(kind: str, target: str, environ: Mapping[str, str], timeout: float) -> str:
    if kind == "env_var":
        if not environ.get(target):
            raise DependencyCheckError(f"environment variable {target} is not set or empty")
        return f"environment variable {target} is set"
    if kind == "secret":
        if target.startswith("file:"):
            path = Path(target.removeprefix("file:"))
            if not path.is_file() or path.stat().st_size == 0:
                raise DependencyCheckError(f"secret file {path} is missing or empty")
            return f"secret file {path} present (value not read)"
        if not environ.get(target):
            raise DependencyCheckError(f"secret {target} is not set in the environment")
        return f"secret {target} is set (value hidden)"
    if kind == "external_service":
        try:
            status = _http_status(target, timeout)
        except (urllib.error.URLError, http.client.HTTPException, OSError, ValueError) as e:
            reason = e.reason if isinstance(e, urllib.error.URLError) else e
            raise DependencyCheckError(f"external service dependency {redact(target)} unreachable: {reason}") from e
        if status >= 500:
            raise DependencyCheckError(f"external service dependency {redact(target)} answered HTTP {status}")
        return f"answered HTTP {status}"
    # migration
    if target.startswith("cmd:"):
        argv = shlex.split(target.removeprefix("cmd:"))
        try:
            done = subprocess.run(
                argv, capture_output=True, text=True, timeout=timeout, env={**os.environ, **environ}, check=False
            )
        except (OSError, subprocess.TimeoutExpired, ValueError) as e:
            raise DependencyCheckError(f"migration check `{shlex.join(argv)}` could not run: {e}") from e
        if done.returncode != 0:
            tail = (done.stderr or done.stdout).strip()[-300:]
            raise DependencyCheckError(f"migration check `{shlex.join(argv)}` exited {done.returncode}: {tail}")
        return f"`{shlex.join(argv)}` exited 0"
    if not Path(target).exists():
        raise DependencyCheckError(f"migration path {target} does not exist")
    return f"migration path {target} exists"


def _ms(started: float) -> float:
    return (time.perf_counter() - started) * 1000


# -- backups ---------------------------------------------------------------------------------
def libpq_url(url: str) -> str:
    """A libpq URL from a SQLAlchemy one (`postgresql+psycopg://` becomes `postgresql://`)."""
    scheme, sep, rest = url.partition("://")
    if not sep:
        return url
    if scheme.split("+")[0] not in ("postgresql", "postgres"):
        raise ValueError(f"not a PostgreSQL URL: {redact(url)}")
    return f"postgresql://{rest}"


@dataclass(frozen=True)
class _Conn:
    """Connection parameters split for tools: conninfo without the password, the password in the env."""

    params: dict[str, str]

    @classmethod
    def of(cls, url: str) -> _Conn:
        return cls({k: str(v) for k, v in conninfo_to_dict(libpq_url(url)).items() if v is not None})

    @property
    def dbname(self) -> str:
        return self.params.get("dbname") or self.params.get("user") or "postgres"

    def with_db(self, dbname: str) -> _Conn:
        return _Conn({**self.params, "dbname": dbname})

    def connect(self, timeout: float, **kwargs: Any) -> psycopg.Connection[tuple[Any, ...]]:
        return psycopg.connect(make_conninfo(**self.params), connect_timeout=max(2, math.ceil(timeout)), **kwargs)

    def tool_args(self) -> tuple[str, dict[str, str]]:
        public = {k: v for k, v in self.params.items() if k != "password"}
        env = {**os.environ, "PGCONNECT_TIMEOUT": "10"}
        if "password" in self.params:
            env["PGPASSWORD"] = self.params["password"]
        return make_conninfo(**public), env


_TABLES = """
select n.nspname, c.relname from pg_class c join pg_namespace n on n.oid = c.relnamespace
where c.relkind in ('r', 'p') and n.nspname not in ('pg_catalog', 'information_schema')
  and n.nspname !~ '^pg_(toast|temp_)'
  and not exists (select 1 from pg_depend d where d.objid = c.oid and d.deptype = 'e')
order by 1, 2
"""


def _count_tables(conn: psycopg.Connection[tuple[Any, ...]]) -> dict[str, int]:
    """Exact `count(*)` of every user table (extension-owned ones excluded), as `schema.table`."""
    counts: dict[str, int] = {}
    for schema, table in conn.execute(_TABLES).fetchall():
        query = sql.SQL("select count(*) from {}.{}").format(sql.Identifier(schema), sql.Identifier(table))
        row = conn.execute(query).fetchone()
        counts[f"{schema}.{table}"] = int(row[0]) if row else 0
    return counts


def _tool(name: str) -> str:
    found = shutil.which(name)
    if found is None:
        raise BackupVerificationError(f"backup tool {name} is not installed (PostgreSQL client tools)")
    return found


def _run(argv: list[str], env: dict[str, str], timeout: float, what: str) -> str:
    """Run a PostgreSQL tool; raise `BackupVerificationError` with its stderr on failure or timeout."""
    try:
        done = subprocess.run(argv, capture_output=True, text=True, env=env, timeout=max(timeout, 0.1), check=False)
    except subprocess.TimeoutExpired as e:
        raise BackupVerificationError(f"{what} timed out after {timeout:.0f} s") from e
    if done.returncode != 0:
        raise BackupVerificationError(f"{what} failed (exit {done.returncode}): {done.stderr.strip()[-500:]}")
    return done.stdout


def manifest_path(dump: Path) -> Path:
    """Where `take_backup` writes the dump's row counts."""
    return dump.with_name(dump.name + ".json")


def take_backup(database_url: str, out_dir: Path, timeout: float = 1800.0) -> Path:
    """`pg_dump -Fc` of the database into `out_dir`, with its snapshot's row counts beside it; return the dump."""
    pg_dump = _tool("pg_dump")
    src = _Conn.of(database_url)
    deadline = time.monotonic() + timeout
    out_dir.mkdir(parents=True, exist_ok=True)
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    path = out_dir / f"{src.dbname}-{stamp}-{uuid.uuid4().hex[:6]}.dump"
    conninfo, env = src.tool_args()
    try:
        with src.connect(timeout) as conn:
            conn.isolation_level = psycopg.IsolationLevel.REPEATABLE_READ
            conn.read_only = True
            row = conn.execute("select pg_export_snapshot()").fetchone()
            snapshot = str(row[0]) if row else ""
            counts = _count_tables(conn)
            # The transaction stays open while pg_dump reads the same snapshot.
            argv = [pg_dump, "-Fc", f"--snapshot={snapshot}", "-f", str(path), f"--dbname={conninfo}"]
            _run(argv, env, deadline - time.monotonic(), f"backup of {src.dbname} (pg_dump)")
    except psycopg.Error as e:
        path.unlink(missing_ok=True)
        raise BackupVerificationError(f"backup of {src.dbname}: cannot read the database: {e}") from e
    except BackupVerificationError:
        path.unlink(missing_ok=True)
        raise
    manifest = {"database": src.dbname, "taken_at": stamp, "snapshot": snapshot, "tables": counts}
    manifest_path(path).write_text(json.dumps(manifest, indent=2) + "\n", encoding="utf-8")
    return path


def verify_backup(
    path: Path, database_url: str, timeout: float = 1800.0, *, scratch_url: str | None = None
) -> BackupResult:
    """Restore `path` into a scratch database and compare row counts; the scratch database is always dropped."""
    started = time.perf_counter()
    deadline = time.monotonic() + timeout
    steps: list[BackupStep] = []
    server = _Conn.of(scratch_url) if scratch_url else _Conn.of(database_url)
    scratch = f"vg_verify_{uuid.uuid4().hex[:12]}"
    try:
        if not path.is_file() or path.stat().st_size == 0:
            raise BackupVerificationError(f"backup file {path} is missing or empty")
        toc = _run([_tool("pg_restore"), "--list", str(path)], dict(os.environ), timeout, "pg_restore --list")
        entries = sum(1 for line in toc.splitlines() if line and not line.startswith(";"))
        steps.append(BackupStep("archive readable", True, f"{entries} entries, {path.stat().st_size} bytes"))
    except BackupVerificationError as e:
        steps.append(
            BackupStep("archive readable", False, f"backup {path.name} is not a readable pg_dump archive: {e}")
        )
        return BackupResult(path, tuple(steps), ms=_ms(started))
    against = "snapshot" if manifest_path(path).is_file() else "live source"
    tables: list[TableCount] = []
    created = False
    try:
        with server.connect(deadline - time.monotonic(), autocommit=True) as admin:
            admin.execute(sql.SQL("create database {}").format(sql.Identifier(scratch)))
        created = True
        tables = _restore_and_count(path, database_url, server.with_db(scratch), deadline, steps)
    except (BackupVerificationError, psycopg.Error, OSError, ValueError, KeyError) as e:
        step = "restored to scratch" if len(steps) == 1 else "row counts equal"
        steps.append(BackupStep(step, False, f"backup verification failed: {e}"))
    cleanup = _drop(server, scratch) if created else ""
    return BackupResult(path, tuple(steps), tuple(tables), scratch, against, cleanup, _ms(started))


def _restore_and_count(
    path: Path, database_url: str, scratch: _Conn, deadline: float, steps: list[BackupStep]
) -> list[TableCount]:
    """pg_restore into the (empty) scratch database, then compare its counts with the source's."""
    conninfo, env = scratch.tool_args()
    argv = [_tool("pg_restore"), "--no-owner", "--no-privileges", "--exit-on-error", "-d", conninfo, str(path)]
    _run(argv, env, deadline - time.monotonic(), "restore of the backup into a scratch database (pg_restore)")
    steps.append(BackupStep("restored to scratch", True, f"restored into {scratch.dbname}"))
    with scratch.connect(deadline - time.monotonic()) as conn:
        restored = _count_tables(conn)
    manifest = manifest_path(path)
    if manifest.is_file():
        source = {str(k): int(v) for k, v in json.loads(manifest.read_text(encoding="utf-8"))["tables"].items()}
    else:
        with _Conn.of(database_url).connect(deadline - time.monotonic()) as conn:
            source = _count_tables(conn)
    tables = [TableCount(t, source.get(t), restored.get(t)) for t in sorted(source.keys() | restored.keys())]
    bad = [t for t in tables if not t.equal]
    if bad:
        listing = ", ".join(f"{t.table} source {t.source} vs restored {t.restored}" for t in bad[:10])
        steps.append(BackupStep("row counts equal", False, f"backup row counts differ: {listing}"))
    else:
        steps.append(BackupStep("row counts equal", True, f"{len(tables)} tables, {sum(restored.values())} rows"))
    return tables


def _drop(server: _Conn, scratch: str) -> str:
    """Drop the scratch database (forcing out stray sessions); return the problem, never raise."""
    try:
        with server.connect(10.0, autocommit=True) as admin:
            admin.execute(sql.SQL("drop database if exists {} with (force)").format(sql.Identifier(scratch)))
    except psycopg.Error as e:
        return f"scratch database {scratch} could not be dropped: {e}"
    return ""


def restore_backup(path: Path, database_url: str, timeout: float = 1800.0) -> str:
    """Restore `path` over the database in one transaction (`--clean --if-exists`); raise on failure."""
    if not path.is_file():
        raise BackupVerificationError(f"backup file {path} does not exist; nothing to restore")
    target = _Conn.of(database_url)
    conninfo, env = target.tool_args()
    argv = [
        _tool("pg_restore"),
        "--clean",
        "--if-exists",
        "--single-transaction",
        "--exit-on-error",
        "--no-owner",
        "--no-privileges",
        "-d",
        conninfo,
        str(path),
    ]
    started = time.perf_counter()
    _run(argv, env, timeout, f"restore of backup {path.name} into {target.dbname} (pg_restore)")
    return f"restored backup {path.name} into {target.dbname} in {_ms(started) / 1000:.1f} s"


# -- the agent --------------------------------------------------------------------------------
def validate(
    plan: ValidationPlan,
    *,
    sleep: Callable[[float], None] = time.sleep,
    checkpoint: Callable[[], None] = lambda: None,
) -> ValidationReport:
    """Run every health and dependency check, then the backup (unless a health check failed)."""
    started = time.perf_counter()
    health: list[CheckResult] = []
    for check in plan.health_checks:
        checkpoint()
        health.append(
            check_health(check, retries=plan.retries, interval=plan.interval, timeout=plan.timeout, sleep=sleep)
        )
    deps: list[CheckResult] = []
    for dep in plan.dependencies:
        checkpoint()
        deps.append(check_dependency(dep, plan.environ, timeout=plan.timeout))
    backup: BackupResult | None = None
    skipped = False
    if plan.database_url is None or plan.backup_dir is None:
        note = "no database backup in the plan"
    elif not health or not all(h.ok for h in health):
        note, skipped = "skipped: the health checks did not all pass, so no backup was taken", True
    else:
        checkpoint()
        backup, note = _backup(plan.database_url, plan.backup_dir, plan.backup_timeout, plan.scratch_url), ""
    return ValidationReport(tuple(health), tuple(deps), backup, note, skipped, _ms(started))


def _backup(database_url: str, out_dir: Path, timeout: float, scratch_url: str | None) -> BackupResult:
    started = time.perf_counter()
    try:
        path = take_backup(database_url, out_dir, timeout)
    except BackupVerificationError as e:
        return BackupResult(None, (BackupStep("backup taken", False, str(e)),), ms=_ms(started))
    taken = BackupStep("backup taken", True, f"{path.name}, {path.stat().st_size} bytes")
    left = max(timeout - (time.perf_counter() - started), 1.0)
    verified = verify_backup(path, database_url, left, scratch_url=scratch_url)
    return replace(verified, steps=(taken, *verified.steps), ms=_ms(started))
