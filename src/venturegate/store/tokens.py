"""API tokens in the store: created, revoked, found by name, id or secret hash; read back as typed rows."""

from __future__ import annotations

from datetime import datetime
from typing import NamedTuple

from sqlalchemy import Connection, insert, select, update

from venturegate.store.schema import api_tokens


class TokenRow(NamedTuple):
    """An `api_tokens` row, typed (the column order of `select(api_tokens)`)."""

    id: int
    name: str
    role: str
    token_hash: str
    created_by: str
    created_at: datetime
    revoked_at: datetime | None
    revoked_by: str | None


def name_taken(conn: Connection, name: str) -> bool:
    """Whether a token (live or revoked) has this name."""
    return conn.execute(select(api_tokens.c.id).where(api_tokens.c.name == name)).first() is not None


def insert_token(
    conn: Connection, *, name: str, role: str, token_hash: str, created_by: str, created_at: datetime
) -> int:
    """Store a new token; returns its id."""
    tid: int = conn.execute(
        insert(api_tokens)
        .values(name=name, role=role, token_hash=token_hash, created_by=created_by, created_at=created_at)
        .returning(api_tokens.c.id)
    ).scalar_one()
    return tid


def token(conn: Connection, token_id: int) -> TokenRow:
    """The token with this id (it must exist)."""
    return TokenRow._make(conn.execute(select(api_tokens).where(api_tokens.c.id == token_id)).one())


def token_rows(conn: Connection, include_revoked: bool) -> list[TokenRow]:
    """Every token, oldest first."""
    query = select(api_tokens).order_by(api_tokens.c.id)
    if not include_revoked:
        query = query.where(api_tokens.c.revoked_at.is_(None))
    return [TokenRow._make(r) for r in conn.execute(query)]


def find_token(conn: Connection, name: str, ident: int | None) -> TokenRow | None:
    """The token named `name` or, when `ident` is given, with that id (the oldest if both match)."""
    cond = api_tokens.c.name == name
    if ident is not None:
        cond = cond | (api_tokens.c.id == ident)
    found = conn.execute(select(api_tokens).where(cond).order_by(api_tokens.c.id).limit(1)).first()
    return None if found is None else TokenRow._make(found)


def revoke(conn: Connection, token_id: int, at: datetime, by: str) -> None:
    """Mark a token revoked."""
    conn.execute(update(api_tokens).where(api_tokens.c.id == token_id).values(revoked_at=at, revoked_by=by))


def live_token(conn: Connection, token_hash: str) -> TokenRow | None:
    """The unrevoked token whose secret hashes to `token_hash`, or None."""
    found = conn.execute(
        select(api_tokens).where(api_tokens.c.token_hash == token_hash, api_tokens.c.revoked_at.is_(None))
    ).first()
    return None if found is None else TokenRow._make(found)
