"""Reading and operating: events, escalations, errors, figures, the workflow, critique, outbox, timers, identity."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Path, Query
from fastapi.responses import PlainTextResponse

from venturegate.api import schemas as s
from venturegate.api.deps import EngineDep, Reader, TokenDep, VentureQuery, require
from venturegate.core.error_policy import info_from
from venturegate.core.permissions import MATRIX
from venturegate.engine import Actor, BadInput, NotFound

router = APIRouter(prefix="/api", tags=["records"])
Operator = Annotated[Actor, require("operate")]
StageQuery = Annotated[int | None, Query(ge=0, le=10_000, description="Only this stage.")]
StagePath = Annotated[int, Path(ge=0, le=10_000, description="Stage number.")]


@router.get("/health", response_model=s.Health, tags=["server"])
def health(engine: EngineDep) -> dict[str, Any]:
    """The server and its database answer (no token needed)."""
    engine.ventures(stage=-1)  # a query: proves the database answers
    return {"status": "ok", "workflow": f"{engine.workflow.workflow.workflow.id} {engine.workflow.version}"}


@router.get("/me", response_model=s.Me, tags=["server"])
def me(token: TokenDep, _: Reader) -> dict[str, Any]:
    """Who the token acts as, and what its role may do."""
    return {"name": token.name, "role": token.role, "permissions": [p for p, r in MATRIX.items() if token.role in r]}


@router.get("/events", response_model=s.EventPage)
def events(
    engine: EngineDep,
    _: Reader,
    venture: VentureQuery = None,
    kind: Annotated[str | None, Query(max_length=60, description="Only kinds starting with this."), s.NoNul] = None,
    limit: Annotated[int, Query(ge=1, le=1000, description="Page size.")] = 100,
    cursor: Annotated[
        str | None, Query(pattern=r"^[0-9]{1,18}$", description="`next_cursor` of the previous page.")
    ] = None,
) -> dict[str, Any]:
    """The append-only event log, oldest first, a page at a time."""
    rows = engine.events(venture, kind=kind, after_id=int(cursor) if cursor else 0, limit=limit)
    return {"events": [e.as_dict() for e in rows], "next_cursor": str(rows[-1].id) if len(rows) == limit else None}


@router.get("/escalations", response_model=list[s.Escalation])
def escalations(
    engine: EngineDep,
    _: Reader,
    venture: VentureQuery = None,
    status: Annotated[Literal["open", "resolved"] | None, Query(description="Only this status.")] = None,
) -> list[dict[str, Any]]:
    """Escalations, newest first."""
    return [e.as_dict() for e in engine.escalations(status, venture)]


@router.post("/escalations/{ident}/resolve", response_model=s.Escalation)
def resolve_escalation(
    ident: Annotated[
        str,
        Path(pattern=r"^([0-9]{1,18}|SD-[0-9]+-ESCALATION-[0-9]+)$", description="Id or code (SD-28-ESCALATION-1)."),
    ],
    body: s.EscalationResolve,
    engine: EngineDep,
    actor: Annotated[Actor, require("resolve_escalations")],
) -> dict[str, Any]:
    """Close an escalation (its role or the Chairman) and resume the venture at a stage or substage."""
    return engine.resolve_escalation(ident, body.resume_at, actor=actor, reason=body.reason).as_dict()


@router.post("/errors", response_model=s.ErrorRecord, status_code=201)
def report_error(
    body: s.ErrorIn, engine: EngineDep, actor: Annotated[Actor, require("report_errors")]
) -> dict[str, Any]:
    """Report an error: classify it by the stage's taxonomy and apply the policy (retries are skipped)."""
    try:
        info = info_from(body.types, body.status, body.message)
    except ValueError as exc:
        raise BadInput(str(exc), where="status") from None
    return engine.handle_error(body.venture, body.stage, info, actor=actor).record.as_dict()


@router.get("/errors", response_model=list[s.ErrorRecord])
def list_errors(
    engine: EngineDep,
    _: Reader,
    venture: VentureQuery = None,
    stage: StageQuery = None,
    status: Annotated[
        Literal["open", "resolved", "recursed", "escalated", "aborted"] | None, Query(description="Only this status.")
    ] = None,
    limit: Annotated[int, Query(ge=1, le=1000, description="At most this many, newest first.")] = 50,
) -> list[dict[str, Any]]:
    """The error log, newest first."""
    return [r.as_dict() for r in engine.error_records(venture, stage, status, limit)]


@router.get("/errors/summary", response_model=s.ErrorSummary)
def error_summary(
    engine: EngineDep, _: Reader, venture: VentureQuery = None, stage: StageQuery = None
) -> dict[str, Any]:
    """Counts by category, mean time to resolve and the share resolved without a human (target 80%)."""
    return engine.error_report(venture, stage).as_dict()


@router.get("/stats", response_model=list[s.StageStats])
def stats(engine: EngineDep, _: Reader, stage: StageQuery = None) -> list[dict[str, Any]]:
    """Automation level, execution time, recursions and escalations per stage, from the event log."""
    return [r.as_dict() for r in engine.stats(stage)]


@router.get("/workflow", response_model=s.WorkflowOverview)
def workflow(engine: EngineDep, _: Reader) -> dict[str, Any]:
    """The workflow new ventures start on: identity, digest and its stages in brief."""
    wf = engine.workflow.workflow
    return {
        "workflow": wf.workflow.model_dump(mode="json"),
        "digest": engine.workflow.digest,
        "stages": [
            {
                "id": st.id,
                "title": st.title,
                "substages": len(st.substages),
                "metrics": len(st.metrics),
                "triggers": len(st.triggers),
            }
            for st in wf.stages
        ],
    }


@router.get("/workflow/stages/{stage}", response_model=dict[str, Any])
def workflow_stage(stage: StagePath, engine: EngineDep, _: Reader) -> dict[str, Any]:
    """A stage's definition: substages, gates, metrics with levels, triggers, parameters (as in the YAML)."""
    st = engine.workflow.workflow.stage(stage)
    if st is None:
        raise NotFound(f"no stage {stage}", where="stage")
    data: dict[str, Any] = st.model_dump(mode="json", by_alias=True)
    return data


@router.get(
    "/workflow/stages/{stage}/runbook",
    response_class=PlainTextResponse,
    responses={200: {"content": {"text/markdown": {"schema": {"type": "string"}}}}},
)
def runbook(stage: StagePath, engine: EngineDep, _: Reader) -> PlainTextResponse:
    """A stage's error runbook in Markdown."""
    return PlainTextResponse(engine.error_runbook(stage), media_type="text/markdown")


@router.get("/critique", response_model=list[s.Critique])
def critique(engine: EngineDep, _: Reader, stage: StageQuery = None) -> list[dict[str, Any]]:
    """Stages scored on the studio's nine rubric dimensions, computed from their definitions, with reasons."""
    from venturegate.core.critique import critique_stage, critique_workflow

    wf = engine.workflow.workflow
    if stage is None:
        return [c.as_dict() for c in critique_workflow(wf)]
    st = wf.stage(stage)
    if st is None:
        raise NotFound(f"no stage {stage}", where="stage")
    return [critique_stage(st, wf).as_dict()]


@router.get("/outbox", response_model=list[s.OutboxEntry])
def outbox(
    engine: EngineDep,
    _: Reader,
    status: Annotated[Literal["pending", "sent", "dead"] | None, Query(description="Only this status.")] = None,
    limit: Annotated[int, Query(ge=1, le=1000, description="Most rows, newest first.")] = 200,
) -> list[dict[str, Any]]:
    """Notifications, newest first: channel, event, status, attempts, next attempt, last error."""
    return [r.as_dict() for r in engine.outbox_entries(status, limit=limit)]


@router.post("/outbox/{outbox_id}/retry", response_model=s.OutboxEntry)
def retry_outbox(
    outbox_id: Annotated[int, Path(ge=1, le=s.MAX_ID, description="A dead-lettered notification.")],
    engine: EngineDep,
    actor: Operator,
) -> dict[str, Any]:
    """Put a dead-lettered notification back to pending, due now, its attempts reset."""
    return engine.retry_outbox(outbox_id, actor=actor).as_dict()


@router.post("/outbox/deliver", response_model=s.Delivery)
def deliver_outbox(engine: EngineDep, _: Operator) -> dict[str, Any]:
    """Send every due notification group now (the worker does this on its own)."""
    return engine.deliver_outbox().as_dict()


@router.post("/tick", response_model=s.Tick)
def tick(engine: EngineDep, _: Operator) -> dict[str, Any]:
    """Run whatever timers are due now (the worker does this on its own)."""
    return engine.tick().as_dict()
