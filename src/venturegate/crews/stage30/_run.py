"""Temporary stand-in for `venturegate.crews.runtime` (issue 13) with the same names, until it lands."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from venturegate.crews.base import CrewContext, CrewResult
from venturegate.engine.rollbacks import RollbackHandler
from venturegate.engine.samples import SampleIn


@dataclass(frozen=True)
class CrewHooks:
    rollback: dict[str, RollbackHandler] = field(default_factory=dict)


class Stop(Exception):
    """The run ends here."""


@dataclass
class CrewRun:
    ctx: CrewContext
    run_id: str
    out: Path
    artifacts: list[str] = field(default_factory=list)
    fired: list[str] = field(default_factory=list)
    files: list[str] = field(default_factory=list)
    summary: dict[str, Any] = field(default_factory=dict)
    outcome: str = "completed"
    status: str = "completed"

    @classmethod
    def begin(cls, ctx: CrewContext, *, stage: int) -> CrewRun:
        stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S%f")
        run_id = f"job-{ctx.job_id}" if ctx.job_id is not None else f"run-{stamp}"
        vid = ctx.engine.venture(ctx.venture).id
        out = Path(str(ctx.options.get("out_dir") or Path(".venturegate/crews") / f"v{vid}" / run_id)).resolve()
        return cls(ctx, run_id, out)

    @property
    def engine(self) -> Any:
        return self.ctx.engine

    @property
    def venture(self) -> Any:
        return self.ctx.engine.venture(self.ctx.venture)

    def step(self, name: str, done: int, total: int, message: str = "") -> None:
        self.ctx.checkpoint()
        self.ctx.progress(name, done, total, message)

    def record(self, values: dict[str, float], suffix: str = "", at: datetime | None = None) -> list[Any]:
        batch = [SampleIn(self.ctx.venture, m, v, key=f"{self.run_id}:{m}{suffix}") for m, v in values.items()]
        got = self.engine.record_samples(batch, actor=self.ctx.actor, now=at)
        self.fired += [f"{f.trigger}: {f.detail or f.outcome}" for f in got.fired if f.outcome != "pending"]
        return [f for f in got.fired if f.outcome not in ("pending", "suppressed-cooldown")]

    def put(self, name: str, content: dict[str, Any], derived: list[str] | None = None) -> str:
        art = self.engine.put_artifact(
            self.ctx.venture, name, content, actor=self.ctx.actor, derived_from=derived or []
        )
        ref = f"{art.name}@{art.version}"
        self.artifacts.append(ref)
        return ref

    def complete(self, substage: str) -> None:
        if substage not in self.done():
            self.engine.complete_substage(self.ctx.venture, substage, actor=self.ctx.actor)

    def done(self) -> set[str]:
        return {s.id for s in self.engine.substages(self.ctx.venture) if s.status == "done"}

    def reopen(self, substages: list[str], *, reason: str) -> None:
        raise self.stop("failed", f"cannot re-open {substages} yet ({reason})")

    def stop(self, status: str, outcome: str) -> Stop:
        self.status, self.outcome = status, outcome
        return Stop(outcome)

    def result(self) -> CrewResult:
        self.summary["outcome"] = self.outcome
        self.summary["run_id"] = self.run_id
        return CrewResult(self.status, self.summary, tuple(self.artifacts), tuple(self.fired), tuple(self.files))
