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
- **Backup** (when the plan has a `database_url`): `backup.py` takes it with `pg_dump`, restores it into
  a scratch database and compares every table's row count with the dump's own snapshot counts.

`validate` runs every health and dependency check so the report is complete; the backup step is
skipped when the health checks did not all pass (the report says so). `backup_verification_pass_rate` is the
share of the four backup steps passed (taken, archive readable, restored, row counts equal): 100 when
the plan asks for no database backup (a note says so), 0 when a requested backup was skipped.
"""

from __future__ import annotations

import http.client
import math
import os
import shlex
import subprocess
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Literal

import psycopg

from venturegate.crews.stage30.backup import (
    BACKUP_STEPS,
    BackupResult,
    BackupVerificationError,
    _backup,
    _ms,
    libpq_url,
    redact,
)

HealthName = Literal["database", "api", "external"]
DependencyKind = Literal["external_service", "migration", "env_var", "secret"]
HEALTH_NAMES = ("database", "api", "external")
DEPENDENCY_KINDS = ("external_service", "migration", "env_var", "secret")


class HealthCheckError(RuntimeError):
    """A pre-deployment health check failed (matched by the stage's E30-HEALTH-CHECK rule)."""


class DependencyCheckError(RuntimeError):
    """A critical dependency is missing (matched by E30-DEPENDENCY)."""


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
