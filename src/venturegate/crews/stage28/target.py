"""The service a stage-28 run optimises, from the crew's options, and the rollback handlers that undo its changes.

Options (`venturegate run V --stage 28 --option key=value`):

| option | meaning |
|---|---|
| `base_url` | the service's loopback base URL (required) |
| `openapi` | its OpenAPI spec: a URL or a file (default `<base_url>/openapi.json`) |
| `endpoints` | optional `GET /a, GET /b`: the endpoints to load; each must be in the spec |
| `database_env` | environment variable holding its PostgreSQL URL (default `VENTUREGATE_PERF_DATABASE_URL`) |
| `redis_env` | environment variable holding its Redis URL (default `VENTUREGATE_PERF_REDIS_URL`) |
| `pid` | the service's process id (CPU/memory with psutil, a py-spy profile) |
| `config_file` | the JSON file the service reads tunables and cache from (the crew writes it; in the crew folder) |
| `tunables` | configuration changes the service exposes, to try: `name=value; name=value` |

Secrets (the URLs may hold passwords) are read from the environment and never stored: artifacts,
events and reports name the variable, not the value. A crew run reads only variables the venture's
secrets policy grants (`secrets.allowed_env`) and connects only to approved hosts
(`secrets.approved_hosts`): the option names a variable, the grant decides.

Rollback handlers are process-wide (declared by the crew's `hooks()`); they act on the target a
run of this process registered for the venture. A rollback ordered in another process (a CLI
`rollback` while no crew runs here) finds no live target and says so: it restores the engine's
configuration, and the next crew run re-applies the target's files from that configuration.
"""

from __future__ import annotations

import json
import os
import threading
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from venturegate.crews.stage19.loadgen import NonLoopbackTargetError, ensure_loopback
from venturegate.crews.stage28.traffic import Endpoint, endpoints_from_spec
from venturegate.engine.exceptions import BadInput
from venturegate.engine.secrets import SecretGrant, host_port

DATABASE_ENV = "VENTUREGATE_PERF_DATABASE_URL"
REDIS_ENV = "VENTUREGATE_PERF_REDIS_URL"
KEY_PREFIX = "vg28:"


class TargetError(Exception):
    """The service cannot be reached or does not match its description (a classified error message)."""


@dataclass
class Target:
    """Where the service is and how to reach its database, cache and process."""

    base_url: str
    spec: dict[str, Any]
    endpoints: list[Endpoint]
    database_url: str = field(repr=False)
    database_env: str
    redis_url: str | None = field(repr=False)
    redis_env: str
    pid: int | None
    config_file: Path | None
    tunables: dict[str, str]

    def describe(self) -> dict[str, Any]:
        """What may be stored: no secret, only where it comes from."""
        return {
            "base_url": self.base_url,
            "endpoints": [e.name for e in self.endpoints],
            "database": f"${self.database_env}",
            "redis": f"${self.redis_env}" if self.redis_url else None,
            "pid": self.pid,
            "config_file": str(self.config_file) if self.config_file else None,
            "tunables": self.tunables,
        }

    # -- the service's config file ------------------------------------------------------------------
    def read_config(self) -> dict[str, Any]:
        """The service's config file (empty when absent)."""
        if self.config_file is None or not self.config_file.exists():
            return {}
        data = json.loads(self.config_file.read_text(encoding="utf-8") or "{}")
        return data if isinstance(data, dict) else {}

    def write_config(self, remove: tuple[str, ...] = (), **sections: Any) -> None:
        """Update sections of the service's config file atomically (`remove`: back to the service's defaults)."""
        if self.config_file is None:
            raise TargetError("the service has no config_file option: the crew cannot apply configuration")
        data = {k: v for k, v in {**self.read_config(), **sections}.items() if k not in remove}
        tmp = self.config_file.with_name(self.config_file.name + ".tmp")
        tmp.write_text(json.dumps(data, indent=2, sort_keys=True), encoding="utf-8")
        tmp.replace(self.config_file)
        # The service compares modification times; make the next write distinguishable.
        stamp = os.stat(self.config_file).st_mtime_ns
        os.utime(self.config_file, ns=(stamp, stamp + 1_000_000))


def _fetch_spec(where: str, base_url: str) -> dict[str, Any]:
    if where.startswith(("http://", "https://")):
        try:
            ensure_loopback(where)
            with urllib.request.urlopen(where, timeout=10) as r:
                data = json.loads(r.read())
        except NonLoopbackTargetError as exc:
            raise BadInput(str(exc), where="--option openapi") from None
        except (OSError, ValueError) as exc:
            raise TargetError(f"service unreachable: cannot read its OpenAPI spec at {where}: {exc}") from None
    else:
        path = Path(where)
        if not path.is_file():
            raise BadInput(f"OpenAPI spec file {where} not found", where="--option openapi")
        data = json.loads(path.read_text(encoding="utf-8"))
    if not isinstance(data, dict) or not isinstance(data.get("paths"), dict):
        raise BadInput(f"{where} is not an OpenAPI document (no paths)", where="--option openapi")
    return data


def _confined(root: Path | None, value: str, where: str) -> Path:
    """A file an option names: inside the crew root (options are untrusted: they never choose a path elsewhere)."""
    path = Path(value)
    base = root if root is not None else Path.cwd() / ".venturegate" / "crews"
    base = base.expanduser().resolve()
    resolved = (path if path.is_absolute() else base / path).resolve()
    if resolved != base and not resolved.is_relative_to(base):
        raise BadInput(
            f"{where} {value!r} is outside the crew folder {base}",
            where=f"--option {where}",
            hint="name a file inside the crew folder (the operator sets it with VENTUREGATE_CREW_ROOT)",
        )
    return resolved


def _granted(grant: SecretGrant | None, name: str, url: str, where: str) -> None:
    """With a grant (a crew run), the variable must be granted and its URL's host approved (the secrets policy)."""
    if grant is None:
        return
    if not grant.allows_env(name):
        raise BadInput(
            f"environment variable {name} is not granted to this venture's crews",
            where=f"--option {where}",
            hint=f"a chairman or lead grants it: `venturegate config set VENTURE secrets.allowed_env {name}`",
        )
    if not grant.allows_host(url):
        raise BadInput(
            f"{name} points at {host_port(url)}, which is not an approved host for this venture's credentials",
            where=f"--option {where}",
            hint=f"`venturegate config set VENTURE secrets.approved_hosts {host_port(url)}`",
        )


def read_target(
    options: dict[str, Any],
    env: dict[str, str] | None = None,
    *,
    root: Path | None = None,
    grant: SecretGrant | None = None,
) -> Target:
    """The target from the crew's options and the environment; bad or missing input is a `BadInput`.

    Files named by options (`openapi`, `config_file`) must lie inside `root`, the crew folder. With
    `grant` (the venture's secrets policy; a crew run always passes it), the database and Redis
    variables must be granted and their hosts approved.
    """
    env = dict(os.environ) if env is None else env
    base_url = str(options.get("base_url") or "").rstrip("/")
    if not base_url:
        raise BadInput(
            "no base_url: the stage-28 crew needs the service to profile",
            where="--option base_url",
            hint="e.g. --option base_url=http://127.0.0.1:8080",
        )
    try:
        ensure_loopback(base_url)
    except NonLoopbackTargetError as exc:
        raise BadInput(str(exc), where="--option base_url") from None
    db_env = str(options.get("database_env") or DATABASE_ENV)
    redis_env = str(options.get("redis_env") or REDIS_ENV)
    database_url = env.get(db_env, "")
    if not database_url:
        raise BadInput(
            f"environment variable {db_env} (the service's PostgreSQL URL) is not set",
            where="--option database_env",
            hint="export it, or name another variable",
        )
    if urlsplit(database_url).scheme not in ("postgresql", "postgres"):
        raise BadInput(f"{db_env} is not a postgresql:// URL", where="--option database_env")
    _granted(grant, db_env, database_url, "database_env")
    redis_url = env.get(redis_env) or None
    if redis_url is not None:
        _granted(grant, redis_env, redis_url, "redis_env")
    where = str(options.get("openapi") or f"{base_url}/openapi.json")
    if not where.startswith(("http://", "https://")):
        where = str(_confined(root, where, "openapi"))
    spec = _fetch_spec(where, base_url)
    endpoints = endpoints_from_spec(spec)
    wanted = str(options.get("endpoints") or "").strip()
    if wanted:
        names = {e.name: e for e in endpoints}
        chosen = []
        for raw in wanted.split(","):
            name = " ".join(raw.split())
            method, _, route = name.partition(" ")
            name = f"{method.upper()} {route}"
            if name not in names:
                raise BadInput(
                    f"endpoint {name!r} is not in the service's OpenAPI spec",
                    where="--option endpoints",
                    hint="the spec has: " + ", ".join(sorted(names)),
                )
            chosen.append(names[name])
        endpoints = chosen + [e for e in endpoints if not e.is_read and e not in chosen]
    if not any(e.is_read for e in endpoints):
        raise BadInput("the spec has no GET endpoint to measure", where="--option openapi")
    pid_raw = options.get("pid")
    pid = None
    if pid_raw not in (None, ""):
        try:
            pid = int(str(pid_raw))
        except ValueError:
            raise BadInput(f"pid {pid_raw!r} is not a number", where="--option pid") from None
    config_raw = options.get("config_file")
    tunables: dict[str, str] = {}
    for part in str(options.get("tunables") or "").split(";"):
        if part.strip():
            name, eq, value = part.partition("=")
            if not eq or not name.strip().isidentifier():
                raise BadInput(f"tunable {part.strip()!r} is not name=value", where="--option tunables")
            tunables[name.strip()] = value.strip()
    return Target(
        base_url,
        spec,
        endpoints,
        database_url,
        db_env,
        redis_url,
        redis_env,
        pid,
        _confined(root, str(config_raw), "config_file") if config_raw else None,
        tunables,
    )


# -- live targets and rollback handlers ---------------------------------------------------------
_live: dict[str, Target] = {}
_lock = threading.Lock()


def register_live(venture: str, target: Target) -> None:
    """Let this process's rollback handlers act on `target` for `venture`."""
    with _lock:
        _live[venture] = target


def forget_live(venture: str) -> None:
    """The run ended."""
    with _lock:
        _live.pop(venture, None)


def live(venture: str) -> Target | None:
    """The target a run of this process registered for `venture`."""
    with _lock:
        return _live.get(venture)


def parse_tunables(entries: list[str] | None) -> dict[str, Any]:
    """`deployment.tunables` entries (`name=value`) as the service's config values (numbers as numbers)."""
    out: dict[str, Any] = {}
    for entry in entries or []:
        name, _, value = str(entry).partition("=")
        out[name] = _number(value)
    return out


def _number(value: str) -> Any:
    try:
        return int(value)
    except ValueError:
        try:
            return float(value)
        except ValueError:
            return value
