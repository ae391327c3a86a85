"""Workflow versions in the store: each version a venture is pinned to, its document stored once by digest and
never changed or deleted."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Connection, select
from sqlalchemy.dialects import postgresql, sqlite

from venturegate.store.schema import workflow_versions


def document(conn: Connection, digest: str) -> dict[str, Any]:
    """The stored document of the workflow version `digest` (it must be stored)."""
    found: dict[str, Any] = conn.execute(
        select(workflow_versions.c.document).where(workflow_versions.c.digest == digest)
    ).scalar_one()
    return found


def is_stored(conn: Connection, digest: str) -> bool:
    """Whether the workflow version `digest` is stored."""
    found = conn.execute(select(workflow_versions.c.digest).where(workflow_versions.c.digest == digest)).first()
    return found is not None


def store(
    conn: Connection, digest: str, workflow_id: str, version: str, document: dict[str, Any], now: datetime
) -> None:
    """Store a workflow version, unless it is stored already (another process creating its first venture may store
    the same version at the same moment: `INSERT … ON CONFLICT DO NOTHING`, on both backends)."""
    dialect = postgresql if conn.dialect.name == "postgresql" else sqlite
    conn.execute(
        dialect.insert(workflow_versions)
        .values(digest=digest, workflow_id=workflow_id, version=version, document=document, created_at=now)
        .on_conflict_do_nothing(index_elements=["digest"])
    )
