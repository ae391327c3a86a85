"""Configuration: effective values, changes, history, diffs, snapshots, rollbacks and their plan and log."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Path, Query

from venturegate.api import schemas as s
from venturegate.api.deps import EngineDep, Reader, VentureQuery, VentureRef, require
from venturegate.engine import Actor

router = APIRouter(prefix="/api", tags=["configuration"])
Changer = Annotated[Actor, require("change_config")]
Key = Annotated[
    str, Path(min_length=1, max_length=200, description="Parameter, e.g. rollback.error_rate_threshold."), s.NoNul
]
Config = Annotated[
    str,
    Query(description="A version number, a snapshot name or `current`.", pattern=s.CONFIG_REF),
]


@router.get("/ventures/{venture}/config", response_model=list[s.ConfigSetting])
def get_config(venture: VentureRef, engine: EngineDep, _: Reader) -> list[dict[str, Any]]:
    """Every parameter visible from the current stage: value, where it came from, version."""
    return [c.as_dict() for c in engine.config(venture)]


@router.get("/ventures/{venture}/config/history", response_model=list[s.ConfigChange])
def config_history(
    venture: VentureRef,
    engine: EngineDep,
    _: Reader,
    key: Annotated[str | None, Query(max_length=200, description="Only this parameter."), s.NoNul] = None,
) -> list[dict[str, Any]]:
    """Configuration changes, newest first; every version is kept."""
    return [c.as_dict() for c in engine.config_history(venture, key)]


@router.get("/ventures/{venture}/config/diff", response_model=s.ConfigDiff)
def config_diff(venture: VentureRef, a: Config, engine: EngineDep, _: Reader, b: Config = "current") -> dict[str, Any]:
    """The parameters that differ between two configurations."""
    return engine.config_diff(venture, a, b).as_dict()


@router.get("/ventures/{venture}/config/{key}", response_model=s.ConfigSetting)
def get_setting(venture: VentureRef, key: Key, engine: EngineDep, _: Reader) -> dict[str, Any]:
    """One parameter's effective value and where it came from."""
    return engine.setting(venture, key).as_dict()


@router.put("/ventures/{venture}/config/{key}", response_model=s.ConfigChange)
def set_config(venture: VentureRef, key: Key, body: s.ConfigSet, engine: EngineDep, actor: Changer) -> dict[str, Any]:
    """Check a value against the parameter's type and range and write it as a new version."""
    return engine.set_config(venture, key, body.value, actor=actor, reason=body.reason).as_dict()


@router.get("/ventures/{venture}/snapshots", response_model=list[s.Snapshot])
def snapshots(venture: VentureRef, engine: EngineDep, _: Reader) -> list[dict[str, Any]]:
    """The venture's snapshots, newest first (pre-stage-N ones are taken on entering a stage)."""
    return [x.as_dict() for x in engine.snapshots(venture)]


@router.post("/ventures/{venture}/snapshots", response_model=s.Snapshot, status_code=201)
def take_snapshot(venture: VentureRef, body: s.SnapshotIn, engine: EngineDep, actor: Changer) -> dict[str, Any]:
    """Name the venture's current configuration version."""
    return engine.snapshot(venture, body.name, actor=actor, reason=body.reason).as_dict()


@router.post("/ventures/{venture}/rollback", response_model=s.Rollback)
def rollback(venture: VentureRef, body: s.RollbackIn, engine: EngineDep, actor: Changer) -> dict[str, Any]:
    """Restore a version or snapshot as a new version, run its scopes' handlers, log it (`dry_run`: only the diff)."""
    record = engine.rollback(
        venture,
        body.to,
        actor=actor,
        reason=body.reason,
        cause=body.cause,
        scope=body.scope or None,
        dry_run=body.dry_run,
    )
    return record.as_dict()


@router.get("/ventures/{venture}/rollback-plan", response_model=s.RollbackPlan)
def rollback_plan(
    venture: VentureRef,
    cause: Annotated[
        str, Query(min_length=1, max_length=120, description="The cause, as the decision tree names it."), s.NoNul
    ],
    engine: EngineDep,
    _: Reader,
) -> dict[str, Any]:
    """Which branch of the stage's rollback decision tree applies to a cause, and why."""
    return engine.rollback_plan(venture, cause).as_dict()


@router.get("/rollbacks", response_model=list[s.Rollback])
def rollback_log(engine: EngineDep, _: Reader, venture: VentureQuery = None) -> list[dict[str, Any]]:
    """The rollback log, newest first."""
    return [r.as_dict() for r in engine.rollbacks(venture)]


@router.get("/progression", response_model=list[s.Progression])
def progression(
    engine: EngineDep,
    _: Reader,
    stage: Annotated[int | None, Query(ge=0, le=10_000, description="Only this stage.")] = None,
) -> list[dict[str, Any]]:
    """Stage-wide and per-venture progression modes with their successful and failed runs."""
    return engine.progression(stage)


@router.put("/progression/{stage}", response_model=list[s.Progression])
def set_progression(
    stage: Annotated[int, Path(ge=0, le=10_000, description="Stage number.")],
    body: s.ProgressionSet,
    engine: EngineDep,
    actor: Changer,
) -> list[dict[str, Any]]:
    """Set a stage's progression mode, stage-wide or for one venture (`default` drops a venture's override)."""
    engine.set_progression(stage, None if body.mode == "default" else body.mode, actor=actor, venture=body.venture)
    return engine.progression(stage)
