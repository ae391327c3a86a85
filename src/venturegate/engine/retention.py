"""Retention: samples older than a venture's `metrics_retention_days` are removed, in small batches.

Each batch is its own short transaction deleting at most `RETENTION_BATCH` rows by id, so writers wait at most
one batch (SQLite's write lock) or nothing at all (PostgreSQL locks only the rows it deletes). Batched deletes
rather than a time-partitioned samples table on PostgreSQL: a partitioned table cannot keep the unique index on
(venture, sample key) that makes ingestion idempotent unless the partition key is in it, and one code path serves
both backends (docs/decisions.md, "Retention"). Windows that reach past the horizon answer unknown
(`StoreData.horizon`), so a removal never turns into a wrong value. Events and the audit trail are never touched.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta

from venturegate.core.durations import format_time
from venturegate.core.settings import retention_days
from venturegate.engine.actors import SYSTEM
from venturegate.engine.plumbing import Plumbing
from venturegate.store.retention import delete_oldest
from venturegate.store.ventures import all_ventures

RETENTION_BATCH = 5000
"""Most samples one retention transaction removes."""


@dataclass
class RetentionReport:
    """What one retention run removed, per venture id."""

    removed: dict[int, int] = field(default_factory=dict)

    @property
    def total(self) -> int:
        """Samples removed in all."""
        return sum(self.removed.values())


class Retention:
    """Removing samples past their venture's retention (the engine's `retention` component)."""

    def __init__(self, plumbing: Plumbing) -> None:
        self.plumbing = plumbing

    def apply(self, *, now: datetime | None = None, batch: int = RETENTION_BATCH) -> RetentionReport:
        """Remove every venture's samples older than its `metrics_retention_days`; one event per venture touched."""
        now = self.plumbing.when(now)
        batch = max(1, batch)
        cutoffs: list[tuple[int, int, datetime]] = []
        with self.plumbing.tx() as conn:
            for row in all_ventures(conn):
                wf = self.plumbing.pinned(conn, row.workflow_digest).workflow
                days = retention_days(wf, row.segment, self.plumbing._config_overrides(conn, row))
                if days is not None:
                    cutoffs.append((row.id, days, now - timedelta(days=days)))
        report = RetentionReport()
        for vid, days, cutoff in cutoffs:
            removed = 0
            while True:
                with self.plumbing.tx() as conn:
                    done = delete_oldest(conn, vid, cutoff, batch)
                    removed += done
                    if done < batch and removed:
                        self.plumbing._event(
                            conn, vid, "samples.retention", SYSTEM, now,
                            reason=f"removed {removed} samples older than {format_time(cutoff)} ({days}-day retention)",
                            data={"removed": removed, "before": cutoff.isoformat(), "days": days},
                        )  # fmt: skip
                if done < batch:
                    break
            if removed:
                report.removed[vid] = removed
        return report
