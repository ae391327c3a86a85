"""The engine: the only code that changes state; each operation is one transaction with its events."""

from __future__ import annotations

from venturegate.engine.actors import SYSTEM, Actor
from venturegate.engine.approvals import ApprovalOps
from venturegate.engine.artifacts import ArtifactOps
from venturegate.engine.error_recovery import ErrorOps
from venturegate.engine.escalations import Escalation
from venturegate.engine.exceptions import (
    ArtifactInvalid,
    BadInput,
    Collision,
    Conflict,
    Forbidden,
    GateNotPassed,
    NotFound,
    StoreUnavailable,
    VenturegateError,
)
from venturegate.engine.jobs import Job, JobOps
from venturegate.engine.lifecycle import LifecycleOps
from venturegate.engine.outbox import OutboxOps
from venturegate.engine.records import Fired
from venturegate.engine.retention import RetentionOps
from venturegate.engine.rollbacks import RollbackOps
from venturegate.engine.samples import Ingested, SampleIn, SampleOps
from venturegate.engine.stats import StageStats, StatsOps
from venturegate.engine.timers import TickReport
from venturegate.engine.tokens import ApiToken, TokenOps


class Engine(
    LifecycleOps,
    SampleOps,
    ArtifactOps,
    ApprovalOps,
    RollbackOps,
    ErrorOps,
    OutboxOps,
    StatsOps,
    TokenOps,
    JobOps,
    RetentionOps,
):
    """The public engine API that the CLI, the REST API and crews use."""


__all__ = [
    "SYSTEM",
    "Actor",
    "ApiToken",
    "ArtifactInvalid",
    "BadInput",
    "Collision",
    "Conflict",
    "Engine",
    "Escalation",
    "Fired",
    "Forbidden",
    "GateNotPassed",
    "Ingested",
    "Job",
    "NotFound",
    "SampleIn",
    "StageStats",
    "StoreUnavailable",
    "TickReport",
    "VenturegateError",
]
