"""Configuration versions and snapshots in the store (rows appended, never changed), as typed rows."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from datetime import datetime
from typing import Any, NamedTuple

from sqlalchemy import Connection, bindparam, insert, select

from venturegate.definitions.model import ParamValue
from venturegate.store.prepared import Prepared
from venturegate.store.schema import config_versions, snapshots


class ConfigVersionRow(NamedTuple):
    """A `config_versions` row, typed (the column order of `select(config_versions)`)."""

    id: int
    venture_id: int
    version: int
    key: str
    scope: str
    value: ParamValue | None
    unset: bool
    previous: ParamValue | None
    change: str
    stage: int
    actor: str
    actor_role: str | None
    reason: str
    created_at: datetime


class SnapshotRow(NamedTuple):
    """A `snapshots` row, typed (the column order of `select(snapshots)`)."""

    id: int
    venture_id: int
    name: str
    version: int
    stage: int
    auto: bool
    actor: str
    reason: str
    created_at: datetime


class KeyChange(NamedTuple):
    """One key of one configuration version: its value, or `unset`."""

    key: str
    value: ParamValue | None
    unset: bool
    version: int


_INSERT_AUTO_SNAPSHOT = Prepared(  # on every stage entry: prepared (see store/prepared.py)
    insert(snapshots).values(
        venture_id=bindparam("vid"),
        name=bindparam("name"),
        version=bindparam("version"),
        stage=bindparam("stage"),
        auto=True,
        actor=bindparam("actor"),
        reason=bindparam("reason"),
        created_at=bindparam("now"),
    )
)


def insert_auto_snapshot(
    conn: Connection, venture_id: int, name: str, version: int, stage: int, actor: str, reason: str, now: datetime
) -> None:
    """Take a system snapshot (`pre-stage-N`)."""
    _INSERT_AUTO_SNAPSHOT.run(
        conn,
        {
            "vid": venture_id,
            "name": name,
            "version": version,
            "stage": stage,
            "actor": actor,
            "reason": reason,
            "now": now,
        },
    )


def changes_up_to(conn: Connection, venture_id: int, version: int) -> Iterator[KeyChange]:
    """The venture's key changes of every version up to `version`, oldest first."""
    rows = conn.execute(
        select(config_versions.c.key, config_versions.c.value, config_versions.c.unset, config_versions.c.version)
        .where(config_versions.c.venture_id == venture_id, config_versions.c.version <= version)
        .order_by(config_versions.c.version)
    )
    return map(KeyChange._make, rows)


def history(conn: Connection, venture_id: int, key: str | None) -> list[ConfigVersionRow]:
    """Every configuration change of a venture (of one key), newest version first."""
    query = select(config_versions).where(config_versions.c.venture_id == venture_id)
    if key is not None:
        query = query.where(config_versions.c.key == key)
    query = query.order_by(config_versions.c.version.desc(), config_versions.c.key)
    return [ConfigVersionRow._make(r) for r in conn.execute(query)]


def change(conn: Connection, venture_id: int, version: int, key: str) -> ConfigVersionRow:
    """One key's row of one version (it must exist)."""
    found = conn.execute(
        select(config_versions).where(
            config_versions.c.venture_id == venture_id,
            config_versions.c.version == version,
            config_versions.c.key == key,
        )
    ).one()
    return ConfigVersionRow._make(found)


def insert_version(conn: Connection, rows: Sequence[dict[str, Any]]) -> None:
    """Write the rows of one version (`config_versions` columns but the id)."""
    conn.execute(insert(config_versions), list(rows))


def snapshot_rows(conn: Connection, venture_id: int) -> list[SnapshotRow]:
    """The venture's snapshots, newest first."""
    query = select(snapshots).where(snapshots.c.venture_id == venture_id).order_by(snapshots.c.id.desc())
    return [SnapshotRow._make(r) for r in conn.execute(query)]


def snapshot(conn: Connection, snapshot_id: int) -> SnapshotRow:
    """One snapshot (it must exist)."""
    return SnapshotRow._make(conn.execute(select(snapshots).where(snapshots.c.id == snapshot_id)).one())


def snapshot_taken_at(conn: Connection, venture_id: int, name: str) -> datetime | None:
    """When the venture's snapshot of this name was taken, or None when there is none."""
    taken: datetime | None = conn.execute(
        select(snapshots.c.created_at).where(snapshots.c.venture_id == venture_id, snapshots.c.name == name)
    ).scalar()
    return taken


def insert_snapshot(
    conn: Connection, *, venture_id: int, name: str, version: int, stage: int, actor: str, reason: str, now: datetime
) -> int:
    """Take a named snapshot; returns its id."""
    sid: int = conn.execute(
        insert(snapshots)
        .values(
            venture_id=venture_id,
            name=name,
            version=version,
            stage=stage,
            auto=False,
            actor=actor,
            reason=reason,
            created_at=now,
        )
        .returning(snapshots.c.id)
    ).scalar_one()
    return sid


def snapshot_version(conn: Connection, venture_id: int, name: str) -> int | None:
    """The version the newest snapshot of that name holds, or None."""
    found: int | None = conn.execute(
        select(snapshots.c.version)
        .where(snapshots.c.venture_id == venture_id, snapshots.c.name == name)
        .order_by(snapshots.c.id.desc())
        .limit(1)
    ).scalar()
    return found


def snapshot_names(conn: Connection, venture_id: int) -> list[str]:
    """The venture's snapshot names, sorted, each once."""
    rows = conn.execute(
        select(snapshots.c.name).where(snapshots.c.venture_id == venture_id).distinct().order_by(snapshots.c.name)
    )
    return list(rows.scalars())
