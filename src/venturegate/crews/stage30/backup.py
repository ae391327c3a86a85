"""Database backups for 30.1 and the `database` rollback: `pg_dump`, a restore into a scratch database
that proves the dump is complete, and a restore over production.

`take_backup` runs `pg_dump -Fc` inside an exported snapshot and writes, beside the dump, the exact row
count of every table *in that snapshot* (`<dump>.json`), so verifying never races live writes.
`verify_backup` reads the archive's table of contents, restores it into a scratch database
(`vg_verify_<hex>`, created on the source's server or on `scratch_url`, always dropped) and compares
every table's `count(*)` with those counts (with the live source's when there is no manifest - exact
only on a quiet source). `restore_backup` restores a dump over a database in one transaction; tables
created after the backup are left in place.
"""

from __future__ import annotations

import json
import math
import os
import shutil
import subprocess
import time
import urllib.parse
import uuid
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import psycopg
from psycopg import sql
from psycopg.conninfo import conninfo_to_dict, make_conninfo


def redact(url: str) -> str:
    """`url` with any password replaced by `***` (for messages and reports)."""
    parts = urllib.parse.urlsplit(url)
    if parts.password is None:
        return url
    netloc = parts.netloc.replace(f":{parts.password}@", ":***@", 1)
    return urllib.parse.urlunsplit(parts._replace(netloc=netloc))


def _ms(started: float) -> float:
    return (time.perf_counter() - started) * 1000


BACKUP_STEPS = ("backup taken", "archive readable", "restored to scratch", "row counts equal")


class BackupVerificationError(RuntimeError):
    """A backup could not be taken, verified or restored (matched by E30-BACKUP)."""


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
