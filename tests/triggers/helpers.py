"""Small readers of stored state shared by the trigger tests."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from tests.conftest import AGENT, T0
from tests.schema_instances import instance
from venturegate.engine import Engine, SampleIn
from venturegate.engine.records import Approval, Event, Venture


def at_stage(eng: Engine, name: str, stage: int, segment: str = "b2b_smb", now: datetime = T0) -> Venture:
    """A venture created at `stage`, with every input artifact of the stage stored (its entry gate passes)."""
    v = eng.create_venture(name, segment, stage, actor=AGENT, now=now)
    wf = eng.workflow.workflow
    for art in wf.stage(stage).inputs:  # type: ignore[union-attr]
        schema = wf.artifact(art).json_schema or {}  # type: ignore[union-attr]
        eng.put_artifact(v.id, art, instance(schema), actor=AGENT, now=now)
    v = eng.venture(v.id)
    assert v.status == "active", v.status_detail
    return v


def events(eng: Engine, v: int, kind: str) -> list[Event]:
    """The venture's events of one kind (exact match), oldest first."""
    return [e for e in eng.events(v, kind=kind, limit=10_000) if e.kind == kind]


def kinds(eng: Engine, v: int) -> list[str]:
    """Every event kind of the venture, oldest first."""
    return [e.kind for e in eng.events(v, limit=10_000)]


def trig(eng: Engine, v: int, trigger_id: str, now: datetime = T0) -> dict[str, Any]:
    """One row of `trigger_status`."""
    return next(r for r in eng.trigger_status(v, now=now) if r["trigger"] == trigger_id)


def subs(eng: Engine, v: int) -> dict[str, str]:
    """Substage id → status of the current visit."""
    return {s.id: s.status for s in eng.substages(v)}


def pending(eng: Engine, v: int) -> list[Approval]:
    """Pending approvals of the venture, newest first."""
    return eng.approvals(v, status="pending")


def fired(got: Any) -> dict[str, str]:
    """Trigger id → outcome of an `Ingested` or a `TickReport`."""
    return {f.trigger: f.outcome for f in got.fired}


def series(v: int, metric: str, values: list[float], start: datetime, step: timedelta, key: str) -> list[SampleIn]:
    """Samples `values[i]` at `start + i*step`, keyed `key-i`."""
    return [SampleIn(v, metric, x, start + i * step, f"{key}-{i}") for i, x in enumerate(values)]
