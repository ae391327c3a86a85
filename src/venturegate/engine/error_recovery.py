"""Recovering from a crew's errors by policy: record the error, run its recovery chain, report the error log.

The decision (which rule, which chain) is `core/error_policy.py`'s; this module acts on it.

`handle_error` never holds a transaction while it waits: it records the error as open (one
transaction, so a crash cannot lose it), runs the retrying steps of the recovery chain outside any
transaction with stamina (exponential backoff with jitter, attempt and time caps), then records the
outcome — and sends the venture back or opens an escalation — in a second transaction.

Conventions for callers (crews):

- `operation` repeats what failed. `retry` and `refresh_credentials` call it with no arguments;
  `raise_timeout` calls it as `operation(timeout=seconds)`, the timeout that ran out doubled per
  attempt (the one passed as `timeout=`, else the exception's `.timeout`, else 30 s).
- `attempts` counts the calls `handle_error` makes; the failure being reported is not one of them.
  A retry keeps going only while the new failure falls under the same rule; any other failure ends
  the step and the chain moves on to `then`.
- Steps that need something this call does not have (no `operation`; no registered credentials
  hook or fallback, or a credentials hook that answers `False`: it holds no credentials of this
  venture to refresh) are skipped and the chain moves on. A chain that runs out escalates to the stage
  owner, and a recursion that cannot happen (the venture has left the stage or is paused) escalates
  instead: every error ends resolved, recursed, escalated or aborted.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Connection

from venturegate.core.durations import parse_duration
from venturegate.core.error_policy import (
    CATEGORIES,
    NEEDS_OPERATION,
    TERMINAL,
    Classification,
    ErrorInfo,
    chain,
    classify,
    describe,
    owner_role,
    raised_timeout,
    runbook,
    time_cap,
)
from venturegate.definitions.model import Recovery, Stage, Workflow
from venturegate.engine.actors import SYSTEM, Actor
from venturegate.engine.escalations import Escalations
from venturegate.engine.exceptions import BadInput, Conflict, NotFound
from venturegate.engine.plumbing import Plumbing
from venturegate.engine.records import _Record
from venturegate.engine.triggers import Triggers
from venturegate.store import error_log
from venturegate.store.error_log import ErrorRow, OutcomeRow
from venturegate.store.trigger_states import VentureRow

DEFAULT_TIMEOUT = 30.0
"""Seconds assumed to have run out when `raise_timeout` is told nothing better."""
STATUSES = ("open", "resolved", "recursed", "escalated", "aborted")
"""Where an error stands: being handled (or its handler died), or how it ended."""
AUTOMATIC_TARGET = 0.8
"""The studio's target share of errors resolved without a human."""


@dataclass(frozen=True)
class ErrorContext:
    """What a credentials hook or a fallback is told about the error it is called for."""

    venture_id: int
    venture: str
    stage: int
    rule_id: str
    category: str
    error: ErrorInfo
    attempt: int = 1


CredentialsHook = Callable[[ErrorContext], bool | None]
"""Refreshes the credentials of the work that failed; `False` when it holds none of that venture's (step skipped)."""
Fallback = Callable[[ErrorContext], Any]


@dataclass(frozen=True)
class ErrorRecord(_Record):
    """One error of the error log: how it was classified, what was done, how it ended."""

    id: int
    venture_id: int
    stage: int
    rule_id: str
    category: str
    matched: bool
    why: list[str]
    error_type: str
    http_status: int | None
    message: str
    operation: str | None
    status: str
    """open, resolved, recursed, escalated or aborted."""
    resolution: str
    resolved_automatically: bool
    attempts: int
    steps: list[dict[str, Any]]
    escalation_code: str | None
    actor: str
    occurred_at: datetime
    recorded_at: datetime
    closed_at: datetime | None
    time_to_resolve_ms: float | None


@dataclass(frozen=True)
class Handled:
    """What `handle_error` returns: the stored record and the value of the call that succeeded, if any."""

    record: ErrorRecord
    result: Any = None

    @property
    def resolved(self) -> bool:
        """The work went through (a retry, a credentials refresh, a longer timeout or a fallback succeeded)."""
        return self.record.status == "resolved"


@dataclass(frozen=True)
class CategoryFigures(_Record):
    """Error figures of one category."""

    category: str
    errors: int
    resolved_automatically: int
    resolved_by_people: int
    escalated: int
    recursed: int
    aborted: int
    open: int
    mean_time_to_resolve_ms: float | None
    automatic_share: float | None


@dataclass(frozen=True)
class ErrorReport(_Record):
    """Counts by category, mean time to resolve and the share resolved without a human."""

    errors: int
    open: int
    resolved_automatically: int
    resolved_by_people: int
    automatic_share: float | None
    target: float
    meets_target: bool | None
    mean_time_to_resolve_ms: float | None
    by_category: list[CategoryFigures]


@dataclass
class _Run:
    """The trail of the steps run outside the database."""

    steps: list[dict[str, Any]] = field(default_factory=list)
    attempts: int = 0
    result: Any = None
    last: ErrorInfo | None = None

    def note(self, step: Recovery, outcome: str, calls: int, detail: str) -> None:
        self.attempts += calls
        self.steps.append({"action": step.action, "outcome": outcome, "attempts": calls, "detail": detail})


def _record(r: ErrorRow) -> ErrorRecord:
    """The record of a row (the same fields, in the same order; the JSON lists lists of their own)."""
    return ErrorRecord(*r._replace(matched=bool(r.matched), why=list(r.why), steps=list(r.steps)))


def _scope_key(scope: int | str) -> str:
    text = str(scope).strip()
    if isinstance(scope, bool) or not text or (isinstance(scope, int) and scope < 1):
        raise BadInput(
            f"'{scope}' is not a scope", where="scope", hint="give a stage number, a rule id (E19-AUTH) or '*'"
        )
    return text


class ErrorRecovery:
    """`handle_error`, its hooks, the error log, its figures and the runbook.

    Depends on the plumbing, the triggers (a recovery that goes back takes the trigger path's recursion) and the
    escalations.
    """

    def __init__(self, plumbing: Plumbing, triggers: Triggers, escalations: Escalations) -> None:
        self.plumbing = plumbing
        self.triggers = triggers
        self.escalations = escalations
        self._registered: dict[str, dict[str, Callable[[ErrorContext], Any]]] = {"credentials": {}, "fallback": {}}

    # -- hooks ---------------------------------------------------------------------------------
    def _hooks(self, kind: str) -> dict[str, Callable[[ErrorContext], Any]]:
        return self._registered[kind]

    def register_credentials_hook(self, scope: int | str, fn: CredentialsHook) -> None:
        """Register what refreshes credentials for a stage (`19`), one rule (`E19-AUTH`) or every stage (`*`)."""
        self._hooks("credentials")[_scope_key(scope)] = fn

    def register_fallback(self, scope: int | str, fn: Fallback) -> None:
        """Register the fallback for a stage (`28`), one rule (`E28-CACHE-UNREACHABLE`) or every stage (`*`)."""
        self._hooks("fallback")[_scope_key(scope)] = fn

    def _hook(self, kind: str, ctx: ErrorContext) -> Callable[[ErrorContext], Any] | None:
        self.plumbing.plugin_hooks()
        hooks = self._hooks(kind)
        return hooks.get(ctx.rule_id) or hooks.get(str(ctx.stage)) or hooks.get("*")

    # -- handling ------------------------------------------------------------------------------
    def handle(
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
        """Classify an error with the stage's taxonomy (the venture's current stage when None) and recover.

        Returns the stored record and, when a call went through, its value. Time to resolve runs
        from `occurred_at` (default `now`) to the end of the handling.
        """
        now = self.plumbing.when(now)
        since = now if occurred_at is None else self.plumbing.when(occurred_at)
        if since > now:
            raise BadInput("the error cannot have occurred after it was reported", where="occurred_at")
        info = describe(error) if isinstance(error, BaseException) else error
        if not isinstance(info, ErrorInfo):
            raise BadInput(f"error must be an exception or an ErrorInfo, not {type(error).__name__}", where="error")
        base_timeout = _base_timeout(error, timeout)
        started = time.perf_counter()
        ctx, found, role, error_id = self._open_error(venture, stage, info, operation, actor, now, since)
        run, terminal = self._run_chain(ctx, found, role, operation, base_timeout)
        elapsed_ms = (time.perf_counter() - started) * 1000
        record = self._close_error(error_id, ctx, found, role, run, terminal, actor, now, elapsed_ms)
        return Handled(record, run.result if record.status == "resolved" else None)

    def _open_error(
        self,
        ref: str | int,
        stage_id: int | None,
        info: ErrorInfo,
        operation: Callable[..., Any] | None,
        actor: Actor,
        now: datetime,
        since: datetime,
    ) -> tuple[ErrorContext, Classification, str, int]:
        """Classify and store the error as open, with an `error.reported` event."""
        p = self.plumbing
        with p.tx() as conn:
            row = p._row(conn, ref, lock=True)
            if row.status in ("killed", "completed"):
                raise Conflict(f"venture '{row.name}' is {row.status}; its errors are no longer handled")
            wf = p.pinned(conn, row.workflow_digest).workflow
            stage = self._error_stage(wf, row.stage if stage_id is None else stage_id)
            role = owner_role(stage, wf.defaults.escalation_role)
            found = classify(stage.errors, info, role)
            error_id = error_log.insert_open(
                conn,
                venture_id=row.id,
                stage=stage.id,
                rule_id=found.rule.id,
                category=found.category,
                matched=found.matched,
                why=list(found.reasons),
                error_type=info.type_name[:200],
                http_status=info.status,
                message=info.message,
                operation=_name(operation),
                actor=actor.name,
                occurred_at=since,
                recorded_at=now,
            )
            p._event(
                conn,
                row.id,
                "error.reported",
                actor,
                now,
                stage=stage.id,
                reason=f"{found.rule.id} ({found.category}): {info.message}"[:500],
                data={"error": error_id, "classification": found.as_dict(), "info": info.as_dict()},
            )
            ctx = ErrorContext(row.id, row.name, stage.id, found.rule.id, found.category, info)
            return ctx, found, role, error_id

    def _error_stage(self, wf: Workflow, stage_id: int) -> Stage:
        stage = wf.stage(stage_id)
        if stage is None:
            raise NotFound(
                f"stage {stage_id} is not in workflow {wf.workflow.id} {wf.workflow.version}",
                where="stage",
                hint="give a stage of the venture's workflow (`venturegate workflow show` lists them)",
            )
        return stage

    def _run_chain(
        self,
        ctx: ErrorContext,
        found: Classification,
        role: str,
        operation: Callable[..., Any] | None,
        base_timeout: float,
    ) -> tuple[_Run, Recovery | None]:
        """Run the chain's retrying steps (outside any transaction); return the terminal step, None if resolved."""
        run = _Run(last=ctx.error)
        for step in chain(found.rule.recovery):
            if step.action in TERMINAL:
                return run, step
            if self._attempt(step, ctx, found, role, operation, base_timeout, run):
                return run, None
        exhausted = Recovery(action="escalate", role=role, attempts=1)
        run.steps.append({"action": "escalate", "outcome": "chain exhausted", "attempts": 0, "detail": ""})
        return run, exhausted

    def _attempt(
        self,
        step: Recovery,
        ctx: ErrorContext,
        found: Classification,
        role: str,
        operation: Callable[..., Any] | None,
        base_timeout: float,
        run: _Run,
    ) -> bool:
        """Run one retrying step; True when the work went through."""
        if step.action in NEEDS_OPERATION and operation is None:
            run.note(step, "skipped", 0, "no operation to call again (reported without one)")
            return False
        hook = None
        if step.action in ("refresh_credentials", "fallback"):
            kind = "credentials" if step.action == "refresh_credentials" else "fallback"
            hook = self._hook(kind, ctx)
            if hook is None:
                run.note(step, "skipped", 0, f"no {kind} hook registered for {ctx.rule_id}, stage {ctx.stage} or '*'")
                return False

        def call(n: int) -> Any:
            if step.action == "fallback":
                return hook(replace(ctx, attempt=n))  # type: ignore[misc]
            if step.action == "refresh_credentials" and hook(replace(ctx, attempt=n)) is False:  # type: ignore[misc]
                raise _NothingToRefresh
            if step.action == "raise_timeout":
                return operation(timeout=raised_timeout(base_timeout, n))  # type: ignore[misc]
            return operation()  # type: ignore[misc]

        def same_rule(exc: Exception) -> bool:
            # A fallback's own failures are retried as such; the work's failures only while they fall under the rule.
            if isinstance(exc, _NothingToRefresh):
                return False
            return step.action == "fallback" or classify([found.rule], describe(exc), role).matched

        ok, calls, value, exc = _retrying(step, call, same_rule)
        if isinstance(exc, _NothingToRefresh):
            run.note(step, "skipped", 0, f"the credentials hook holds no credentials of venture {ctx.venture}")
            return False
        if ok:
            run.result = value
            run.note(step, "succeeded", calls, f"{step.action} succeeded after {calls} attempt(s)")
            return True
        assert exc is not None
        run.last = describe(exc)
        run.note(step, "failed", calls, f"{type(exc).__name__}: {exc}"[:500])
        return False

    def _close_error(
        self,
        error_id: int,
        ctx: ErrorContext,
        found: Classification,
        role: str,
        run: _Run,
        terminal: Recovery | None,
        actor: Actor,
        now: datetime,
        elapsed_ms: float,
    ) -> ErrorRecord:
        """Apply the terminal step (recurse, escalate, abort) and store the outcome, in one transaction."""
        p = self.plumbing
        with p.tx() as conn:
            row = p._row(conn, ctx.venture_id, lock=True)
            head = f"error #{error_id} {found.rule.id} ({found.category})"
            code: str | None = None
            if terminal is None:
                status, resolution = "resolved", run.steps[-1]["detail"]
            elif terminal.action == "abort":
                status, resolution = "aborted", "aborted: the operation is abandoned; nothing retries it"
                run.steps.append({"action": "abort", "outcome": "aborted", "attempts": 0, "detail": ""})
            elif terminal.action == "recurse":
                status, resolution, code = self._error_recurse(conn, row, ctx, terminal, head, role, actor, now, run)
            else:
                target = terminal.role or role
                code = self.escalations.open(conn, row, target, f"{head}: {ctx.error.message}"[:500], now, None)
                status, resolution = "escalated", f"escalated to {target} as {code}"
                run.steps.append({"action": "escalate", "outcome": "escalated", "attempts": 0, "detail": code})
            automatic = status in ("resolved", "recursed")
            closed = now + timedelta(milliseconds=elapsed_ms)
            ttr = (closed - error_log.occurred_at(conn, error_id)).total_seconds() * 1000 if automatic else None
            stored = error_log.close(
                conn,
                error_id,
                status=status,
                resolution=resolution,
                resolved_automatically=automatic,
                attempts=run.attempts,
                steps=run.steps,
                escalation_code=code,
                closed_at=closed,
                time_to_resolve_ms=None if ttr is None else round(ttr, 3),
            )
            p._event(
                conn,
                ctx.venture_id,
                f"error.{status}",
                actor,
                now,
                stage=ctx.stage,
                reason=f"{head}: {resolution}"[:500],
                data={"error": error_id, "rule": found.rule.id, "category": found.category, "attempts": run.attempts},
            )
            return _record(stored)

    def _error_recurse(
        self,
        conn: Connection,
        row: VentureRow,
        ctx: ErrorContext,
        step: Recovery,
        head: str,
        role: str,
        actor: Actor,
        now: datetime,
        run: _Run,
    ) -> tuple[str, str, str | None]:
        """Send the venture back (the trigger path's recursion, loop prevention included), else escalate."""
        wf = self.plumbing.pinned(conn, row.workflow_digest).workflow
        target = step.go_to
        why_not = ""
        if row.stage != ctx.stage:
            why_not = f"the venture is at stage {row.stage} now, not {ctx.stage}"
        elif row.status not in ("active", "blocked"):
            why_not = f"the venture is {row.status}"
        elif isinstance(target, str) and self.plumbing._stage(wf, ctx.stage).substage(target) is None:
            why_not = f"{target} is not a substage of stage {ctx.stage}"
        elif target is None or (isinstance(target, int) and wf.stage(target) is None):
            why_not = f"no stage {target}"
        if why_not:
            code = self.escalations.open(conn, row, role, f"{head}: cannot go back to {target}: {why_not}", now, None)
            run.steps.append({"action": "recurse", "outcome": "escalated", "attempts": 0, "detail": why_not})
            return "escalated", f"could not go back to {target} ({why_not}); escalated to {role} as {code}", code
        assert target is not None
        outcome, detail = self.triggers.recurse(
            conn, row, wf, target, f"{head}: {ctx.error.message}"[:500], actor, now, None
        )
        run.steps.append({"action": "recurse", "outcome": outcome, "attempts": 0, "detail": detail})
        if outcome == "escalated":
            return "escalated", f"loop limit reached going back to {target}; escalated as {detail}", detail
        return "recursed", detail, None

    # -- reading -------------------------------------------------------------------------------
    def records(
        self,
        venture: str | int | None = None,
        stage: int | None = None,
        status: str | None = None,
        limit: int = 100,
    ) -> list[ErrorRecord]:
        """Errors of the log, newest first."""
        if status is not None and status not in STATUSES:
            raise BadInput(f"no error status '{status}'", where="status", hint=f"one of {', '.join(STATUSES)}")
        if limit < 1:
            raise BadInput(f"limit must be at least 1, not {limit}", where="limit")
        p = self.plumbing
        with p.tx() as conn:
            vid = None if venture is None else p._row(conn, venture).id
            return [_record(r) for r in error_log.listing(conn, vid, stage, status, limit)]

    def report(self, venture: str | int | None = None, stage: int | None = None) -> ErrorReport:
        """Counts by category, mean time to resolve and the share resolved automatically.

        An escalated error counts as resolved by people once its escalation is resolved (time to
        resolve runs to that moment); open, aborted and still-escalated errors are unresolved.
        """
        p = self.plumbing
        with p.tx() as conn:
            vid = None if venture is None else p._row(conn, venture).id
            rows = error_log.outcomes(conn, vid, stage)
        by_cat = {c: _figures(c, [r for r in rows if r.category == c]) for c in CATEGORIES}
        total = _figures("all", rows)
        share = total.automatic_share
        return ErrorReport(
            errors=total.errors,
            open=total.open,
            resolved_automatically=total.resolved_automatically,
            resolved_by_people=total.resolved_by_people,
            automatic_share=share,
            target=AUTOMATIC_TARGET,
            meets_target=None if share is None else share >= AUTOMATIC_TARGET,
            mean_time_to_resolve_ms=total.mean_time_to_resolve_ms,
            by_category=[f for f in by_cat.values() if f.errors],
        )

    def stage_runbook(self, stage_id: int) -> str:
        """The Markdown runbook of a stage's error taxonomy (the current workflow)."""
        wf = self.plumbing.workflow.workflow
        stage = wf.stage(stage_id)
        if stage is None:
            raise NotFound(f"no stage {stage_id} in workflow {wf.workflow.id}", where="STAGE")
        label = f"workflow {wf.workflow.id} {wf.workflow.version}"
        return runbook(stage, wf.defaults.escalation_role, label)


def _figures(category: str, rows: Sequence[OutcomeRow]) -> CategoryFigures:
    """Figures over error-log rows joined with their escalations."""
    times: list[float] = []
    people = 0
    for r in rows:
        if r.status in ("resolved", "recursed") and r.time_to_resolve_ms is not None:
            times.append(float(r.time_to_resolve_ms))
        elif r.status == "escalated" and r.resolved_at is not None:
            people += 1
            times.append((r.resolved_at - r.occurred_at).total_seconds() * 1000)
    auto = sum(1 for r in rows if r.resolved_automatically)
    count = {s: sum(1 for r in rows if r.status == s) for s in ("escalated", "recursed", "aborted", "open")}
    return CategoryFigures(
        category=category,
        errors=len(rows),
        resolved_automatically=auto,
        resolved_by_people=people,
        escalated=count["escalated"],
        recursed=count["recursed"],
        aborted=count["aborted"],
        open=count["open"],
        mean_time_to_resolve_ms=round(sum(times) / len(times), 3) if times else None,
        automatic_share=round(auto / len(rows), 4) if rows else None,
    )


class _NothingToRefresh(Exception):
    """A credentials hook answered `False`: nothing of this venture's to refresh."""


def _retrying(
    step: Recovery, call: Callable[[int], Any], retry_on: Callable[[Exception], bool]
) -> tuple[bool, int, Any, Exception | None]:
    """Call up to `step.attempts` times with stamina's backoff; (succeeded, calls, value, last failure)."""
    import stamina  # on first use: only a retried recovery step needs it

    initial = parse_duration(step.backoff)
    calls = 0
    try:
        for attempt in stamina.retry_context(
            on=retry_on,
            attempts=step.attempts,
            timeout=time_cap(step),
            wait_initial=initial,
            wait_max=parse_duration(step.max_backoff),
            wait_jitter=min(1.0, initial),
        ):
            with attempt:
                calls += 1
                value = call(calls)
        return True, calls, value, None
    except Exception as exc:
        return False, calls, None, exc


def _base_timeout(error: BaseException | ErrorInfo, given: float | None) -> float:
    """The timeout that ran out: the one given, else the exception's `.timeout`, else the default."""
    if given is not None:
        if given <= 0:
            raise BadInput(f"timeout must be positive, not {given}", where="timeout")
        return given
    found = getattr(error, "timeout", None)
    if isinstance(found, int | float) and not isinstance(found, bool) and found > 0:
        return float(found)
    return DEFAULT_TIMEOUT


def _name(operation: Callable[..., Any] | None) -> str | None:
    if operation is None:
        return None
    return str(getattr(operation, "__qualname__", None) or repr(operation))[:200]
