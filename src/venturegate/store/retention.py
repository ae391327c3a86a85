"""Retention in the store: a venture's oldest samples past a cutoff, removed one bounded batch at a time."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Connection, delete, select

from venturegate.store.schema import samples


def delete_oldest(conn: Connection, venture_id: int, cutoff: datetime, batch: int) -> int:
    """Remove at most `batch` of the venture's samples older than `cutoff`, oldest first; how many went."""
    oldest = (
        select(samples.c.id)
        .where(samples.c.venture_id == venture_id, samples.c.at < cutoff)
        .order_by(samples.c.at)
        .limit(batch)
    )
    return int(conn.execute(delete(samples).where(samples.c.id.in_(oldest.scalar_subquery()))).rowcount)
