"""Small readers of stored state shared by the trigger tests."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from tests.conftest import AGENT, LEAD, T0
from tests.schema_instances import instance
from venturegate.engine import Engine, SampleIn
from venturegate.engine.approvals import ReviewedApproval
from venturegate.engine.records import Event, Venture

# Values `instance()` cannot invent (string patterns, non-empty maps), by artifact and path.
PATCHES: dict[str, dict[tuple[str | int, ...], Any]] = {
    "integration_requirements": {("integrations", 0, "base_url"): "https://api.example.com"},
    "test_accounts": {("accounts", 0, "credentials"): {"api_key": {"env": "SANDBOX_API_KEY"}}},
    "release_candidate": {("commit",): "abc1234"},
    "production_deployment": {("production_url",): "https://app.example.com"},
    "deployment_documentation": {("production_url",): "https://app.example.com"},
}


def content(eng: Engine, name: str) -> Any:
    """A minimal valid document for a bundled artifact."""
    decl = eng.workflow.workflow.artifact(name)
    assert decl is not None, name
    doc = instance(decl.json_schema or {})
    for path, value in PATCHES.get(name, {}).items():
        target = doc
        for part in path[:-1]:
            target = target[part]
        target[path[-1]] = value
    return doc


def put(eng: Engine, v: int, names: list[str], now: datetime = T0) -> None:
    """Store a minimal valid version of each artifact."""
    for name in names:
        if name == "test_accounts":  # a person grants the referenced credential first
            eng.set_config(v, "secrets.allowed_env", ["SANDBOX_*"], actor=LEAD, reason="sandbox keys", now=now)
        eng.put_artifact(v, name, content(eng, name), actor=AGENT, now=now)


def at_stage(eng: Engine, name: str, stage: int, segment: str = "b2b_smb", now: datetime = T0) -> Venture:
    """A venture created at `stage`, with every input artifact of the stage stored (its entry gate passes)."""
    v = eng.create_venture(name, segment, stage, actor=AGENT, now=now)
    put(eng, v.id, eng.workflow.workflow.stage(stage).inputs, now)  # type: ignore[union-attr]
    v = eng.venture(v.id)
    assert v.status == "active", v.status_detail
    return v


def events(eng: Engine, v: int, kind: str) -> list[Event]:
    """The venture's events of one kind (exact match), oldest first."""
    return [e for e in eng.events(v, kind=kind, limit=10_000) if e.kind == kind]


def data(eng: Engine, v: int, kind: str, key: str) -> list[Any]:
    """`data[key]` of each of the venture's events of one kind, oldest first."""
    return [(e.data or {}).get(key) for e in events(eng, v, kind)]


def trig(eng: Engine, v: int, trigger_id: str, now: datetime = T0) -> dict[str, Any]:
    """One row of `trigger_status`."""
    return next(r for r in eng.trigger_status(v, now=now) if r["trigger"] == trigger_id)


def subs(eng: Engine, v: int) -> dict[str, str]:
    """Substage id → status of the current visit."""
    return {s.id: s.status for s in eng.substages(v)}


def pending(eng: Engine, v: int) -> list[ReviewedApproval]:
    """Pending approvals of the venture, newest first."""
    return eng.approvals(v, status="pending")


def fired(got: Any) -> dict[str, str]:
    """Trigger id → outcome of an `Ingested` or a `TickReport`."""
    return {f.trigger: f.outcome for f in got.fired}


def series(v: int, metric: str, values: list[float], start: datetime, step: timedelta, key: str) -> list[SampleIn]:
    """Samples `values[i]` at `start + i*step`, keyed `key-i`."""
    return [SampleIn(v, metric, x, start + i * step, f"{key}-{i}") for i, x in enumerate(values)]
