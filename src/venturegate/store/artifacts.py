"""Artifacts in the store: versions appended with their lineage, read back as typed rows."""

from __future__ import annotations

from datetime import datetime
from typing import Any, NamedTuple

from sqlalchemy import Connection, func, insert, select

from venturegate.store.schema import artifacts


class ArtifactRow(NamedTuple):
    """An `artifacts` row, typed (the column order of `select(artifacts)`)."""

    id: int
    venture_id: int
    name: str
    version: int
    content: Any
    content_hash: str
    derived_from: list[str]
    valid: bool
    stage: int
    actor: str
    created_at: datetime


def artifact_exists(conn: Connection, venture_id: int, name: str, version: int) -> bool:
    """Whether the venture has that version of that artifact."""
    found = conn.execute(
        select(artifacts.c.id).where(
            artifacts.c.venture_id == venture_id,
            artifacts.c.name == name,
            artifacts.c.version == version,
        )
    ).first()
    return found is not None


def newest(conn: Connection, venture_id: int, name: str) -> ArtifactRow | None:
    """The newest version of an artifact, or None."""
    top = (
        select(func.max(artifacts.c.version))
        .where(artifacts.c.venture_id == venture_id, artifacts.c.name == name)
        .scalar_subquery()
    )
    found = conn.execute(
        select(artifacts).where(
            artifacts.c.venture_id == venture_id,
            artifacts.c.name == name,
            artifacts.c.version == top,
        )
    ).first()
    return None if found is None else ArtifactRow._make(found)


def version(conn: Connection, venture_id: int, name: str, number: int) -> ArtifactRow | None:
    """One version of an artifact, or None."""
    found = conn.execute(
        select(artifacts).where(
            artifacts.c.venture_id == venture_id,
            artifacts.c.name == name,
            artifacts.c.version == number,
        )
    ).first()
    return None if found is None else ArtifactRow._make(found)


def by_id(conn: Connection, artifact_id: int) -> ArtifactRow:
    """The artifact version with this id (it must exist)."""
    return ArtifactRow._make(conn.execute(select(artifacts).where(artifacts.c.id == artifact_id)).one())


def all_versions(conn: Connection, venture_id: int) -> list[ArtifactRow]:
    """Every stored version of the venture's artifacts, by name then version."""
    rows = conn.execute(
        select(artifacts).where(artifacts.c.venture_id == venture_id).order_by(artifacts.c.name, artifacts.c.version)
    )
    return [ArtifactRow._make(r) for r in rows]


def insert_artifact(
    conn: Connection,
    *,
    venture_id: int,
    name: str,
    version: int,
    content: Any,
    content_hash: str,
    derived_from: list[str],
    stage: int,
    actor: str,
    created_at: datetime,
) -> int:
    """Store a valid artifact version; returns its id."""
    aid: int = conn.execute(
        insert(artifacts)
        .values(
            venture_id=venture_id,
            name=name,
            version=version,
            content=content,
            content_hash=content_hash,
            derived_from=derived_from,
            valid=True,
            stage=stage,
            actor=actor,
            created_at=created_at,
        )
        .returning(artifacts.c.id)
    ).scalar_one()
    return aid
