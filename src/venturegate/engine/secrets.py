"""The secrets policy: which credentials a venture's crews may read, and where they may send them.

An artifact names credentials only by reference (an environment variable, or a key of a secrets
file). Which references are allowed is not the artifact's choice: a person holding `change_config`
(chairman, lead) grants them per venture, or the operator per segment in the workflow, through
three workflow-wide parameters:

| parameter | holds |
|---|---|
| `secrets.allowed_env` | environment variable names, or prefixes ending in `*` (`STRIPE_SANDBOX_*`) |
| `secrets.allowed_files` | secrets files (paths relative to the workspace, compared after resolving) |
| `secrets.approved_hosts` | `host:port` pairs a credential may be sent to |

Nothing is granted by default. A schema marks where references sit with `x-secret-ref: true`;
storing an artifact whose reference lies outside the grant is refused (`secret_ref_errors`), and a
crew resolving a reference checks the grant again (a grant may have been narrowed since).
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from venturegate.definitions.model import ParamValue

ENV_KEY = "secrets.allowed_env"
FILES_KEY = "secrets.allowed_files"
HOSTS_KEY = "secrets.approved_hosts"
KEYS = (ENV_KEY, FILES_KEY, HOSTS_KEY)
MARK = "x-secret-ref"
"""The schema keyword marking a credential reference (`{"env": NAME}` or `{"secrets_file": F, "key": K}`)."""
_ENV_NAME = re.compile(r"^[A-Z][A-Z0-9_]*\*?$")
_HOST = re.compile(r"^(?P<host>\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9.-]+):(?P<port>[0-9]{1,5})$")


@dataclass(frozen=True)
class SecretGrant:
    """The credential references a venture may use, and the hosts a credential may go to."""

    env: tuple[str, ...] = ()
    files: tuple[str, ...] = ()
    hosts: tuple[str, ...] = ()

    @classmethod
    def from_settings(cls, values: Mapping[str, ParamValue]) -> SecretGrant:
        """The grant from the effective values of the three `secrets.*` parameters."""

        def items(key: str) -> tuple[str, ...]:
            raw = values.get(key, [])
            return tuple(str(v) for v in raw) if isinstance(raw, list) else ()

        return cls(items(ENV_KEY), items(FILES_KEY), tuple(h.lower() for h in items(HOSTS_KEY)))

    def allows_env(self, name: str) -> bool:
        """Whether an environment variable is granted (by name, or by a `PREFIX*` entry)."""
        return any(name.startswith(g[:-1]) if g.endswith("*") else name == g for g in self.env)

    def allows_file(self, path: str, base_dir: Path) -> bool:
        """Whether a secrets file (relative to `base_dir`) is granted; grants are relative to the server's
        working directory, whatever folder a job's options name. Both sides are resolved, so `../` or a
        symlink cannot widen a grant."""
        target = _resolved(path, base_dir)
        workspace = Path.cwd()
        return any(_resolved(g, workspace) == target for g in self.files)

    def allows_host(self, url: str) -> bool:
        """Whether a credential may be sent to the host and port of `url`."""
        return host_port(url) in self.hosts

    def refusal(self, ref: Mapping[str, Any], base_dir: Path | None = None) -> str | None:
        """Why a reference is outside the grant (None: it is granted)."""
        env = ref.get("env")
        if isinstance(env, str):
            if self.allows_env(env):
                return None
            return f"environment variable {env} is not granted to this venture ({ENV_KEY}: {_listed(self.env)})"
        path = ref.get("secrets_file")
        if isinstance(path, str):
            if self.allows_file(path, base_dir or Path.cwd()):
                return None
            return f"secrets file {path} is not granted to this venture ({FILES_KEY}: {_listed(self.files)})"
        return "a credential reference names neither `env` nor `secrets_file`"


def host_port(url: str) -> str:
    """`host:port` of a URL, the port filled in from the scheme (`https://a.b` → `a.b:443`)."""
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        return ""
    host = (parts.hostname or "").lower()
    if port is None:
        port = {"http": 80, "https": 443}.get(parts.scheme, 0)
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


def check_grant_entry(key: str, value: str) -> str | None:
    """Why one entry of a `secrets.*` parameter is malformed (None: fine)."""
    if key == ENV_KEY and not _ENV_NAME.match(value):
        return f"'{value}' is not an environment variable name or a PREFIX* (A-Z, 0-9, _)"
    if key == FILES_KEY and (not value or "\x00" in value):
        return "a secrets file path must not be empty"
    if key == HOSTS_KEY and not _HOST.match(value):
        return f"'{value}' is not host:port"
    return None


def secret_ref_errors(
    schema: dict[str, Any] | None, content: Any, grant: SecretGrant, base_dir: Path | None = None
) -> list[tuple[str, str]]:
    """Every (JSON pointer, reason) where `content` holds a credential reference outside `grant`."""
    if not schema or not _marks(schema):
        return []
    from jsonschema import Draft202012Validator, ValidationError, validators  # on first use (CLI start-up)

    def check(validator: Any, marked: Any, instance: Any, subschema: Any) -> Iterator[ValidationError]:
        if marked is True and isinstance(instance, dict):
            why = grant.refusal(instance, base_dir)
            if why is not None:
                yield ValidationError(why)

    # Only the marking keyword is checked: the content already passed its schema.
    checker = validators.extend(Draft202012Validator, {MARK: check})(schema)  # type: ignore[no-untyped-call]
    out = []
    for err in checker.iter_errors(content):
        if err.validator != MARK:
            continue
        pointer = "".join(f"/{str(p).replace('~', '~0').replace('/', '~1')}" for p in err.absolute_path)
        out.append((pointer, err.message))
    return sorted(set(out))


def _marks(schema: Any) -> bool:
    if isinstance(schema, dict):
        return schema.get(MARK) is True or any(_marks(v) for v in schema.values())
    if isinstance(schema, list):
        return any(_marks(v) for v in schema)
    return False


def _resolved(path: str, base_dir: Path) -> Path:
    p = Path(path).expanduser()
    return (p if p.is_absolute() else base_dir / p).resolve()


def _listed(items: tuple[str, ...]) -> str:
    return ", ".join(items) if items else "nothing granted"
