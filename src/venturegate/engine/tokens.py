"""API tokens: a secret shown once, stored only as its SHA-256, with a role; listed and revoked by name or id."""

from __future__ import annotations

import hashlib
import re
import secrets
import time
from dataclasses import dataclass
from datetime import datetime

from venturegate.core.durations import format_time
from venturegate.core.permissions import ROLES, is_role
from venturegate.engine.actors import Actor
from venturegate.engine.base import as_id
from venturegate.engine.exceptions import BadInput, Conflict, NotFound
from venturegate.engine.plumbing import Plumbing
from venturegate.engine.records import _Record
from venturegate.store import tokens as store
from venturegate.store.tokens import TokenRow

PREFIX = "vg_"
"""Every secret starts with this, so that a leaked one is recognisable (secret scanners, logs)."""
CACHE_SECONDS = 5.0
"""How long a process trusts a token it has checked; a revocation elsewhere takes effect within this."""
_NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._@-]{0,99}$")


@dataclass(frozen=True)
class ApiToken(_Record):
    """A token's public facts (never its secret)."""

    id: int
    name: str
    role: str
    created_by: str
    created_at: datetime
    revoked_at: datetime | None
    revoked_by: str | None

    @property
    def actor(self) -> Actor:
        """Who acts when this token is presented: the token's name, with its role (agents as agents)."""
        return Actor(self.name, self.role, "agent" if self.role == "agent" else "human")


def hash_secret(secret: str) -> str:
    """The stored form of a secret."""
    return hashlib.sha256(secret.encode("utf-8")).hexdigest()


def _token(r: TokenRow) -> ApiToken:
    return ApiToken(r.id, r.name, r.role, r.created_by, r.created_at, r.revoked_at, r.revoked_by)


class Tokens:
    """Creating, listing, revoking and checking API tokens (the engine's `api_tokens` component).

    Holds this process's cache of checked tokens: `authenticate` answers from it without a query for
    `CACHE_SECONDS`, and a revocation through this engine clears it.
    """

    def __init__(self, plumbing: Plumbing) -> None:
        self.plumbing = plumbing
        self.cache: dict[str, tuple[float, ApiToken]] = {}
        """Secret digest → (monotonic expiry, token)."""

    def create(self, name: str, role: str, *, actor: Actor, now: datetime | None = None) -> tuple[ApiToken, str]:
        """Create a token; returns it with its secret, which is not stored and cannot be shown again."""
        now = self.plumbing.when(now)
        name = name.strip()
        if not _NAME_RE.match(name) or name.isdigit():
            raise BadInput(
                f"'{name}' cannot name a token",
                where="name",
                hint="1–100 letters, digits, . _ @ -, starting with a letter or digit, not only digits",
            )
        if not is_role(role):
            raise BadInput(f"unknown role '{role}'", where="role", hint="one of " + ", ".join(ROLES))
        secret = PREFIX + secrets.token_urlsafe(32)
        with self.plumbing.tx() as conn:
            if store.name_taken(conn, name):
                raise Conflict(f"a token named '{name}' already exists; names are never reused, pick another")
            tid = store.insert_token(
                conn, name=name, role=role, token_hash=hash_secret(secret), created_by=actor.name, created_at=now
            )
            self.plumbing._event(
                conn, None, "token.created", actor, now, data={"token": tid, "name": name, "role": role}
            )
            return _token(store.token(conn, tid)), secret

    def listing(self, *, include_revoked: bool = True) -> list[ApiToken]:
        """Every token, oldest first."""
        with self.plumbing.tx() as conn:
            return [_token(r) for r in store.token_rows(conn, include_revoked)]

    def revoke(self, ref: str | int, *, actor: Actor, now: datetime | None = None) -> ApiToken:
        """Revoke a token by name or id; it stops working at once in this process, within seconds elsewhere."""
        now = self.plumbing.when(now)
        text = str(ref).strip()
        with self.plumbing.tx() as conn:
            r = store.find_token(conn, text, as_id(text))
            if r is None:
                raise NotFound(f"no token '{ref}'", where="token", hint="`venturegate token list` shows them")
            if r.revoked_at is not None:
                raise Conflict(f"token '{r.name}' was already revoked at {format_time(r.revoked_at)}")
            store.revoke(conn, r.id, now, actor.name)
            self.plumbing._event(conn, None, "token.revoked", actor, now, data={"token": r.id, "name": r.name})
            self.cache.clear()
            return _token(store.token(conn, r.id))

    def authenticate(self, secret: str) -> ApiToken | None:
        """The live token with this secret, or None (unknown or revoked)."""
        if not secret.startswith(PREFIX) or len(secret) > 200:
            return None
        digest = hash_secret(secret)
        cache = self.cache
        hit = cache.get(digest)
        if hit is not None and hit[0] > time.monotonic():
            return hit[1]
        with self.plumbing.tx() as conn:
            r = store.live_token(conn, digest)
        if r is None:
            cache.pop(digest, None)
            return None
        if len(cache) > 10_000:
            cache.clear()
        token = _token(r)
        cache[digest] = (time.monotonic() + CACHE_SECONDS, token)
        return token
