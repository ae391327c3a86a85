"""Read models the engine returns: plain frozen dataclasses, JSON-ready through `as_dict`."""

from __future__ import annotations

from dataclasses import dataclass, fields, is_dataclass
from datetime import datetime
from typing import Any, Literal


def _jsonable(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, dict):
        return {k: _jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_jsonable(v) for v in value]
    if is_dataclass(value) and not isinstance(value, type):
        return {f.name: _jsonable(getattr(value, f.name)) for f in fields(value)}
    return value


class _Record:
    def as_dict(self) -> dict[str, Any]:
        """JSON-ready dict (datetimes as ISO 8601)."""
        return {f.name: _jsonable(getattr(self, f.name)) for f in fields(self)}  # type: ignore[arg-type]


@dataclass(frozen=True)
class Venture(_Record):
    """A venture and where it stands."""

    id: int
    name: str
    segment: str
    stage: int
    status: str
    workflow_digest: str
    created_at: datetime
    updated_at: datetime
    status_detail: dict[str, Any] | None = None


@dataclass(frozen=True)
class Visit(_Record):
    """One entry of a venture into a stage."""

    id: int
    stage: int
    attempt: int
    entered_at: datetime
    exited_at: datetime | None
    reason: str
    outcome: str | None


@dataclass(frozen=True)
class SubstageState(_Record):
    """A substage of the current visit."""

    id: str
    title: str
    status: str
    items: list[str]
    completed_by: str | None
    completed_at: datetime | None


@dataclass(frozen=True)
class Artifact(_Record):
    """One stored version of an artifact."""

    id: int
    name: str
    version: int
    content: Any
    content_hash: str
    derived_from: list[str]
    stage: int
    actor: str
    created_at: datetime


@dataclass(frozen=True)
class Approval(_Record):
    """An approval request and its decision."""

    id: int
    venture_id: int
    stage: int
    role: str
    status: str
    reason: str
    requested_by: str
    requested_at: datetime
    expires_at: datetime | None
    decided_by: str | None
    decided_at: datetime | None
    decision_reason: str | None
    payload: dict[str, Any] | None


@dataclass(frozen=True)
class Event(_Record):
    """An append-only record of a change."""

    id: int
    venture_id: int | None
    kind: str
    actor: str
    actor_role: str | None
    actor_kind: str
    at: datetime
    stage: int | None
    substage: str | None
    reason: str
    data: dict[str, Any] | None

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready dict; `data` came out of a JSON column, so only the time needs converting."""
        return {
            "id": self.id,
            "venture_id": self.venture_id,
            "kind": self.kind,
            "actor": self.actor,
            "actor_role": self.actor_role,
            "actor_kind": self.actor_kind,
            "at": self.at.isoformat(),
            "stage": self.stage,
            "substage": self.substage,
            "reason": self.reason,
            "data": self.data,
        }


@dataclass(frozen=True)
class SamplePoint(_Record):
    """One stored sample of a metric (what charts draw)."""

    at: datetime
    value: float


@dataclass(frozen=True)
class SampleResult(_Record):
    """What happened to one recorded sample."""

    venture_id: int
    metric: str
    value: float
    at: datetime
    key: str | None
    duplicate: bool


@dataclass(frozen=True)
class Fired(_Record):
    """A trigger that fired (or went pending) while data arrived, and what came of it."""

    trigger: str
    kind: str
    action: dict[str, Any]
    mode: str
    outcome: str
    venture_id: int
    detail: str = ""


@dataclass(frozen=True)
class RaisedTrigger(_Record):
    """A trigger that is pending or firing for a venture (what the portfolio's health reads)."""

    venture_id: int
    stage: int
    workflow_digest: str
    trigger_id: str
    state: str
    since: datetime | None
    last_fired_at: datetime | None


@dataclass(frozen=True)
class StoredSample(_Record):
    """One stored sample with where it came from (what `metric list` shows)."""

    id: int
    metric: str
    value: float
    at: datetime
    key: str | None
    actor: str
    recorded_at: datetime


LevelSource = Literal["default", "segment", "venture"]
"""Where a metric's threshold comes from for a venture."""
LevelVerdict = Literal["meets threshold", "past threshold", "no threshold", "no data"]
"""A metric's latest sample against its threshold."""


@dataclass(frozen=True)
class MetricLevel(_Record):
    """A metric of the venture's current stage: its levels as the gate reads them, and its latest sample."""

    metric: str
    title: str
    unit: str
    direction: str
    target: float | None
    threshold: float | None
    alert: float | None
    source: LevelSource
    """Where the threshold comes from: `default`, `segment` or `venture` (a `level.<metric>.threshold` override)."""
    latest: float | None
    at: datetime | None
    verdict: LevelVerdict
    """`meets threshold`, `past threshold`, `no threshold` or `no data`."""
