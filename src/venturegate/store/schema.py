"""The database tables. Alembic owns their creation (store/migrations); this module is their single description."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Column,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    TypeDecorator,
    UniqueConstraint,
    text,
)
from sqlalchemy.engine import Dialect

metadata = MetaData(
    naming_convention={
        "ix": "ix_%(table_name)s_%(column_0_N_name)s",
        "uq": "uq_%(table_name)s_%(column_0_N_name)s",
        "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
        "pk": "pk_%(table_name)s",
    }
)


class UTCDateTime(TypeDecorator[datetime]):
    """Timezone-aware UTC datetimes on every backend (SQLite keeps no zone, so it is re-attached on read)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to the store; pass an aware UTC time")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


Id = BigInteger().with_variant(Integer(), "sqlite")
"""Primary keys: BIGINT on PostgreSQL, INTEGER (rowid alias) on SQLite."""


def _ts(name: str, nullable: bool = False) -> Column[object]:
    return Column(name, UTCDateTime(), nullable=nullable)


workflow_versions = Table(
    "workflow_versions",
    metadata,
    Column("digest", String(64), primary_key=True),
    Column("workflow_id", String(200), nullable=False),
    Column("version", String(100), nullable=False),
    Column("document", JSON, nullable=False),
    _ts("created_at"),
)

ventures = Table(
    "ventures",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("name", String(200), nullable=False, unique=True),
    Column("segment", String(40), nullable=False),
    Column("workflow_digest", String(64), ForeignKey("workflow_versions.digest"), nullable=False),
    Column("stage", Integer, nullable=False),
    Column("status", String(20), nullable=False),
    Column("status_detail", JSON, nullable=True),
    Column("revision", Integer, nullable=False, default=0),
    _ts("created_at"),
    _ts("updated_at"),
    # The venture's latest configuration version (0: never configured); keys the in-memory override cache.
    Column("config_version", Integer, nullable=False, default=0, server_default="0"),
)

stage_visits = Table(
    "stage_visits",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("venture_id", Id, ForeignKey("ventures.id"), nullable=False),
    Column("stage", Integer, nullable=False),
    Column("attempt", Integer, nullable=False),
    _ts("entered_at"),
    _ts("exited_at", nullable=True),
    Column("reason", Text, nullable=False, default=""),
    Column("outcome", String(20), nullable=True),
    Index("ix_stage_visits_venture", "venture_id", "stage"),
)

substage_status = Table(
    "substage_status",
    metadata,
    Column("visit_id", Id, ForeignKey("stage_visits.id"), primary_key=True),
    Column("substage", String(20), primary_key=True),
    Column("status", String(20), nullable=False),
    Column("items", JSON, nullable=False),
    Column("completed_by", String(200), nullable=True),
    _ts("completed_at", nullable=True),
)

attestations = Table(
    "attestations",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("visit_id", Id, ForeignKey("stage_visits.id"), nullable=False),
    Column("criterion", Text, nullable=False),
    Column("actor", String(200), nullable=False),
    _ts("at"),
    UniqueConstraint("visit_id", "criterion"),
)

samples = Table(
    "samples",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("venture_id", Id, ForeignKey("ventures.id"), nullable=False),
    Column("metric", String(120), nullable=False),
    Column("value", Float, nullable=False),
    _ts("at"),
    Column("sample_key", String(200), nullable=True),
    Column("actor", String(200), nullable=False),
    _ts("recorded_at"),
    # Idempotency keys are unique per venture; a sample without a key has no index entry (one page fewer per
    # unkeyed insert). Inserts name this index's predicate in their ON CONFLICT target.
    Index(
        "uq_samples_venture_id_sample_key",
        "venture_id",
        "sample_key",
        unique=True,
        sqlite_where=text("sample_key IS NOT NULL"),
        postgresql_where=text("sample_key IS NOT NULL"),
    ),
    # Covers every window read: the ends, the aggregates and the newest n come from the index alone, in (at, id) order.
    Index("ix_samples_venture_metric_at", "venture_id", "metric", "at", "id", "value"),
)

artifacts = Table(
    "artifacts",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("venture_id", Id, ForeignKey("ventures.id"), nullable=False),
    Column("name", String(120), nullable=False),
    Column("version", Integer, nullable=False),
    Column("content", JSON, nullable=False),
    Column("content_hash", String(64), nullable=False),
    Column("derived_from", JSON, nullable=False),
    Column("valid", Boolean, nullable=False),
    Column("stage", Integer, nullable=False),
    Column("actor", String(200), nullable=False),
    _ts("created_at"),
    UniqueConstraint("venture_id", "name", "version"),
)

approvals = Table(
    "approvals",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("venture_id", Id, ForeignKey("ventures.id"), nullable=False),
    Column("visit_id", Id, ForeignKey("stage_visits.id"), nullable=False),
    Column("stage", Integer, nullable=False),
    Column("role", String(40), nullable=False),
    Column("status", String(20), nullable=False),
    Column("reason", Text, nullable=False, default=""),
    Column("payload", JSON, nullable=True),
    Column("requested_by", String(200), nullable=False),
    _ts("requested_at"),
    _ts("expires_at", nullable=True),
    Column("decided_by", String(200), nullable=True),
    _ts("decided_at", nullable=True),
    Column("decision_reason", Text, nullable=True),
    # An emergency bypass (status `bypassed`, decided_* say who, when, why) flags the venture until reviewed.
    Column("reviewed_by", String(200), nullable=True),
    _ts("reviewed_at", nullable=True),
    Column("review_reason", Text, nullable=True),
    Index("ix_approvals_venture_status", "venture_id", "status"),
    Index("ix_approvals_visit", "visit_id", "role"),
)

events = Table(
    "events",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("venture_id", Id, ForeignKey("ventures.id"), nullable=True),
    Column("kind", String(60), nullable=False),
    Column("actor", String(200), nullable=False),
    Column("actor_role", String(40), nullable=True),
    Column("actor_kind", String(10), nullable=False),
    _ts("at"),
    Column("stage", Integer, nullable=True),
    Column("substage", String(20), nullable=True),
    Column("reason", Text, nullable=False, default=""),
    Column("data", JSON, nullable=True),
    Index("ix_events_venture_id", "venture_id", "id"),
    Index("ix_events_kind", "kind"),
)

trigger_state = Table(
    "trigger_state",
    metadata,
    Column("venture_id", Id, ForeignKey("ventures.id"), primary_key=True),
    Column("trigger_id", String(80), primary_key=True),
    Column("state", String(20), nullable=False),
    _ts("since", nullable=True),
    _ts("last_evaluated_at", nullable=True),
    Column("last_value", JSON, nullable=True),
    _ts("last_fired_at", nullable=True),
    Column("fired_count", Integer, nullable=False, default=0),
    Column("acted_count", Integer, nullable=False, default=0),
)

escalations = Table(
    "escalations",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("code", String(60), nullable=False, unique=True),
    Column("venture_id", Id, ForeignKey("ventures.id"), nullable=False),
    Column("stage", Integer, nullable=False),
    Column("trigger_id", String(80), nullable=True),
    Column("role", String(40), nullable=False),
    Column("status", String(20), nullable=False),
    Column("reason", Text, nullable=False),
    Column("history", JSON, nullable=False),
    _ts("created_at"),
    Column("resolved_by", String(200), nullable=True),
    _ts("resolved_at", nullable=True),
    Column("resume_at", String(20), nullable=True),
    Index("ix_escalations_status", "status"),
    Index("ix_escalations_stage", "stage"),
)

timers = Table(
    "timers",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("venture_id", Id, ForeignKey("ventures.id"), nullable=False),
    Column("kind", String(20), nullable=False),
    Column("ref", String(120), nullable=False),
    _ts("due_at"),
    _ts("done_at", nullable=True),
    Index("ix_timers_due", "done_at", "due_at"),
    Index("ix_timers_ref", "venture_id", "kind", "ref"),
)

stage_modes = Table(
    "stage_modes",
    metadata,
    # 0 is the stage-wide row; a venture's own row overrides it (so no foreign key).
    Column("venture_id", Id, primary_key=True),
    Column("stage", Integer, primary_key=True),
    Column("mode", String(20), nullable=False),
    Column("successes", Integer, nullable=False, default=0),
    Column("failures", Integer, nullable=False, default=0),
)

stage_runs = Table(
    "stage_runs",
    metadata,
    # Runs of a stage not yet added into its stage-wide `stage_modes` row: appending one locks no shared row
    # (engine/progression.py folds them in when the mode changes, and every few hundred runs).
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("stage", Integer, nullable=False),
    Column("success", Boolean, nullable=False),
    Index("ix_stage_runs_stage", "stage"),
)

escalation_numbers = Table(
    "escalation_numbers",
    metadata,
    # The last `n` of `SD-<stage>-ESCALATION-<n>` given out per stage, taken with one atomic upsert.
    Column("stage", Integer, primary_key=True, autoincrement=False),
    Column("last", Integer, nullable=False),
)

# --- configuration versions, snapshots, rollback log (engine/configuration.py, engine/rollbacks.py) ---

config_versions = Table(
    "config_versions",
    metadata,
    # One row per key changed; a rollback writes several rows under one version. Never updated or deleted.
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("venture_id", Id, ForeignKey("ventures.id"), nullable=False),
    Column("version", Integer, nullable=False),
    Column("key", String(120), nullable=False),
    Column("scope", String(120), nullable=False),
    Column("value", JSON, nullable=True),
    Column("unset", Boolean, nullable=False, default=False),
    Column("previous", JSON, nullable=True),
    Column("change", String(20), nullable=False),
    Column("stage", Integer, nullable=False),
    Column("actor", String(200), nullable=False),
    Column("actor_role", String(40), nullable=True),
    Column("reason", Text, nullable=False, default=""),
    _ts("created_at"),
    UniqueConstraint("venture_id", "version", "key"),
)

snapshots = Table(
    "snapshots",
    metadata,
    # A snapshot names a configuration version of a venture; `pre-stage-N` is retaken on each entry (newest wins).
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("venture_id", Id, ForeignKey("ventures.id"), nullable=False),
    Column("name", String(120), nullable=False),
    Column("version", Integer, nullable=False),
    Column("stage", Integer, nullable=False),
    Column("auto", Boolean, nullable=False, default=False),
    Column("actor", String(200), nullable=False),
    Column("reason", Text, nullable=False, default=""),
    _ts("created_at"),
    Index("ix_snapshots_venture_name", "venture_id", "name"),
)

rollbacks = Table(
    "rollbacks",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("venture_id", Id, ForeignKey("ventures.id"), nullable=False),
    Column("stage", Integer, nullable=False),
    Column("target", String(120), nullable=False),
    Column("target_version", Integer, nullable=False),
    Column("from_version", Integer, nullable=False),
    Column("to_version", Integer, nullable=True),
    Column("scope", JSON, nullable=False),
    Column("cause", String(120), nullable=False, default=""),
    Column("reason", Text, nullable=False, default=""),
    Column("trigger_id", String(80), nullable=True),
    Column("actor", String(200), nullable=False),
    _ts("started_at"),
    Column("duration_ms", Float, nullable=False),
    Column("outcome", String(20), nullable=False),
    Column("diff", JSON, nullable=False),
    Column("handlers", JSON, nullable=False),
    Column("escalation", String(60), nullable=True),
    Index("ix_rollbacks_venture", "venture_id", "id"),
)

# --- error log (engine/error_recovery.py) ---

error_log = Table(
    "error_log",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("venture_id", Id, ForeignKey("ventures.id"), nullable=False),
    Column("stage", Integer, nullable=False),
    Column("rule_id", String(80), nullable=False),
    Column("category", String(20), nullable=False),
    Column("matched", Boolean, nullable=False),
    Column("why", JSON, nullable=False),
    Column("error_type", String(200), nullable=False),
    Column("http_status", Integer, nullable=True),
    Column("message", Text, nullable=False),
    Column("operation", String(200), nullable=True),
    # open (being handled, or its handler died), resolved, recursed, escalated, aborted
    Column("status", String(20), nullable=False),
    Column("resolution", Text, nullable=False),
    Column("resolved_automatically", Boolean, nullable=False),
    Column("attempts", Integer, nullable=False),
    Column("steps", JSON, nullable=False),
    Column("escalation_code", String(60), nullable=True),
    Column("actor", String(200), nullable=False),
    _ts("occurred_at"),
    _ts("recorded_at"),
    _ts("closed_at", nullable=True),
    Column("time_to_resolve_ms", Float, nullable=True),
    Index("ix_error_log_venture", "venture_id", "stage"),
    Index("ix_error_log_category", "category"),
)

# --- notification outbox (engine/outbox.py, notify/) ---

outbox = Table(
    "outbox",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("event_id", Id, ForeignKey("events.id"), nullable=False),
    Column("venture_id", Id, nullable=True),
    Column("channel", String(80), nullable=False),
    Column("kind", String(60), nullable=False),
    Column("severity", String(2), nullable=False),
    Column("stage", Integer, nullable=True),
    Column("group_key", String(300), nullable=False),
    # pending (waiting, retrying or claimed by a deliverer until next_attempt_at), sent, dead
    Column("status", String(10), nullable=False),
    Column("attempts", Integer, nullable=False, default=0),
    _ts("created_at"),
    _ts("next_attempt_at"),
    Column("claim", String(40), nullable=True),
    _ts("sent_at", nullable=True),
    Column("delivery", String(40), nullable=True),
    Column("last_error", Text, nullable=True),
    Index("ix_outbox_due", "status", "next_attempt_at"),
    Index("ix_outbox_group", "status", "group_key"),
)

# --- API tokens (engine/tokens.py, api/) ---

api_tokens = Table(
    "api_tokens",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("name", String(100), nullable=False, unique=True),
    Column("role", String(20), nullable=False),
    # SHA-256 hex of the secret: the secret itself is shown once and never stored.
    Column("token_hash", String(64), nullable=False, unique=True),
    Column("created_by", String(200), nullable=False),
    _ts("created_at"),
    _ts("revoked_at", nullable=True),
    Column("revoked_by", String(200), nullable=True),
)

# --- crew jobs (crews/, engine/jobs.py) ---

jobs = Table(
    "jobs",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("venture_id", Id, ForeignKey("ventures.id"), nullable=False),
    Column("stage", Integer, nullable=False),
    Column("crew", String(100), nullable=False),
    # queued, running, succeeded, failed, cancelled
    Column("status", String(12), nullable=False),
    Column("options", JSON, nullable=False),
    Column("progress", JSON, nullable=False),
    Column("result", JSON, nullable=True),
    Column("cancel_requested", Boolean, nullable=False, default=False),
    Column("actor", String(200), nullable=False),
    Column("worker", String(200), nullable=True),
    _ts("created_at"),
    _ts("started_at", nullable=True),
    _ts("finished_at", nullable=True),
    _ts("heartbeat_at", nullable=True),
    Column("error", Text, nullable=True),
    Index("ix_jobs_status", "status", "heartbeat_at"),
    Index("ix_jobs_venture", "venture_id", "id"),
)
