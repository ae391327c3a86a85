"""Ventures: create, list, show, pause/resume/kill, gates, advance, substages, attestations, triggers."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Path, Query

from venturegate.api import schemas as s
from venturegate.api.deps import EngineDep, Reader, VentureRef, require
from venturegate.engine import Actor

router = APIRouter(prefix="/api", tags=["ventures"])
StageQuery = Annotated[int | None, Query(ge=0, le=10_000, description="Only this stage.")]


@router.get("/ventures", response_model=list[s.Venture])
def list_ventures(
    engine: EngineDep,
    _: Reader,
    stage: StageQuery = None,
    status: Annotated[
        Literal["active", "blocked", "paused", "killed", "completed"] | None, Query(description="Only this status.")
    ] = None,
) -> list[dict[str, Any]]:
    """List ventures by id."""
    return [v.as_dict() for v in engine.ventures(stage, status)]


@router.post("/ventures", response_model=s.Venture, status_code=201)
def create_venture(
    body: s.VentureCreate, engine: EngineDep, actor: Annotated[Actor, require("manage_ventures")]
) -> dict[str, Any]:
    """Create a venture pinned to the current workflow version and enter its start stage."""
    return engine.create_venture(body.name, body.segment, body.stage, actor=actor).as_dict()


@router.get("/ventures/{venture}", response_model=s.VentureDetail)
def show_venture(venture: VentureRef, engine: EngineDep, _: Reader) -> dict[str, Any]:
    """A venture with its stage visits, current substages and pending approvals."""
    v = engine.venture(venture)
    return {
        **v.as_dict(),
        "visits": [x.as_dict() for x in engine.visits(v.id)],
        "substages": [x.as_dict() for x in engine.substages(v.id)],
        "pending_approvals": [a.as_dict() for a in engine.approvals(v.id, "pending")],
    }


def _status_route(verb: Literal["pause", "resume", "kill"], doc: str) -> None:
    def change(
        venture: VentureRef,
        engine: EngineDep,
        actor: Annotated[Actor, require("manage_ventures")],
        body: s.StatusChange | None = None,
    ) -> dict[str, Any]:
        reason = body.reason if body else ""
        result = getattr(engine, verb)(venture, actor=actor, reason=reason)
        return result.as_dict()  # type: ignore[no-any-return]

    change.__doc__ = doc
    change.__name__ = f"{verb}_venture"
    router.post(f"/ventures/{{venture}}/{verb}", response_model=s.Venture, name=f"{verb}_venture")(change)


_status_route("pause", "Pause a venture: nothing advances it until it is resumed.")
_status_route("resume", "Resume a paused venture; its entry gate is judged again.")
_status_route("kill", "Stop a venture for good.")


@router.get("/ventures/{venture}/gate", response_model=s.Gate)
def check_gate(
    venture: VentureRef,
    engine: EngineDep,
    _: Reader,
    gate: Annotated[Literal["entry", "exit"], Query(description="Which gate.")] = "exit",
    at: Annotated[s.When | None, Query(description="Judge as of this time (default now).")] = None,
) -> dict[str, Any]:
    """Judge the current stage's gate and explain every check (200 whether it passes or not)."""
    v = engine.venture(venture)
    result = engine.check_gate(v.id, gate, now=at)
    return {
        "venture": v.name,
        "stage": result.stage,
        "gate": result.gate,
        "passed": result.passed,
        "checks": [c.as_dict() for c in result.checks],
    }


@router.post("/ventures/{venture}/advance", response_model=s.Advanced)
def advance(
    venture: VentureRef,
    engine: EngineDep,
    actor: Annotated[Actor, require("advance")],
    body: s.AdvanceIn | None = None,
) -> dict[str, Any]:
    """Advance into the next stage when the exit gate passes; 409 `gate-not-passed` with the explanation otherwise."""
    before = engine.venture(venture)
    v = engine.advance(before.id, actor=actor, expected_stage=body.expected_stage if body else None)
    return {**v.as_dict(), "from_stage": before.stage}


@router.post("/ventures/{venture}/substages/{substage}/complete", response_model=s.Substage)
def complete_substage(
    venture: VentureRef,
    substage: Annotated[str, Path(min_length=1, max_length=20, description="Substage id, e.g. 19.1."), s.NoNul],
    engine: EngineDep,
    actor: Annotated[Actor, require("complete_substages")],
    body: s.SubstageComplete | None = None,
) -> dict[str, Any]:
    """Complete a substage of the current stage, attesting its done-when items (all when `items` is omitted)."""
    items = body.items if body else None
    return engine.complete_substage(venture, substage, actor=actor, items=items).as_dict()


@router.post("/ventures/{venture}/attestations", response_model=s.Attested)
def attest(
    venture: VentureRef, body: s.AttestIn, engine: EngineDep, actor: Annotated[Actor, require("attest")]
) -> dict[str, Any]:
    """Attest a written gate criterion of the current stage."""
    engine.attest(venture, body.criterion, actor=actor)
    return {"venture": venture, "criterion": body.criterion, "attested": True}


@router.get("/ventures/{venture}/triggers", response_model=list[s.TriggerStatus])
def triggers(venture: VentureRef, engine: EngineDep, _: Reader) -> list[dict[str, Any]]:
    """Each trigger of the current stage: state, since, last value, times fired and acted."""
    return engine.trigger_status(venture)
