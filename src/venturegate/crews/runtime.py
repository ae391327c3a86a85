"""What every crew run needs, once: its id and folder, steps with progress and cancellation, samples, artifacts,
substage completions, the stage's error policy, files, and the `CrewResult` at the end.

A crew's `run()` builds a `CrewRun` and calls it; it never touches the store (see docs/crews.md, "Writing a crew"):

    run = CrewRun.begin(ctx, stage=28)
    try:
        run.step("28.1 PerformanceProfiler", 0, 3, "baseline load")
        run.record({"api_response_time_p95": 180.0})
        run.put("performance_baseline", content, derived=[...])
        run.complete("28.1")
    except Stop:
        pass
    return run.result()
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from venturegate.core.error_policy import info_from
from venturegate.crews.base import CrewContext, CrewResult
from venturegate.crews.paths import confined, output_folder
from venturegate.crews.registry import install_hooks
from venturegate.engine.records import Fired
from venturegate.engine.samples import SampleIn

if TYPE_CHECKING:
    from venturegate.engine import Engine

STATUSES = ("completed", "recursed", "waiting", "failed", "cancelled")
"""How a run can end (`CrewResult.status`)."""


class Stop(Exception):
    """The run ends here; `CrewRun.status` and `CrewRun.outcome` say how and why."""


@dataclass
class CrewRun:
    """One run of a crew for one venture: what it wrote and how it is going."""

    ctx: CrewContext
    stage: int
    run_id: str
    out: Path
    started: float = field(default_factory=time.perf_counter)
    started_at: datetime = field(default_factory=lambda: datetime.now(UTC))
    artifacts: list[str] = field(default_factory=list)
    fired: list[str] = field(default_factory=list)
    """Triggers that acted or notified, as `TRIGGER: detail`."""
    acted: list[Fired] = field(default_factory=list)
    """Recursion and rollback firings that acted on the venture during the run."""
    files: list[str] = field(default_factory=list)
    summary: dict[str, Any] = field(default_factory=dict)
    status: str = "completed"
    outcome: str = "completed"

    @classmethod
    def begin(cls, ctx: CrewContext, *, stage: int) -> CrewRun:
        """A run of `ctx`'s venture: its id from the job (or a time stamp), its folder from ids under the crew root.

        The installed crews' declared hooks are made sure of on `ctx.engine` (an engine built without
        `Engine.open` has them too). An `out_dir` option may only name a folder inside the crew root.
        """
        install_hooks(ctx.engine)
        venture = ctx.engine.venture(ctx.venture)
        stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S%f")
        run_id = f"job-{int(ctx.job_id)}" if ctx.job_id is not None else f"run-{stamp}"
        return cls(ctx, stage, run_id, output_folder(ctx.output_root, ctx.options, venture.id, run_id))

    @property
    def engine(self) -> Engine:
        """The engine (its public API only)."""
        return self.ctx.engine

    @property
    def venture(self) -> str | int:
        """The venture, as the run was asked for it."""
        return self.ctx.venture

    # -- steps ---------------------------------------------------------------------------------
    def step(self, name: str, done: int, total: int, message: str = "") -> None:
        """A step boundary: stop if the job was cancelled (raises `Cancelled`), then report progress."""
        self.ctx.checkpoint()
        self.ctx.progress(name, done, total, message)

    def stop(self, status: str, outcome: str) -> Stop:
        """End the run with `status` (one of `STATUSES`) and why: `raise run.stop(...)`."""
        if status not in STATUSES:
            raise ValueError(f"unknown crew status {status!r}; one of {', '.join(STATUSES)}")
        self.status, self.outcome = status, outcome
        return Stop(outcome)

    # -- writing through the engine ------------------------------------------------------------
    def record(self, values: dict[str, float], *, suffix: str = "", at: datetime | None = None) -> list[Fired]:
        """Record one sample per metric (keys idempotent per run and `suffix`) judged at `at`; return what acted.

        Firings that acted or notified are added to `fired`; recursions and rollbacks that acted to
        `acted`. Stopping on them is the crew's choice (`sent_back` says whether any did).
        """
        batch = [
            SampleIn(self.venture, metric, value, key=f"{self.run_id}:{metric}{suffix}")
            for metric, value in values.items()
        ]
        got = self.engine.record_samples(batch, actor=self.ctx.actor, now=at)
        done = [f for f in got.fired if f.outcome not in ("pending", "suppressed-cooldown")]
        self.fired += [f"{f.trigger}: {f.detail or f.outcome}" for f in done]
        acting = [f for f in done if f.kind in ("recursion", "rollback")]
        self.acted += acting
        return done

    @property
    def sent_back(self) -> bool:
        """Whether a recursion or rollback trigger acted during the run."""
        return bool(self.acted)

    def put(self, name: str, content: dict[str, Any], derived: list[str] | None = None) -> str:
        """Store an artifact version (validated against its schema); return `NAME@VERSION`."""
        art = self.engine.put_artifact(
            self.venture, name, content, actor=self.ctx.actor, derived_from=list(derived or [])
        )
        ref = f"{art.name}@{art.version}"
        self.artifacts.append(ref)
        return ref

    def latest(self, name: str) -> str | None:
        """`NAME@VERSION` of the newest version of an artifact this run stored, if any."""
        return next((r for r in reversed(self.artifacts) if r.split("@", 1)[0] == name), None)

    def done(self) -> set[str]:
        """The current stage's completed substages."""
        return {s.id for s in self.engine.substages(self.venture) if s.status == "done"}

    def complete(self, substage: str) -> bool:
        """Complete a substage of the current stage (all its done-when items); False when it was done already."""
        if substage in self.done():
            return False
        self.engine.complete_substage(self.venture, substage, actor=self.ctx.actor)
        return True

    def reopen(self, substages: list[str], *, reason: str) -> list[str]:
        """Re-open completed substages through the engine (audited), to measure them again; return those re-opened."""
        opened = self.engine.reopen_substages(self.venture, substages, actor=self.ctx.actor, reason=reason)
        return [s.id for s in opened]

    def error(self, message: str, *, stop: bool = True) -> bool:
        """A finding the stage's error policy owns: handled by `handle_error`; True when it recovered.

        When it did not recover (recursed, escalated, aborted), the run's status says so and, with
        `stop`, the run ends here.
        """
        got = self.engine.handle_error(self.venture, self.stage, info_from(message=message), actor=self.ctx.actor)
        if got.resolved:
            return True
        rec = got.record
        status = "recursed" if rec.status == "recursed" else "failed"
        outcome = f"{rec.status}: {rec.rule_id} {rec.resolution}"
        if stop:
            raise self.stop(status, outcome)
        self.status, self.outcome = status, outcome
        return False

    def setting(self, key: str) -> Any:
        """The venture's effective configuration value of `key`."""
        return self.engine.setting(self.venture, key).value

    # -- files ---------------------------------------------------------------------------------
    def path(self, name: str) -> Path:
        """A path inside the run's folder (`name` may have sub-folders; escapes are refused)."""
        return confined(self.out, name, where="crew file")

    def write(self, name: str, text: str | bytes) -> Path:
        """Write a file inside the run's folder and list it among the run's files."""
        path = self.path(name)
        path.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(text, bytes):
            path.write_bytes(text)
        else:
            path.write_text(text, encoding="utf-8")
        if str(path) not in self.files:
            self.files.append(str(path))
        return path

    def write_json(self, name: str, data: Any) -> Path:
        """Write `data` as indented JSON inside the run's folder."""
        return self.write(name, json.dumps(data, indent=2, default=str, ensure_ascii=False) + "\n")

    # -- the end -------------------------------------------------------------------------------
    @property
    def elapsed(self) -> float:
        """Seconds since the run began."""
        return time.perf_counter() - self.started

    def result(self) -> CrewResult:
        """The run as a `CrewResult`: status, summary (with outcome, run id and folder), what it wrote."""
        summary = {
            **self.summary,
            "outcome": self.outcome,
            "run_id": self.run_id,
            "out_dir": str(self.out),
            "seconds": round(self.elapsed, 3),
        }
        return CrewResult(self.status, summary, tuple(self.artifacts), tuple(self.fired), tuple(self.files))
