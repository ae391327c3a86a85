"""Approvals: list, request, approve, reject, bypass (emergency, with a reason) and review a bypass."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Path, Query

from venturegate.api import schemas as s
from venturegate.api.deps import EngineDep, Reader, VentureQuery, VentureRef, require
from venturegate.engine import Actor

router = APIRouter(prefix="/api", tags=["approvals"])
ApprovalId = Annotated[int, Path(ge=1, le=s.MAX_ID, description="Approval id.")]
Decider = Annotated[Actor, require("decide_approvals")]


@router.get("/approvals", response_model=list[s.Approval])
def list_approvals(
    engine: EngineDep,
    _: Reader,
    venture: VentureQuery = None,
    status: Annotated[
        Literal["pending", "approved", "rejected", "expired", "bypassed"] | None, Query(description="Only this status.")
    ] = None,
) -> list[dict[str, Any]]:
    """Approval requests, newest first."""
    return [a.as_dict() for a in engine.approvals(venture, status)]


@router.post("/ventures/{venture}/approvals", response_model=s.Approval, status_code=201)
def request_approval(
    venture: VentureRef,
    body: s.ApprovalRequest,
    engine: EngineDep,
    actor: Annotated[Actor, require("request_approvals")],
) -> dict[str, Any]:
    """Ask a role to approve the current stage (an open request for that role is returned as is)."""
    return engine.request_approval(venture, body.role, actor=actor, reason=body.reason).as_dict()


@router.post("/approvals/{approval_id}/approve", response_model=s.Approval)
def approve(
    approval_id: ApprovalId, engine: EngineDep, actor: Decider, body: s.Decision | None = None
) -> dict[str, Any]:
    """Approve a pending approval; only the role it asks for may (403 otherwise)."""
    return engine.decide_approval(approval_id, True, actor=actor, reason=body.reason if body else "").as_dict()


@router.post("/approvals/{approval_id}/reject", response_model=s.Approval)
def reject(
    approval_id: ApprovalId, engine: EngineDep, actor: Decider, body: s.Decision | None = None
) -> dict[str, Any]:
    """Reject a pending approval; only the role it asks for may (403 otherwise)."""
    return engine.decide_approval(approval_id, False, actor=actor, reason=body.reason if body else "").as_dict()


@router.post("/approvals/{approval_id}/bypass", response_model=s.Approval)
def bypass(
    approval_id: ApprovalId,
    body: s.NeededDecision,
    engine: EngineDep,
    actor: Annotated[Actor, require("bypass_approvals")],
) -> dict[str, Any]:
    """Grant a pending approval in an emergency: only a role its policy allows, with a reason; flagged for review."""
    return engine.bypass_approval(approval_id, actor=actor, reason=body.reason).as_dict()


@router.post("/approvals/{approval_id}/review", response_model=s.Approval)
def review(approval_id: ApprovalId, body: s.NeededDecision, engine: EngineDep, actor: Decider) -> dict[str, Any]:
    """Review a bypass (the workflow's escalation role, someone other than who bypassed), with a reason."""
    return engine.review_bypass(approval_id, actor=actor, reason=body.reason).as_dict()
