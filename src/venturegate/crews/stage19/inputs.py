"""Stage 19's three inputs, read from the venture's artifacts: integrations, their OpenAPI specs, test accounts.

Credentials are references (an environment variable, or a key of a secrets file kept out of git),
resolved only when the venture's secrets grant allows the reference and the integration's host
(`venturegate.engine.secrets`); `Secret` holds a resolved value and never shows it in `repr`, `str`
or JSON, so it cannot reach the database, an event or a log line by accident.

An OpenAPI document named by a file path (in an artifact, so agent-controlled) is read only from inside
the crew root (`crews.paths`: `VENTUREGATE_CREW_ROOT`), like the crews' output: `../`, absolute paths
and symlinks that lead elsewhere are refused before anything is read.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlparse
from urllib.request import urlopen

import yaml

from venturegate.crews.paths import confined, crew_root
from venturegate.engine.exceptions import BadInput, NotFound
from venturegate.engine.secrets import HOSTS_KEY, KEYS, SecretGrant, host_port

if TYPE_CHECKING:
    from venturegate.engine import Engine

LOOPBACK = ("127.0.0.1", "localhost", "::1")


class Secret:
    """A credential value that never prints itself."""

    __slots__ = ("_value",)

    def __init__(self, value: str) -> None:
        self._value = value

    def reveal(self) -> str:
        """The value, for the one place that sends it (an HTTP header)."""
        return self._value

    def __repr__(self) -> str:
        return "Secret('***')"

    __str__ = __repr__

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Secret) and other._value == self._value

    def __hash__(self) -> int:
        return hash(self._value)


@dataclass(frozen=True)
class Integration:
    """One entry of `integration_requirements`."""

    name: str
    provider: str
    criticality: str
    base_url: str
    openapi_spec: str
    auth_type: str
    auth_header: str | None
    rate_limit_req_sec: float
    timeout_ms: int


@dataclass(frozen=True)
class CredentialRef:
    """Where a credential lives: an environment variable, or a key of a secrets file (JSON or YAML)."""

    name: str
    env: str | None = None
    secrets_file: str | None = None
    key: str | None = None

    def where(self) -> str:
        """A description of the reference that names no secret."""
        return f"environment variable {self.env}" if self.env else f"key '{self.key}' of {self.secrets_file}"


@dataclass
class Credentials:
    """The credential references of one integration, resolved on demand (and again on `refresh`)."""

    integration: str
    refs: dict[str, CredentialRef]
    base_dir: Path = field(default_factory=Path.cwd)
    grant: SecretGrant = field(default_factory=SecretGrant)
    base_url: str = ""
    _values: dict[str, Secret] = field(default_factory=dict, repr=False)
    refreshes: int = 0

    def get(self, name: str) -> Secret:
        """A credential's value; a reference that cannot be resolved is a clear error naming where it looked."""
        if name not in self._values:
            ref = self.refs.get(name)
            if ref is None:
                raise BadInput(
                    f"missing test account credential '{name}' for integration '{self.integration}'",
                    where="test_accounts",
                    hint=f"credentials listed: {', '.join(self.refs) or 'none'}",
                )
            self._check_grant(ref)
            self._values[name] = _resolve(ref, self.base_dir)
        return self._values[name]

    def _check_grant(self, ref: CredentialRef) -> None:
        """Refuse a reference outside the venture's grant, or a host an operator has not approved."""
        why = self.grant.refusal({"env": ref.env, "secrets_file": ref.secrets_file}, self.base_dir)
        if why is not None:
            raise BadInput(
                f"credential reference '{ref.name}' of integration '{self.integration}': {why}",
                where="test_accounts",
                hint="a chairman or lead grants it: `venturegate config set VENTURE secrets.allowed_env NAME`",
            )
        if not self.grant.allows_host(self.base_url):
            raise BadInput(
                f"integration '{self.integration}' would send a credential to {host_port(self.base_url)}, "
                f"which is not an approved host ({HOSTS_KEY}: {', '.join(self.grant.hosts) or 'none'})",
                where="integration_requirements",
                hint=f"a chairman or lead approves it: `venturegate config set VENTURE {HOSTS_KEY} HOST:PORT`",
            )

    def first(self) -> Secret | None:
        """The first credential (an integration with a single token or key), or None without any."""
        return self.get(next(iter(self.refs))) if self.refs else None

    def refresh(self) -> None:
        """Forget the cached values so the next `get` reads the (possibly rotated) secret again."""
        self._values.clear()
        self.refreshes += 1


def _resolve(ref: CredentialRef, base_dir: Path) -> Secret:
    if ref.env is not None:
        value = os.environ.get(ref.env)
        if not value:
            raise BadInput(
                f"credential reference '{ref.name}': environment variable {ref.env} not set",
                where="test_accounts",
                hint=f"export {ref.env}=… before the run",
            )
        return Secret(value)
    assert ref.secrets_file is not None and ref.key is not None
    path = Path(ref.secrets_file)
    path = path if path.is_absolute() else base_dir / path
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise BadInput(
            f"credential reference '{ref.name}': secrets file {path} cannot be read ({exc.strerror})",
            where="test_accounts",
        ) from None
    value = data.get(ref.key) if isinstance(data, dict) else None
    if not isinstance(value, str) or not value:
        raise BadInput(
            f"credential reference '{ref.name}': key '{ref.key}' missing in secrets file {path}",
            where="test_accounts",
        )
    return Secret(value)


@dataclass(frozen=True)
class Inputs:
    """Everything 19.1–19.3 need, read from the venture's artifacts."""

    integrations: list[Integration]
    specs: dict[str, dict[str, Any]]
    spec_refs: dict[str, str]
    credentials: dict[str, Credentials]
    artifact_refs: list[str]


def read_inputs(
    engine: Engine, venture: str | int, base_dir: Path | None = None, *, spec_root: Path | None = None
) -> Inputs:
    """Read and check the three input artifacts; every problem says which artifact and which entry.

    Secrets files are relative to `base_dir` (the server's working directory by default; the grant
    decides which may be read); OpenAPI files are read only inside the crew root (`spec_root` when given).
    """
    base = base_dir or Path.cwd()
    root = crew_root(spec_root)
    grant = SecretGrant.from_settings({k: engine.setting(venture, k).value for k in KEYS})
    arts = {}
    for name in ("integration_requirements", "api_documentation", "test_accounts"):
        try:
            arts[name] = engine.artifact(venture, name)
        except NotFound:
            raise BadInput(
                f"stage 19 needs the artifact '{name}'",
                where=name,
                hint=f"`venturegate artifact put VENTURE {name} FILE`",
            ) from None
    integrations = [
        Integration(
            name=i["name"],
            provider=i["provider"],
            criticality=i["criticality"],
            base_url=i["base_url"].rstrip("/"),
            openapi_spec=i["openapi_spec"],
            auth_type=i["auth"]["type"],
            auth_header=i["auth"].get("header"),
            rate_limit_req_sec=float(i["rate_limit_req_sec"]),
            timeout_ms=int(i["timeout_ms"]),
        )
        for i in arts["integration_requirements"].content["integrations"]
    ]
    names = [i.name for i in integrations]
    dupes = sorted({n for n in names if names.count(n) > 1})
    if dupes:
        raise BadInput(f"integration names must be unique; repeated: {dupes}", where="integration_requirements")
    for i in integrations:
        _require_loopback(i.base_url, f"integration_requirements: {i.name}.base_url")
    docs = {s["integration"]: s for s in arts["api_documentation"].content["specs"]}
    specs: dict[str, dict[str, Any]] = {}
    spec_refs: dict[str, str] = {}
    for i in integrations:
        location = docs[i.name]["location"] if i.name in docs else i.openapi_spec
        spec_refs[i.name] = location
        specs[i.name] = load_spec(location, root, where=f"api_documentation: {i.name}")
    accounts = {a["integration"]: a for a in arts["test_accounts"].content["accounts"]}
    creds = {}
    for i in integrations:
        raw = accounts.get(i.name, {}).get("credentials", {})
        if i.auth_type != "none" and not raw:
            raise BadInput(
                f"missing test account for integration '{i.name}' (auth {i.auth_type})",
                where="test_accounts",
                hint="add an account whose credentials reference an environment variable or a secrets file",
            )
        refs = {k: CredentialRef(k, v.get("env"), v.get("secrets_file"), v.get("key")) for k, v in raw.items()}
        creds[i.name] = Credentials(i.name, refs, base, grant, i.base_url)
    parents = [f"{a.name}@{a.version}" for a in arts.values()]
    return Inputs(integrations, specs, spec_refs, creds, parents)


def load_spec(location: str, root: Path, *, where: str) -> dict[str, Any]:
    """An OpenAPI 3.0/3.1 document from a loopback URL, or a file (JSON or YAML) inside `root` (the crew root)."""
    if not location.startswith(("http://", "https://")):
        path = confined(root, location, where=where)  # refused before anything is read
    try:
        if location.startswith(("http://", "https://")):
            _require_loopback(location, where)
            with urlopen(location, timeout=10) as resp:
                text = resp.read().decode("utf-8")
        else:
            text = path.read_text(encoding="utf-8")
        doc = json.loads(text) if text.lstrip().startswith("{") else yaml.safe_load(text)
    except (OSError, ValueError, yaml.YAMLError) as exc:
        raise BadInput(f"OpenAPI document {location} cannot be read: {exc}", where=where) from None
    version = str(doc.get("openapi", "")) if isinstance(doc, dict) else ""
    if not version.startswith(("3.0", "3.1")):
        raise BadInput(
            f"{location} is not an OpenAPI 3.0/3.1 document (openapi: {version or 'missing'})",
            where=where,
            hint="Swagger 2.0 documents can be converted with swagger2openapi",
        )
    return dict(doc)


def _require_loopback(url: str, where: str) -> None:
    host = urlparse(url).hostname or ""
    if host not in LOOPBACK:
        raise BadInput(
            f"{url} is not on loopback; this crew only tests and loads targets on 127.0.0.1",
            where=where,
            hint="run the provider's sandbox (or a recorded mock) locally",
        )
