"""The engine: the only code that changes state; each operation is one transaction with its events.

`Engine` is the plumbing (`EngineBase`, whose hooks it fills by delegating to components) and it holds the
components (`Triggers`, `ProgressionModes`, `Escalations`, `Timers`, `Stats`, `ErrorRecovery`, `Lifecycle`,
`Samples`, `Artifacts`, `Approvals`, `Configuration`, `Rollbacks`, `Outbox`, `Tokens`, `Jobs`, `Retention`): plain
classes that receive the plumbing and the components they use in their constructors (see `engine/plumbing.py`).
Its public methods are the API the CLI, the REST API, the web pages and crews use; those of the components are
one-line delegations.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Sequence
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Connection
from sqlalchemy import Engine as SAEngine

from venturegate.core.error_policy import ErrorInfo
from venturegate.core.gates import GateName, GateResult
from venturegate.definitions.loader import LoadedWorkflow
from venturegate.definitions.model import ParamValue, Trigger, Workflow
from venturegate.engine.actors import SYSTEM, Actor
from venturegate.engine.approvals import Approvals, ReviewedApproval
from venturegate.engine.artifacts import Artifacts
from venturegate.engine.base import Clock, EngineBase, utc_now
from venturegate.engine.configuration import ConfigChange, ConfigDiff, ConfigSetting, Configuration, Snapshot
from venturegate.engine.error_recovery import (
    CredentialsHook,
    ErrorRecord,
    ErrorRecovery,
    ErrorReport,
    Fallback,
    Handled,
)
from venturegate.engine.escalations import Escalation, Escalations
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
from venturegate.engine.jobs import DEFAULT_LEASE, Job, Jobs
from venturegate.engine.lifecycle import Lifecycle
from venturegate.engine.outbox import CLAIM_GROUPS, DeliveryReport, Outbox, OutboxEntry
from venturegate.engine.progression import ProgressionModes
from venturegate.engine.records import (
    Artifact,
    Event,
    Fired,
    MetricLevel,
    RaisedTrigger,
    SamplePoint,
    StoredSample,
    SubstageState,
    Venture,
    Visit,
)
from venturegate.engine.retention import RETENTION_BATCH, Retention, RetentionReport
from venturegate.engine.rollbacks import RollbackHandler, RollbackPlanReport, RollbackRecord, Rollbacks
from venturegate.engine.samples import Ingested, SampleIn, Samples
from venturegate.engine.stats import StageStats, Stats
from venturegate.engine.timers import TickReport, Timers
from venturegate.engine.tokens import ApiToken, Tokens
from venturegate.engine.triggers import Triggers
from venturegate.store.trigger_states import VentureRow


class Engine(EngineBase):
    """The public engine API that the CLI, the REST API and crews use."""

    def __init__(self, db: SAEngine, workflow: LoadedWorkflow, clock: Clock = utc_now) -> None:
        super().__init__(db, workflow, clock)
        self.outbox = Outbox(self)
        self.configuration = Configuration(self)
        self.modes = ProgressionModes(self)
        self.escalator = Escalations(self)
        self.triggers = Triggers(self, self.modes, self.escalator, self._rollback_action)
        self.timers = Timers(self, self.triggers, self.escalator)
        self.figures = Stats(self)
        self.recovery = ErrorRecovery(self, self.triggers, self.escalator)
        self.artifact_versions = Artifacts(self, self.triggers)
        self.approval_requests = Approvals(self, self.triggers)
        self.sample_intake = Samples(self, self.triggers)
        self.lifecycle = Lifecycle(self, self.triggers)
        self.api_tokens = Tokens(self)
        self.crew_jobs = Jobs(self)
        self.retention = Retention(self)
        self.restorer = Rollbacks(self, self.configuration, self.triggers, self.escalator)

    # -- the plumbing's hooks, filled by components --------------------------------------------
    def _notify(self, conn: Connection, event: Event) -> None:
        """Every event: queue its notifications in the outbox, in its transaction."""
        self.outbox.notify(conn, event)

    def _config_overrides(self, conn: Connection, row: VentureRow) -> dict[str, ParamValue]:
        """The venture's own configuration overrides (what conditions and gates read)."""
        return self.configuration.overrides(conn, row)

    def _on_stage_entered(self, conn: Connection, row: VentureRow, stage_id: int, actor: Actor, now: datetime) -> None:
        """A stage visit was opened: the configuration takes the `pre-stage-N` snapshot."""
        self.configuration.stage_entered(conn, row, stage_id, actor, now)

    def _transaction_ended(self, conn: Connection) -> None:
        """A transaction commits or rolls back: the configuration forgets which versions it wrote."""
        Configuration.transaction_ended(conn)

    def _rollback_action(
        self, conn: Connection, row: VentureRow, wf: Workflow, trig: Trigger, actor: Actor, now: datetime
    ) -> tuple[str, str]:
        """A rollback trigger's action (handed to `Triggers`; late-bound, as `Rollbacks` depends on `Triggers`)."""
        return self.restorer.action(conn, row, wf, trig, actor, now)

    # -- configuration and rollbacks ----------------------------------------------------------
    def config(self, ref: str | int, key: str | None = None) -> list[ConfigSetting]:
        """The venture's effective configuration at its current stage (plus any key it overrides), or one key."""
        return self.configuration.config(ref, key)

    def setting(self, ref: str | int, key: str) -> ConfigSetting:
        """One parameter's effective value for a venture (what crews read)."""
        return self.configuration.setting(ref, key)

    def config_history(self, ref: str | int, key: str | None = None) -> list[ConfigChange]:
        """Every configuration change of a venture, newest first (optionally of one key)."""
        return self.configuration.config_history(ref, key)

    def config_diff(self, ref: str | int, a: str, b: str = "current") -> ConfigDiff:
        """What differs between two configurations, each a version number, a snapshot name or `current`."""
        return self.configuration.config_diff(ref, a, b)

    def snapshots(self, ref: str | int) -> list[Snapshot]:
        """The venture's snapshots, newest first."""
        return self.configuration.snapshots(ref)

    def set_config(
        self,
        ref: str | int,
        key: str,
        value: object,
        *,
        actor: Actor,
        reason: str,
        now: datetime | None = None,
    ) -> ConfigChange:
        """Validate a value against the parameter's type and range and write it as the next version."""
        return self.configuration.set_config(ref, key, value, actor=actor, reason=reason, now=now)

    def snapshot(
        self, ref: str | int, name: str, *, actor: Actor, reason: str = "", now: datetime | None = None
    ) -> Snapshot:
        """Name the venture's current configuration version (names are unique; `pre-stage-N` is reserved)."""
        return self.configuration.snapshot(ref, name, actor=actor, reason=reason, now=now)

    def register_rollback_handler(self, scope: str, handler: RollbackHandler, *, stage: int | None = None) -> None:
        """Run `handler` whenever a rollback touches `scope` (of `stage` only, when given; in registration order)."""
        self.restorer.register_rollback_handler(scope, handler, stage=stage)

    def rollback(
        self,
        ref: str | int,
        to: str | int | None = None,
        *,
        actor: Actor,
        reason: str = "",
        cause: str = "",
        scope: list[str] | None = None,
        keys: list[str] | None = None,
        dry_run: bool = False,
        now: datetime | None = None,
    ) -> RollbackRecord:
        """Restore the configuration of `to` (a version or snapshot) as a new version, run handlers, log it.

        Without `to`, `cause` picks the branch of the current stage's decision tree and its plan is carried
        out: restore its scopes from `pre-stage-N`, then recurse when the branch says so.

        `keys` limits the restore to those configuration keys (a crew's own; `[]`: none): other settings
        changed since the target are kept, while the handlers of the scopes still run.
        """
        return self.restorer.rollback(
            ref, to, actor=actor, reason=reason, cause=cause, scope=scope, keys=keys, dry_run=dry_run, now=now
        )

    def rollback_plan(self, ref: str | int, cause: str) -> RollbackPlanReport:
        """Explain which branch of the current stage's decision tree applies to a cause, and what it would do."""
        return self.restorer.rollback_plan(ref, cause)

    def rollbacks(self, ref: str | int | None = None) -> list[RollbackRecord]:
        """The rollback log, newest first (one venture's, or every venture's)."""
        return self.restorer.rollbacks(ref)

    # -- triggers and timers ------------------------------------------------------------------
    def tick(self, *, now: datetime | None = None, limit: int = 1000) -> TickReport:
        """Run every timer due at `now` (each in its own transaction, so one failure loses nothing else)."""
        return self.timers.tick(now=now, limit=limit)

    def raised_triggers(self) -> list[RaisedTrigger]:
        """Every pending or firing trigger state with its venture's stage, in one query (the portfolio reads it)."""
        return self.triggers.raised()

    def trigger_status(self, ref: str | int, *, now: datetime | None = None) -> list[dict[str, Any]]:
        """Each trigger of the venture's current stage: state, since, last value and explanation, times fired."""
        return self.triggers.status(ref, now=now)

    # -- lifecycle ----------------------------------------------------------------------------
    def create_venture(
        self,
        name: str,
        segment: str,
        stage: int = 1,
        *,
        actor: Actor = SYSTEM,
        now: datetime | None = None,
    ) -> Venture:
        """Create a venture pinned to the current workflow and enter its start stage."""
        return self.lifecycle.create_venture(name, segment, stage, actor=actor, now=now)

    def venture(self, ref: str | int) -> Venture:
        """A venture by id or name."""
        return self.lifecycle.venture(ref)

    def ventures(
        self,
        stage: int | None = None,
        status: str | None = None,
        *,
        ids: Collection[int] | None = None,
        statuses: Collection[str] | None = None,
        exclude: Collection[int] = (),
        limit: int | None = None,
        offset: int = 0,
    ) -> list[Venture]:
        """Ventures by id, optionally filtered (by stage, status, ids or ids to leave out) and paged."""
        return self.lifecycle.ventures(
            stage, status, ids=ids, statuses=statuses, exclude=exclude, limit=limit, offset=offset
        )

    def venture_counts(self) -> dict[tuple[int, str], int]:
        """How many ventures are at each (stage, status), counted in the database."""
        return self.lifecycle.venture_counts()

    def samples(
        self, ref: str | int, metric: str, *, since: datetime, until: datetime, limit: int = 500
    ) -> list[SamplePoint]:
        """A metric's samples for a venture with since < at <= until, oldest first (the newest `limit`)."""
        return self.lifecycle.samples(ref, metric, since=since, until=until, limit=limit)

    def stored_samples(
        self,
        ref: str | int,
        metric: str | None = None,
        *,
        since: datetime | None = None,
        key: str | None = None,
        limit: int = 100,
    ) -> list[StoredSample]:
        """A venture's stored samples, newest first: of one metric, after `since`, or the one with `key`."""
        return self.lifecycle.stored_samples(ref, metric, since=since, key=key, limit=limit)

    def levels(self, ref: str | int) -> list[MetricLevel]:
        """Each metric of the venture's current stage: its levels (definition → segment → venture override),
        the latest sample and its verdict against the threshold — what gates, triggers and charts read."""
        return self.lifecycle.levels(ref)

    def visits(self, ref: str | int) -> list[Visit]:
        """Every stage visit of a venture, oldest first."""
        return self.lifecycle.visits(ref)

    def substages(self, ref: str | int) -> list[SubstageState]:
        """The substages of the venture's current visit."""
        return self.lifecycle.substages(ref)

    def check_gate(self, ref: str | int, gate: GateName = "exit", *, now: datetime | None = None) -> GateResult:
        """Judge the current stage's entry or exit gate, check by check."""
        return self.lifecycle.check_gate(ref, gate, now=now)

    def advance(
        self,
        ref: str | int,
        *,
        actor: Actor,
        now: datetime | None = None,
        expected_stage: int | None = None,
    ) -> Venture:
        """Leave the current stage when its exit gate passes and enter the next one."""
        return self.lifecycle.advance(ref, actor=actor, now=now, expected_stage=expected_stage)

    def complete_substage(
        self,
        ref: str | int,
        substage: str,
        *,
        actor: Actor,
        items: list[str] | None = None,
        now: datetime | None = None,
    ) -> SubstageState:
        """Complete a substage of the current stage, attesting its done-when items (all of them by default)."""
        return self.lifecycle.complete_substage(ref, substage, actor=actor, items=items, now=now)

    def reopen_substages(
        self,
        ref: str | int,
        substages: list[str],
        *,
        actor: Actor,
        reason: str,
        now: datetime | None = None,
    ) -> list[SubstageState]:
        """Re-open completed substages of the current stage (to measure again), each with a `substage.reopened` event.

        Substages that are open already are left as they are; the result lists the ones re-opened.
        """
        return self.lifecycle.reopen_substages(ref, substages, actor=actor, reason=reason, now=now)

    def attest(self, ref: str | int, criterion: str, *, actor: Actor, now: datetime | None = None) -> None:
        """Attest a written gate criterion of the current stage."""
        self.lifecycle.attest(ref, criterion, actor=actor, now=now)

    def pause(self, ref: str | int, *, actor: Actor, reason: str = "", now: datetime | None = None) -> Venture:
        """Pause a venture: nothing advances it until it is resumed."""
        return self.lifecycle.pause(ref, actor=actor, reason=reason, now=now)

    def resume(self, ref: str | int, *, actor: Actor, reason: str = "", now: datetime | None = None) -> Venture:
        """Resume a paused venture (its entry gate is judged again)."""
        return self.lifecycle.resume(ref, actor=actor, reason=reason, now=now)

    def kill(self, ref: str | int, *, actor: Actor, reason: str = "", now: datetime | None = None) -> Venture:
        """Stop a venture for good."""
        return self.lifecycle.kill(ref, actor=actor, reason=reason, now=now)

    def events(
        self,
        ref: str | int | None = None,
        *,
        kind: str | None = None,
        after_id: int = 0,
        limit: int = 100,
    ) -> list[Event]:
        """Events, oldest first, optionally for one venture and of one kind (prefix match)."""
        return self.lifecycle.events(ref, kind=kind, after_id=after_id, limit=limit)

    # -- samples ------------------------------------------------------------------------------
    @property
    def sample_max_age(self) -> timedelta:
        """How far back a sample's time may lie (read once from `VENTUREGATE_SAMPLE_MAX_AGE`; settable)."""
        return self.sample_intake.max_age

    @sample_max_age.setter
    def sample_max_age(self, value: timedelta) -> None:
        self.sample_intake.max_age = value

    def record_sample(
        self,
        ref: str | int,
        metric: str,
        value: float,
        *,
        actor: Actor,
        at: datetime | None = None,
        key: str | None = None,
        now: datetime | None = None,
    ) -> Ingested:
        """Record one sample (a retry with the same key is harmless) and judge the triggers that read it."""
        return self.sample_intake.record_one(ref, metric, value, actor=actor, at=at, key=key, now=now)

    def record_samples(self, batch: Sequence[SampleIn], *, actor: Actor, now: datetime | None = None) -> Ingested:
        """Record a batch in one transaction, then judge, before returning, the triggers that read those metrics
        (see `Samples.record`: all or nothing, retried on a transient collision)."""
        return self.sample_intake.record(batch, actor=actor, now=now)

    # -- approvals ----------------------------------------------------------------------------
    def request_approval(
        self,
        ref: str | int,
        role: str,
        *,
        actor: Actor,
        reason: str = "",
        payload: dict[str, Any] | None = None,
        now: datetime | None = None,
    ) -> ReviewedApproval:
        """Ask a role to approve something in the current stage (an open request for that role is returned as is)."""
        return self.approval_requests.request(ref, role, actor=actor, reason=reason, payload=payload, now=now)

    def decide_approval(
        self,
        approval_id: int,
        approve: bool,
        *,
        actor: Actor,
        reason: str = "",
        now: datetime | None = None,
    ) -> ReviewedApproval:
        """Approve or reject a pending request; only its role may decide."""
        return self.approval_requests.decide(approval_id, approve, actor=actor, reason=reason, now=now)

    def bypass_approval(
        self, approval_id: int, *, actor: Actor, reason: str = "", now: datetime | None = None
    ) -> ReviewedApproval:
        """Grant a pending approval in an emergency, without its role: the venture is flagged until reviewed
        (see `Approvals.bypass`)."""
        return self.approval_requests.bypass(approval_id, actor=actor, reason=reason, now=now)

    def review_bypass(
        self, approval_id: int, *, actor: Actor, reason: str, now: datetime | None = None
    ) -> ReviewedApproval:
        """Review an emergency bypass, which lifts the venture's flag once no other bypass awaits review
        (see `Approvals.review`)."""
        return self.approval_requests.review(approval_id, actor=actor, reason=reason, now=now)

    def approvals(
        self, ref: str | int | None = None, status: str | None = None, *, unreviewed: bool = False
    ) -> list[ReviewedApproval]:
        """Approval requests, newest first; `unreviewed` keeps the bypasses that await review."""
        return self.approval_requests.listing(ref, status, unreviewed=unreviewed)

    def unreviewed_bypasses(self, ref: str | int | None = None) -> list[ReviewedApproval]:
        """Bypassed approvals awaiting review (what flags a venture), newest first."""
        return self.approval_requests.unreviewed(ref)

    # -- artifacts ----------------------------------------------------------------------------
    def put_artifact(
        self,
        ref: str | int,
        name: str,
        content: Any,
        *,
        actor: Actor,
        derived_from: list[str] | None = None,
        now: datetime | None = None,
    ) -> Artifact:
        """Validate and store a new version (identical content to the newest version stores nothing)."""
        return self.artifact_versions.put(ref, name, content, actor=actor, derived_from=derived_from, now=now)

    def artifact(self, ref: str | int, name: str, version: int | None = None) -> Artifact:
        """One version of an artifact (the newest by default)."""
        return self.artifact_versions.get(ref, name, version)

    def artifacts(self, ref: str | int) -> list[Artifact]:
        """Every stored artifact version of a venture."""
        return self.artifact_versions.listing(ref)

    def lineage(self, ref: str | int, name: str, version: int | None = None) -> list[tuple[int, Artifact]]:
        """The artifact and everything it was derived from, depth first, as (depth, artifact)."""
        return self.artifact_versions.lineage(ref, name, version)

    # -- API tokens ---------------------------------------------------------------------------
    def create_token(self, name: str, role: str, *, actor: Actor, now: datetime | None = None) -> tuple[ApiToken, str]:
        """Create a token; returns it with its secret, which is not stored and cannot be shown again."""
        return self.api_tokens.create(name, role, actor=actor, now=now)

    def tokens(self, *, include_revoked: bool = True) -> list[ApiToken]:
        """Every token, oldest first."""
        return self.api_tokens.listing(include_revoked=include_revoked)

    def revoke_token(self, ref: str | int, *, actor: Actor, now: datetime | None = None) -> ApiToken:
        """Revoke a token by name or id; it stops working at once in this process, within seconds elsewhere."""
        return self.api_tokens.revoke(ref, actor=actor, now=now)

    def authenticate(self, secret: str) -> ApiToken | None:
        """The live token with this secret, or None (unknown or revoked)."""
        return self.api_tokens.authenticate(secret)

    # -- crew jobs ----------------------------------------------------------------------------
    def create_job(
        self,
        ref: str | int,
        stage: int,
        crew: str,
        options: dict[str, Any] | None = None,
        *,
        actor: Actor,
        now: datetime | None = None,
    ) -> Job:
        """Queue a run of `crew` for the venture's `stage` (which must be its current stage)."""
        return self.crew_jobs.create(ref, stage, crew, options, actor=actor, now=now)

    def claim_job(self, job_id: int, *, worker: str = "inline", now: datetime | None = None) -> Job | None:
        """Start a queued job (queued → running); None when it is not queued any more (another worker took it)."""
        return self.crew_jobs.claim(job_id, worker=worker, now=now)

    def heartbeat_job(
        self, job_id: int, *, progress: dict[str, Any] | None = None, now: datetime | None = None
    ) -> bool:
        """Mark a running job alive (and store its progress); returns whether cancellation was requested."""
        return self.crew_jobs.heartbeat(job_id, progress=progress, now=now)

    def crew_progress(
        self,
        job_id: int,
        step: str,
        done: int,
        total: int,
        message: str = "",
        *,
        actor: Actor,
        now: datetime | None = None,
    ) -> bool:
        """Record a crew's progress as a `crew.progress` event and the job's heartbeat; returns cancel_requested."""
        return self.crew_jobs.progress(job_id, step, done, total, message, actor=actor, now=now)

    def finish_job(
        self,
        job_id: int,
        status: str,
        *,
        result: dict[str, Any] | None = None,
        error: str | None = None,
        now: datetime | None = None,
    ) -> Job:
        """End a running job as succeeded, failed or cancelled (an already-ended job is left as it is)."""
        return self.crew_jobs.finish(job_id, status, result=result, error=error, now=now)

    def cancel_job(self, job_id: int, *, actor: Actor, now: datetime | None = None) -> Job:
        """Ask a job to stop: a queued job is cancelled at once, a running one at its next step."""
        return self.crew_jobs.cancel(job_id, actor=actor, now=now)

    def job(self, job_id: int) -> Job:
        """One job."""
        return self.crew_jobs.get(job_id)

    def jobs(self, venture: str | int | None = None, status: str | None = None, limit: int = 100) -> list[Job]:
        """Jobs, newest first."""
        return self.crew_jobs.listing(venture, status, limit)

    def sweep_jobs(self, *, lease: timedelta = DEFAULT_LEASE, now: datetime | None = None) -> list[Job]:
        """End, visibly, every running job whose worker died (see `Jobs.sweep`)."""
        return self.crew_jobs.sweep(lease=lease, now=now)

    def crew_alert(
        self,
        ref: str | int,
        message: str,
        *,
        severity: str,
        actor: Actor,
        data: dict[str, Any] | None = None,
        now: datetime | None = None,
    ) -> int:
        """Raise an `alert` event for a venture from a crew, routed like any alert of that severity; returns its id."""
        return self.crew_jobs.alert(ref, message, severity=severity, actor=actor, data=data, now=now)

    # -- retention ----------------------------------------------------------------------------
    def apply_retention(self, *, now: datetime | None = None, batch: int = RETENTION_BATCH) -> RetentionReport:
        """Remove every venture's samples older than its `metrics_retention_days`; one event per venture touched."""
        return self.retention.apply(now=now, batch=batch)

    # -- notifications ------------------------------------------------------------------------
    def outbox_entries(self, status: str | None = None, *, limit: int = 200) -> list[OutboxEntry]:
        """Notifications, newest first; `status` is pending, sent or dead."""
        return self.outbox.entries(status, limit=limit)

    def retry_outbox(self, outbox_id: int, *, actor: Actor, now: datetime | None = None) -> OutboxEntry:
        """Put a dead-lettered notification back to pending, due now, with its attempts reset."""
        return self.outbox.retry(outbox_id, actor=actor, now=now)

    def deliver_outbox(self, now: datetime | None = None, *, limit: int = CLAIM_GROUPS) -> DeliveryReport:
        """Send every due group as one message per group; count failures, back off, dead-letter the exhausted."""
        return self.outbox.deliver(now, limit=limit)

    # -- progression, escalations, figures ----------------------------------------------------
    def progression(self, stage: int | None = None) -> list[dict[str, Any]]:
        """Stage-wide and per-venture modes with their run counts."""
        return self.modes.listing(stage)

    def set_progression(
        self,
        stage: int,
        mode: str | None,
        *,
        actor: Actor,
        venture: str | int | None = None,
        now: datetime | None = None,
    ) -> None:
        """Set a stage's mode (stage-wide, or for one venture); `None` removes a venture's override."""
        self.modes.set_mode(stage, mode, actor=actor, venture=venture, now=now)

    def escalations(self, status: str | None = None, ref: str | int | None = None) -> list[Escalation]:
        """Escalations, newest first."""
        return self.escalator.listing(status, ref)

    def resolve_escalation(
        self, ident: str | int, resume_at: str, *, actor: Actor, reason: str = "", now: datetime | None = None
    ) -> Escalation:
        """Close an escalation and resume its venture at a stage (`14`) or a substage of its stage (`28.2`)."""
        return self.escalator.resolve(ident, resume_at, actor=actor, reason=reason, now=now)

    def stats(self, stage: int | None = None) -> list[StageStats]:
        """Per-stage automation level, execution time, recursions and escalations."""
        return self.figures.stats(stage)

    # -- error recovery -----------------------------------------------------------------------
    def register_credentials_hook(self, scope: int | str, fn: CredentialsHook) -> None:
        """Register what refreshes credentials for a stage (`19`), one rule (`E19-AUTH`) or every stage (`*`)."""
        self.recovery.register_credentials_hook(scope, fn)

    def register_fallback(self, scope: int | str, fn: Fallback) -> None:
        """Register the fallback for a stage (`28`), one rule (`E28-CACHE-UNREACHABLE`) or every stage (`*`)."""
        self.recovery.register_fallback(scope, fn)

    def handle_error(
        self,
        venture: str | int,
        stage: int | None,
        error: BaseException | ErrorInfo,
        operation: Callable[..., Any] | None = None,
        *,
        actor: Actor = SYSTEM,
        now: datetime | None = None,
        occurred_at: datetime | None = None,
        timeout: float | None = None,
    ) -> Handled:
        """Classify an error with the stage's taxonomy (the venture's current stage when None) and recover
        (see `ErrorRecovery.handle`)."""
        return self.recovery.handle(
            venture, stage, error, operation, actor=actor, now=now, occurred_at=occurred_at, timeout=timeout
        )

    def error_records(
        self,
        venture: str | int | None = None,
        stage: int | None = None,
        status: str | None = None,
        limit: int = 100,
    ) -> list[ErrorRecord]:
        """Errors of the log, newest first."""
        return self.recovery.records(venture, stage, status, limit)

    def error_report(self, venture: str | int | None = None, stage: int | None = None) -> ErrorReport:
        """Counts by category, mean time to resolve and the share resolved automatically."""
        return self.recovery.report(venture, stage)

    def error_runbook(self, stage_id: int) -> str:
        """The Markdown runbook of a stage's error taxonomy (the current workflow)."""
        return self.recovery.stage_runbook(stage_id)


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
