"""The provisioner-driver contract and the built-in `local` driver.

A driver turns an `EnvironmentRequest` (a name, a database name derived from ids, how many developer
logins) into a running environment: a database, a cache, the service started and healthy, and a login
per developer that can reach the database. It answers health probes, and it tears an environment down
completely — the crew calls `teardown` for everything a failed run created, so nothing stays
half-provisioned.

Names come from ids: `<prefix>_<workspace>_v<venture id>_<environment>`, where `<workspace>` is
`workspace_tag` of the venturegate database the venture lives in (venture 1 of one workspace and venture 1
of another share a machine's PostgreSQL and Redis, so the venture id alone does not name an environment).

The `local` driver does this on the machine itself: a PostgreSQL database (`CREATE DATABASE`, marked
with a comment naming its owner so that a database it did not create is never reused or dropped), a
Redis logical database (claimed with a `venturegate:owner` key; `FLUSHDB` on teardown), developer
login roles (each verified by connecting as it), and the service as a child process on a free port.

A cloud driver implements the same four methods against its API (a Terraform apply of the generated
module, a managed database, a container service). None ships: one that cannot be tested here would be
a pretence. Drivers are chosen by name with the crew option `provisioner` (see `DRIVERS`).
"""

from __future__ import annotations

import hashlib
import os
import shlex
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

import psycopg
import redis
from psycopg import sql
from sqlalchemy.engine import URL, make_url

ADMIN_URL = "postgresql://postgres@127.0.0.1:5432/postgres"
REDIS_URL = "redis://127.0.0.1:6379"
OWNER_KEY = "venturegate:owner"
NAME_MAX = 63
"""PostgreSQL's identifier limit in bytes: a longer name is cut silently, so two long names could meet."""


class ProvisionError(RuntimeError):
    """Provisioning an environment failed (the driver has already removed what it created)."""


def workspace_tag(url: str | URL) -> str:
    """8 hex characters naming the workspace whose database is at `url`, the same from any folder or driver.

    SQLite: the file's resolved path (a relative URL names the same file as its absolute form); a server:
    backend, user, host, port, database and query (a PostgreSQL workspace may be a schema, set in the query),
    never the password (a rotated password is the same workspace).
    """
    u = make_url(url) if isinstance(url, str) else url
    backend = u.get_backend_name()
    if backend == "sqlite":
        file = u.database or ""
        key = f"sqlite:{Path(file).resolve()}" if file and file != ":memory:" else f"sqlite-memory:{os.getpid()}"
    else:
        query = "&".join(f"{k}={v}" for k, v in sorted(u.query.items()))
        key = f"{backend}://{u.username or ''}@{u.host or ''}:{u.port or ''}/{u.database or ''}?{query}"
    return hashlib.sha256(key.encode()).hexdigest()[:8]


@dataclass(frozen=True)
class EnvironmentRequest:
    """What to provision: names come from ids only (`<prefix>_<workspace>_v<venture id>_<environment>`).

    An empty `workspace` gives the names made before workspaces were part of them (`<prefix>_v<id>_<env>`),
    so that environments recorded then can still be torn down.
    """

    venture_id: int
    name: str
    developers: int
    health_path: str = "/health"
    prefix: str = "vg"
    """Namespace of the names (`resource_prefix` option; tests use their own)."""
    workspace: str = ""
    """`workspace_tag` of the venturegate database the venture is in."""

    def __post_init__(self) -> None:
        longest = self.login(max(self.developers, 1))
        if len(longest.encode()) > NAME_MAX:
            raise ValueError(
                f"the name {longest!r} is longer than PostgreSQL's {NAME_MAX} bytes: use a shorter resource_prefix"
            )

    @property
    def database(self) -> str:
        """The database's name."""
        ws = f"_{self.workspace}" if self.workspace else ""
        return f"{self.prefix}{ws}_v{self.venture_id}_{self.name}"

    @property
    def owner(self) -> str:
        """The marker written on what this environment owns (`venturegate:<prefix>:<workspace>:v<id>:<env>`)."""
        ws = f"{self.workspace}:" if self.workspace else ""
        return f"venturegate:{self.prefix}:{ws}v{self.venture_id}:{self.name}"

    @classmethod
    def from_owner(cls, owner: str) -> EnvironmentRequest:
        """The request an owner mark names (with or without a workspace); `ValueError` if it names none."""
        parts = owner.split(":")
        if len(parts) == 4:
            parts.insert(2, "")
        if len(parts) != 5 or parts[0] != "venturegate" or not parts[3].startswith("v") or not parts[3][1:].isdigit():
            raise ValueError(f"{owner!r} is not an environment owner mark (venturegate:PREFIX:WORKSPACE:vID:ENV)")
        _, prefix, workspace, vid, env = parts
        return cls(int(vid[1:]), env, 0, prefix=prefix, workspace=workspace)

    def login(self, n: int) -> str:
        """Developer login role number `n` (from 1)."""
        return f"{self.database}_dev{n}"


@dataclass
class Provisioned:
    """A running environment."""

    name: str
    url: str
    database: str
    database_url: str
    redis_url: str
    logins: list[str] = field(default_factory=list)
    logins_verified: int = 0
    seconds: float = 0.0
    pid: int | None = None

    def as_dict(self) -> dict[str, Any]:
        """JSON form."""
        return asdict(self)


@runtime_checkable
class ProvisionerDriver(Protocol):
    """Provisions environments, probes them, and removes them completely."""

    name: str

    def provision(self, request: EnvironmentRequest) -> Provisioned:
        """Create everything for `request` and start its service; raise `ProvisionError` (having cleaned up)."""

    def probe(self, env: Provisioned) -> bool:
        """One health probe: the service answers its health path with 2xx."""

    def teardown(self, request: EnvironmentRequest) -> list[str]:
        """Remove everything `request` owns (safe to call for what does not exist); returns what was removed."""

    def close(self) -> None:
        """Stop what the driver runs for this process (the local driver's services)."""


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def get(url: str, timeout: float = 2.0) -> int:
    """HTTP status of a GET (0 when nothing answered)."""
    try:
        with urllib.request.urlopen(url, timeout=timeout) as resp:
            return int(resp.status)
    except urllib.error.HTTPError as exc:
        return int(exc.code)
    except (urllib.error.URLError, OSError, TimeoutError):
        return 0


class LocalDriver:
    """Environments on this machine: PostgreSQL, Redis and the service as a local process."""

    name = "local"

    def __init__(
        self,
        *,
        admin_url: str | None = None,
        redis_url: str | None = None,
        command: list[str] | None = None,
        start_timeout: float = 15.0,
    ) -> None:
        self.admin_url = admin_url or os.environ.get("VENTUREGATE_PROVISION_POSTGRES_URL", ADMIN_URL)
        self.redis_url = (redis_url or os.environ.get("VENTUREGATE_PROVISION_REDIS_URL", REDIS_URL)).rstrip("/")
        self.command = command
        self.start_timeout = start_timeout
        self._procs: dict[str, subprocess.Popen[bytes]] = {}  # by database name: one per workspace, venture, env
        host = psycopg.conninfo.conninfo_to_dict(self.admin_url)
        self._host, self._port = str(host.get("host", "127.0.0.1")), int(host.get("port", 5432) or 5432)

    # -- the contract ----------------------------------------------------------------------------
    def provision(self, request: EnvironmentRequest) -> Provisioned:
        t0 = time.perf_counter()
        try:
            self._database(request)
            logins, verified = self._logins(request)
            redis_url = self._redis(request)
            database_url = f"postgresql://postgres@{self._host}:{self._port}/{request.database}"
            url, pid = self._start(request, database_url, redis_url)
        except ProvisionError:
            self.teardown(request)
            raise
        except (psycopg.Error, redis.RedisError, OSError) as exc:
            self.teardown(request)
            raise ProvisionError(f"provisioning {request.name} failed: {exc}") from exc
        return Provisioned(
            request.name, url, request.database, database_url, redis_url, logins, verified,
            round(time.perf_counter() - t0, 3), pid,
        )  # fmt: skip

    def probe(self, env: Provisioned) -> bool:
        proc = self._procs.get(env.database)
        if proc is not None and proc.poll() is not None:
            return False
        return 200 <= get(env.url, timeout=2.0) < 300

    def teardown(self, request: EnvironmentRequest) -> list[str]:
        removed: list[str] = []
        proc = self._procs.pop(request.database, None)
        if proc is not None:
            self._stop(proc)
            removed.append(f"service pid {proc.pid}")
        with psycopg.connect(self.admin_url, autocommit=True) as conn:
            if self._owned(conn, request):  # ours; one that is not (or is gone) is left alone
                conn.execute(
                    sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(request.database))
                )
                removed.append(f"database {request.database}")
            for (role,) in conn.execute(
                "SELECT rolname FROM pg_roles WHERE rolname LIKE %s",
                (request.database.replace("_", r"\_") + r"\_dev%",),
            ).fetchall():
                conn.execute(sql.SQL("DROP ROLE IF EXISTS {}").format(sql.Identifier(role)))
                removed.append(f"role {role}")
        for db in range(1, 16):
            client = redis.Redis.from_url(f"{self.redis_url}/{db}")
            try:
                if client.get(OWNER_KEY) == request.owner.encode():
                    client.flushdb()
                    removed.append(f"redis db {db}")
            finally:
                client.close()
        return removed

    def close(self) -> None:
        for name in list(self._procs):
            self._stop(self._procs.pop(name))

    # -- the parts -------------------------------------------------------------------------------
    def _owned(self, conn: psycopg.Connection[Any], request: EnvironmentRequest) -> bool | None:
        """True: the database exists and is ours; False: exists, not ours; None: does not exist."""
        row = conn.execute(
            "SELECT shobj_description(oid, 'pg_database') FROM pg_database WHERE datname = %s", (request.database,)
        ).fetchone()
        if row is None:
            return None
        return bool(row[0] == request.owner)

    def _database(self, request: EnvironmentRequest) -> None:
        with psycopg.connect(self.admin_url, autocommit=True) as conn:
            owned = self._owned(conn, request)
            if owned is False:
                raise ProvisionError(
                    f"provisioning {request.name} failed: database {request.database} exists and was not made by "
                    "venturegate for this venture (left alone)"
                )
            if owned is None:
                conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(request.database)))
                conn.execute(
                    sql.SQL("COMMENT ON DATABASE {} IS {}").format(
                        sql.Identifier(request.database), sql.Literal(request.owner)
                    )
                )

    def _logins(self, request: EnvironmentRequest) -> tuple[list[str], int]:
        logins = [request.login(n) for n in range(1, request.developers + 1)]
        with psycopg.connect(self.admin_url, autocommit=True) as conn:
            for role in logins:
                exists = conn.execute("SELECT 1 FROM pg_roles WHERE rolname = %s", (role,)).fetchone()
                if exists is None:
                    conn.execute(sql.SQL("CREATE ROLE {} LOGIN").format(sql.Identifier(role)))
                conn.execute(
                    sql.SQL("GRANT CONNECT ON DATABASE {} TO {}").format(
                        sql.Identifier(request.database), sql.Identifier(role)
                    )
                )
        verified = 0
        for role in logins:
            try:
                with psycopg.connect(
                    host=self._host, port=self._port, user=role, dbname=request.database, connect_timeout=3
                ) as conn:
                    conn.execute("SELECT 1")
                verified += 1
            except psycopg.Error:
                pass
        return logins, verified

    def _redis(self, request: EnvironmentRequest) -> str:
        for db in range(1, 16):
            client = redis.Redis.from_url(f"{self.redis_url}/{db}")
            try:
                owner = client.get(OWNER_KEY)
                if owner == request.owner.encode():
                    return f"{self.redis_url}/{db}"
                if owner is None and client.dbsize() == 0 and client.set(OWNER_KEY, request.owner, nx=True):
                    return f"{self.redis_url}/{db}"
            finally:
                client.close()
        raise ProvisionError(f"provisioning {request.name} failed: no free Redis logical database (1-15)")

    def _start(self, request: EnvironmentRequest, database_url: str, redis_url: str) -> tuple[str, int]:
        port = _free_port()
        if self.command:
            cmd = [part.replace("{port}", str(port)) for part in self.command]
        else:
            cmd = [sys.executable, "-m", "venturegate.crews.stage14.service", "--port", str(port)]
        env = {**os.environ, "PORT": str(port), "DATABASE_URL": database_url, "REDIS_URL": redis_url}
        proc = subprocess.Popen(
            cmd, env=env, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
        )
        self._procs[request.database] = proc
        url = f"http://127.0.0.1:{port}{request.health_path}"
        deadline = time.monotonic() + self.start_timeout
        while time.monotonic() < deadline:
            if proc.poll() is not None:
                err = (proc.stderr.read().decode(errors="replace") if proc.stderr else "")[-300:]
                raise ProvisionError(
                    f"provisioning {request.name} failed: service {shlex.join(cmd[:3])} exited with "
                    f"{proc.returncode} before it was healthy {err.strip()}".strip()
                )
            if 200 <= get(url, timeout=1.0) < 300:
                return url, proc.pid
            time.sleep(0.1)
        raise ProvisionError(
            f"provisioning {request.name} failed: service not healthy at {url} within {self.start_timeout:g} s"
        )

    @staticmethod
    def _stop(proc: subprocess.Popen[bytes]) -> None:
        if proc.poll() is None:
            proc.terminate()
            try:
                proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(timeout=5)
        if proc.stderr is not None:
            proc.stderr.close()


DRIVERS: dict[str, type[LocalDriver]] = {"local": LocalDriver}
"""Provisioner drivers by name (crew option `provisioner`)."""


def probe_window(
    driver: ProvisionerDriver, envs: list[Provisioned], *, seconds: float, interval: float
) -> dict[str, dict[str, int]]:
    """Probe every environment every `interval` seconds for `seconds`; answered and sent probes per environment."""
    counts = {e.name: {"ok": 0, "sent": 0} for e in envs}
    start = time.monotonic()
    n = 0
    while True:
        for env in envs:
            counts[env.name]["sent"] += 1
            counts[env.name]["ok"] += int(driver.probe(env))
        n += 1
        next_at = start + n * interval
        if next_at - start > seconds:
            break
        time.sleep(max(0.0, next_at - time.monotonic()))
    return counts


def teardown_owned(owners: list[str], *, admin_url: str | None = None, redis_url: str | None = None) -> list[str]:
    """Remove the environments named by their owner marks (`venturegate:<prefix>:<workspace>:v<id>:<env>`), and
    only them: the rollback handler of the `environments` scope passes the marks the restored configuration drops.
    Services belong to the run that started them and end with it."""
    driver = LocalDriver(admin_url=admin_url, redis_url=redis_url)
    requests = [EnvironmentRequest.from_owner(owner) for owner in owners]  # every mark checked before any removal
    removed: list[str] = []
    for request in requests:
        removed += driver.teardown(request)
    return removed
