"""The stage-30 DeploymentCrew: today its BlueGreenOrchestrator and RollbackCoordinator (30.2) on the local driver.

The run starts blue and green behind HAProxy (`LocalDriver`), walks the canary steps from the venture's
configuration and records, through the engine, `green_traffic_share` and `deployment_error_rate` per
step, then `deployment_success_rate`, `downtime` and, after a rollback, `rollback_time`. When the
RollbackCoordinator decides, traffic goes to blue at once (the sub-second path), then the engine's
rollback of cause `traffic_only` restores the `traffic` configuration and runs every `traffic` handler;
this crew registers one that moves the live deployment back to blue, so an engine rollback of scope
`traffic` (from the CLI or a trigger) reverts traffic too.
"""

from __future__ import annotations

import asyncio
import contextlib
import shlex
import threading
import weakref
from collections.abc import Callable, Iterator
from typing import Any

from venturegate.crews.base import AgentSpec, Crew, CrewContext, CrewResult
from venturegate.crews.stage19.loadgen import LoadProfile, run_profile
from venturegate.crews.stage30 import demo_service
from venturegate.crews.stage30.driver import DeploymentDriver
from venturegate.crews.stage30.haproxy import LocalDriver
from venturegate.crews.stage30.orchestrator import CanaryConfig, CutoverResult, StepLog, cutover
from venturegate.engine.rollbacks import RollbackContext
from venturegate.engine.samples import SampleIn

_live: dict[str, DeploymentDriver] = {}
"""Deployments in progress by venture name: what the `traffic` rollback handler acts on."""
_live_lock = threading.Lock()
_registered: weakref.WeakSet[Any] = weakref.WeakSet()


def move_traffic_to_blue(ctx: RollbackContext) -> str:
    """The `traffic` rollback handler: all traffic of the venture's live deployment back to blue."""
    with _live_lock:
        driver = _live.get(ctx.venture)
    if driver is None:
        return "no live deployment of this venture: nothing to move"
    driver.set_weights(100, 0)
    return "all traffic on blue"


@contextlib.contextmanager
def live(venture: str, driver: DeploymentDriver) -> Iterator[DeploymentDriver]:
    """Make `driver` the venture's live deployment (what a `traffic` rollback moves) for the block."""
    with _live_lock:
        _live[venture] = driver
    try:
        yield driver
    finally:
        with _live_lock:
            _live.pop(venture, None)


def register(engine: Any) -> None:
    """Register the `traffic` handler once per engine."""
    if engine not in _registered:
        engine.register_rollback_handler("traffic", move_traffic_to_blue)
        _registered.add(engine)


class DeploymentCrew(Crew):
    """Stage 30: blue-green cutover in canary steps with automatic rollback (30.1 and 30.3 are not built yet)."""

    name = "DeploymentCrew"
    stage = 30
    agents = (
        AgentSpec("BlueGreenOrchestrator", "Starts green and shifts traffic in canary steps", ("30.2",)),
        AgentSpec("RollbackCoordinator", "Watches the cutover and moves traffic back to blue", ("30.2", "30.3")),
    )

    def run(self, ctx: CrewContext) -> CrewResult:
        """Cut over from `blue_version` to `green_version`; roll back through the engine when told to."""
        engine = ctx.engine
        register(engine)
        venture = engine.venture(ctx.venture).name
        settings: dict[str, Any] = {s.key: s.value for s in engine.config(ctx.venture)}
        base = CanaryConfig.from_config(settings)
        config = CanaryConfig.from_config(
            settings,
            **{
                k: ctx.option(k, float(getattr(base, k)))
                for k in ("soak_seconds", "error_rate_duration", "window_seconds", "sample_interval")
            },
        )
        blue, green = ctx.option("blue_version", "blue"), ctx.option("green_version", "green")
        template = ctx.option("command", "")
        command = shlex.split(template) if template else demo_service.command()
        overrides = {green: demo_service.command(ctx.option("green_error_rate", 0.0))} if not template else {}
        load_rate = ctx.option("load_rate", 0.0)
        run_id = f"job-{ctx.job_id}" if ctx.job_id is not None else f"run-{id(ctx)}"
        fired: list[str] = []

        def record(values: dict[str, float], suffix: str = "") -> None:
            batch = [SampleIn(ctx.venture, m, v, key=f"{run_id}:{m}{suffix}") for m, v in values.items()]
            got = engine.record_samples(batch, actor=ctx.actor)
            fired.extend(f"{f.trigger}: {f.detail or f.outcome}" for f in got.fired if f.outcome != "pending")

        def on_step(step: StepLog) -> None:
            ctx.progress("30.2 BlueGreenOrchestrator", config.steps.index(step.green_percent) + 1, len(config.steps))
            record(
                {"green_traffic_share": float(step.green_percent), "deployment_error_rate": step.error_rate},
                f":{step.green_percent}",
            )

        ctx.checkpoint()
        with LocalDriver(command, overrides=overrides) as driver:
            driver.start_version(blue)
            driver.start_version(green)
            with live(venture, driver):
                result = asyncio.run(_cutover(driver, blue, green, config, on_step, load_rate))
                summary = result.as_dict()
                # Requests nobody answered mean production was (partly) down; without finer probes, count
                # the whole cutover as the upper bound rather than guess a shorter outage.
                downtime_min = result.seconds / 60 if result.unanswered else 0.0
                figures = {"deployment_success_rate": 100.0 if result.status == "completed" else 0.0}
                figures["downtime"] = downtime_min
                if result.rollback is not None:
                    figures["rollback_time"] = result.rollback.drain_s / 60
                    record(figures)
                    rb = engine.rollback(
                        ctx.venture, cause="traffic_only", actor=ctx.actor, reason=result.rollback.reason
                    )
                    summary["engine_rollback"] = {"id": rb.id, "outcome": rb.outcome}
                    summary["weights_after_engine_rollback"] = driver.weights()
                else:
                    record(figures)
                summary.update(figures)
        status = "completed" if result.status == "completed" else "recursed"
        return CrewResult(status, summary, fired=tuple(fired))


async def _cutover(
    driver: LocalDriver,
    blue: str,
    green: str,
    config: CanaryConfig,
    on_step: Callable[[StepLog], None],
    load_rate: float,
) -> CutoverResult:
    """The cutover, with loopback demo traffic at `load_rate` req/s when asked (production brings its own)."""
    if load_rate <= 0:
        return await cutover(driver, blue, green, config, on_step=on_step)
    seconds = config.soak_seconds * len(config.steps) + 1.0
    load = asyncio.create_task(
        run_profile(
            driver.url + "/",
            LoadProfile.constant(load_rate, seconds),
            max_requests=int(load_rate * seconds) + 10,
            max_seconds=seconds + 1,
        )
    )
    try:
        return await cutover(driver, blue, green, config, on_step=on_step)
    finally:
        load.cancel()
        await asyncio.gather(load, return_exceptions=True)
