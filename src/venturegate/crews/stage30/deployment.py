"""The stage-30 DeploymentCrew: 30.1 PreDeploymentValidator → Chairman approval → 30.2 BlueGreenOrchestrator
with its RollbackCoordinator → 30.3 PostDeploymentVerifier, through the engine's public API only.

What it reads:
- the `deployment_plan` artifact (health checks, dependencies, backups, canary steps) when the venture
  has one, else the run's options; the `release_candidate` artifact's version names green;
- the venture's stage-30 configuration (canary steps and soak, rollback lines and persistence,
  health-check retries, smoke-test settings, alert channels).

What it writes: samples for every figure the stage's triggers and exit gate read (so DEPLOY-001..004
fire as defined), the `production_deployment`, `monitoring_setup` and `deployment_documentation`
artifacts, substage completions, and rollbacks through `engine.rollback` (whose `traffic`,
`database` and `green` handlers, in `live.py`, act on the deployment this crew runs).

The run ends early, with the reason in its summary, when 30.1 fails (DEPLOY-001: nothing was
changed), when the Chairman has not approved yet (`waiting`: run the crew again once approved), or
when the cutover or the smoke tests roll back (DEPLOY-002 and the decision tree).

The `local` driver runs blue and green as processes of this run: production lives as long as the
run, which is what tests and the demo need. A driver for a real platform keeps them running.
"""

from __future__ import annotations

import asyncio
import shlex
import subprocess
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from venturegate.crews.base import AgentSpec, Crew, CrewContext, CrewHooks, CrewResult
from venturegate.crews.paths import output_folder
from venturegate.crews.registry import install_hooks
from venturegate.crews.stage19.loadgen import LoadProfile, run_profile
from venturegate.crews.stage30 import demo_service, live, monitoring, validator, verifier
from venturegate.crews.stage30.haproxy import LocalDriver
from venturegate.crews.stage30.live import LiveDeployment
from venturegate.crews.stage30.orchestrator import CanaryConfig, CutoverResult, StepLog, cutover
from venturegate.engine.errors import NotFound
from venturegate.engine.samples import SampleIn

STAGE = 30


class Stop(Exception):
    """The run ends here; `_Run.outcome` says why."""


@dataclass
class _Run:
    ctx: CrewContext
    run_id: str
    out: Path
    started: datetime = field(default_factory=lambda: datetime.now(UTC))
    artifacts: list[str] = field(default_factory=list)
    fired: list[str] = field(default_factory=list)
    files: list[str] = field(default_factory=list)
    summary: dict[str, Any] = field(default_factory=dict)
    outcome: str = "completed"
    status: str = "completed"

    @property
    def engine(self) -> Any:
        return self.ctx.engine

    def record(self, values: dict[str, float], suffix: str = "", at: datetime | None = None) -> list[Any]:
        """Record samples (idempotent per run and suffix) judged at `at`; return what fired and acted."""
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
        self.engine.complete_substage(self.ctx.venture, substage, actor=self.ctx.actor)

    def done(self) -> set[str]:
        return {s.id for s in self.engine.substages(self.ctx.venture) if s.status == "done"}

    def stop(self, status: str, outcome: str) -> Stop:
        self.status, self.outcome = status, outcome
        return Stop(outcome)


class DeploymentCrew(Crew):
    """Stage 30: validate, wait for the Chairman, cut over blue → green in canary steps, verify, hand off."""

    name = "DeploymentCrew"
    stage = STAGE
    agents = (
        AgentSpec("PreDeploymentValidator", "Health, dependency and backup checks; aborts on any failure", ("30.1",)),
        AgentSpec("BlueGreenOrchestrator", "Starts green and shifts traffic in canary steps", ("30.2",)),
        AgentSpec("RollbackCoordinator", "Watches the cutover; rolls back traffic, data, green", ("30.2", "30.3")),
        AgentSpec("PostDeploymentVerifier", "Smoke tests, monitoring setup, rollback rehearsal, handoff", ("30.3",)),
    )  # fmt: skip

    def hooks(self) -> CrewHooks:
        """The rollback handlers of the stage's three scopes, acting on the venture's live deployment."""
        return CrewHooks(
            rollback={
                "traffic": live.move_traffic_to_blue,
                "database": live.restore_database,
                "green": live.destroy_green,
            }
        )

    def run(self, ctx: CrewContext) -> CrewResult:
        """Run whatever of 30.1 → 30.2 → 30.3 is not done yet for `ctx.venture`."""
        install_hooks(ctx.engine)
        stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S%f")
        run_id = f"job-{ctx.job_id}" if ctx.job_id is not None else f"run-{stamp}"
        venture = ctx.engine.venture(ctx.venture)
        out = output_folder(ctx.output_root, ctx.options, venture.id, run_id)  # from ids, under the crew root
        run = _Run(ctx, run_id, out)
        try:
            if venture.stage != STAGE:
                raise run.stop("failed", f"the venture is at stage {venture.stage}, not {STAGE}")
            if venture.status != "active":
                gate = ctx.engine.check_gate(ctx.venture, "entry")
                failing = "; ".join(c.name for c in gate.checks if c.verdict != "pass")
                raise run.stop(
                    "failed", f"the venture is {venture.status}" + (f" (entry gate: {failing})" if failing else "")
                )
            plan = _Plan.read(run)
            with LocalDriver(plan.command, overrides=plan.overrides) as driver:
                # The running production: on the local driver it lives as long as the run (a real
                # platform's blue is already up and stays up).
                driver.start_version(plan.blue)
                dep = LiveDeployment(
                    driver, plan.blue, plan.green, plan.database_url, restore_timeout=plan.backup_timeout
                )
                with live.live(venture.name, dep):
                    if "30.1" not in run.done():
                        self._validate(run, plan, dep)
                    dep.backup = plan.backup_path(run)
                    self._approval(run)
                    result = self._switch(run, plan, dep)
                    self._verify(run, plan, dep, result)
        except Stop:
            pass
        run.summary["outcome"] = run.outcome
        run.summary["run_id"] = run_id
        return CrewResult(run.status, run.summary, tuple(run.artifacts), tuple(run.fired), tuple(run.files))

    # -- 30.1 ------------------------------------------------------------------------------------
    def _validate(self, run: _Run, plan: _Plan, dep: LiveDeployment) -> None:
        ctx = run.ctx
        ctx.checkpoint()
        ctx.progress("30.1 PreDeploymentValidator", 0, 3, "health, dependency and backup checks")
        report = validator.validate(plan.validation(dep.driver.url), checkpoint=ctx.checkpoint, sleep=plan.sleep)
        run.summary["validation"] = report.as_dict()
        run.files += [str(report.backup.path)] if report.backup is not None and report.backup.path else []
        run.record(
            {
                "health_check_pass_rate": report.health_check_pass_rate,
                "dependency_check_pass_rate": report.dependency_check_pass_rate,
                "backup_verification_pass_rate": report.backup_verification_pass_rate,
            }
        )
        if not report.ok:
            why = "; ".join(report.failures)
            run.engine.crew_alert(
                ctx.venture, f"deployment aborted in 30.1 (DEPLOY-001): {why}", severity="P0", actor=ctx.actor,
                data={"incident": True, "trigger": "DEPLOY-001", "failures": report.failures},
            )  # fmt: skip
            raise run.stop("failed", f"aborted: pre-deployment validation failed (DEPLOY-001): {why}")
        run.complete("30.1")

    # -- approval --------------------------------------------------------------------------------
    def _approval(self, run: _Run) -> None:
        """The 30.2 entry: the Chairman's approval of this release in this visit (approved or bypassed).

        It is requested when missing; the run then ends as `waiting` unless `approval_wait` seconds allow
        the decision to arrive meanwhile.

        An approval names the release it is for (its payload's `release`); one for another release does
        not count, so a fixed release after a rollback goes back to the Chairman.
        """
        if "30.2" in run.done():
            return
        ctx, engine = run.ctx, run.engine
        entered = engine.visits(ctx.venture)[-1].entered_at
        release = run.summary.get("green_version")
        wait = float(ctx.option("approval_wait", 0.0))
        deadline = time.monotonic() + wait
        requested = False
        while True:
            mine = [a for a in engine.approvals(ctx.venture) if a.role == "chairman" and a.requested_at >= entered]
            mine = [a for a in mine if (a.payload or {}).get("release", release) == release]
            decided = next((a for a in mine if a.status in ("approved", "bypassed")), None)
            if decided is not None:
                run.summary["approval"] = {"id": decided.id, "status": decided.status, "by": decided.decided_by}
                return
            pending = next((a for a in mine if a.status == "pending"), None)
            if pending is None and mine and mine[0].status == "rejected" and not requested:
                raise run.stop("failed", f"the Chairman rejected the release (approval #{mine[0].id})")
            if pending is None:
                pending = engine.request_approval(
                    ctx.venture, "chairman", actor=ctx.actor,
                    reason="release the cutover to production (stage 30.2)",
                    payload={"release": release, "run": run.run_id},
                )  # fmt: skip
                requested = True
            if time.monotonic() >= deadline:
                run.summary["approval"] = {"id": pending.id, "status": "pending", "expires_at": str(pending.expires_at)}
                raise run.stop(
                    "waiting",
                    f"waiting for the Chairman's approval #{pending.id} (expires {pending.expires_at:%Y-%m-%d %H:%M} "
                    "UTC); run the crew again once it is decided",
                )
            ctx.checkpoint()
            time.sleep(min(0.2, max(0.0, deadline - time.monotonic())))

    # -- 30.2 and 30.3 ---------------------------------------------------------------------------
    def _switch(self, run: _Run, plan: _Plan, dep: LiveDeployment) -> CutoverResult:
        ctx, driver = run.ctx, dep.driver
        ctx.checkpoint()
        ctx.progress("30.2 BlueGreenOrchestrator", 0, len(plan.canary.steps) + 1, f"starting green {plan.green}")
        try:
            green_addr = driver.start_version(plan.green)
        except RuntimeError as exc:
            run.record({"green_health_check_pass_rate": 0.0})
            run.summary["green"] = {"healthy": False, "error": str(exc)}
            raise run.stop("recursed", f"aborted: green {plan.green} never became healthy: {exc}") from None
        run.record({"green_health_check_pass_rate": 100.0})
        if plan.migrate:
            done = subprocess.run(
                plan.migrate, capture_output=True, text=True, timeout=plan.backup_timeout, check=False
            )
            dep.migrations_ran = True  # even a failed migration may have changed something: restore if rolled back
            run.summary["migration"] = {"command": plan.migrate, "exit": done.returncode, "output": done.stdout[-2000:]}
            if done.returncode != 0:
                driver.stop(plan.green)
                why = self._engine_rollback(run, "not_switched", f"migration failed: {done.stderr.strip()[-500:]}")
                raise run.stop("recursed", f"aborted before any traffic moved: migration failed ({why})")
        steps = len(plan.canary.steps)
        held: list[tuple[StepLog, datetime]] = []

        def record_step(step: StepLog, at: datetime) -> None:
            values = {"green_traffic_share": float(step.green_percent), "deployment_error_rate": step.error_rate}
            if step.p95_ms is not None:
                values["response_time_p95"] = round(step.p95_ms, 3)
            run.record(values, f":{step.green_percent}", at=at)

        def on_step(step: StepLog) -> None:
            # A step's figures are recorded (as of its end) when the next step ends: the step a rollback
            # ends must have its deciding readings recorded first, as of when they were read (`_roll_back`).
            ctx.progress("30.2 BlueGreenOrchestrator", plan.canary.steps.index(step.green_percent) + 1, steps + 1)
            if held:
                record_step(*held.pop())
            held.append((step, datetime.now(UTC)))

        mono0, wall0 = time.monotonic(), datetime.now(UTC)
        before = _failed(driver, plan)
        result = asyncio.run(_cutover(dep, plan, f"http://{green_addr}/", on_step))
        run.summary["cutover"] = result.as_dict()
        run.summary["traffic"] = traffic = {"failed_requests": _failed(driver, plan) - before}
        if result.rollback is not None:
            switch = result.rollback.backend_at_switch
            blue_now = driver.counters(plan.blue)
            green_now = driver.counters(plan.green)
            traffic["requests_after_rollback"] = blue_now.requests + green_now.requests - switch.requests
            traffic["failed_after_rollback"] = blue_now.failed + green_now.failed - switch.failed
        if result.rollback is None:
            if held:
                record_step(*held.pop())
            if "30.2" not in run.done():  # done in an earlier run whose 30.3 failed: the cutover was redone
                run.complete("30.2")
            return result
        rb = result.rollback
        downtime = result.seconds / 60 if result.unanswered else 0.0
        evidence = [(rb.above_since, rb.first_value), (rb.decided_at, rb.value)]
        self._roll_back(run, dep, rb.cause, rb.reason, evidence, mono0, wall0)
        if held:
            record_step(held[0][0], datetime.now(UTC))
        run.record({"deployment_success_rate": 0.0, "downtime": downtime, "rollback_time": rb.drain_s / 60})
        raise run.stop("recursed", f"rolled back: {rb.reason}")

    def _roll_back(
        self,
        run: _Run,
        dep: LiveDeployment,
        cause: str,
        reason: str,
        evidence: list[tuple[float | None, float | None]],
        mono0: float,
        wall0: datetime,
    ) -> None:
        """The decision tree after traffic is back on blue, through the engine's rollback path.

        For the two rules, the readings that decided are recorded at the moments they were read, so the
        stage's own trigger (DEPLOY-002, DEPLOY-RB-LATENCY) judges the same evidence and rolls back
        through the engine as defined. Then: migrations ran → `schema_changed` (database and traffic);
        green down → `green_unrecoverable` (traffic, database, green; back to 30.1). Whatever path,
        at least one engine rollback is logged.
        """

        before = len(run.engine.rollbacks(run.ctx.venture))
        metric = {"error_rate": "deployment_error_rate", "latency": "response_time_p95"}.get(cause)
        if metric is not None and evidence and all(t is not None and v is not None for t, v in evidence):
            (t0, v0), (_, v1) = evidence
            assert t0 is not None  # checked above
            started = wall0 + timedelta(seconds=t0 - mono0)
            run.record({metric: round(v0 or 0.0, 3)}, ":rollback-start", at=started)
            run.record({metric: round(v1 or 0.0, 3)}, ":rollback-decided", at=datetime.now(UTC))
        if cause == "green_down":
            self._engine_rollback(run, "green_unrecoverable", reason)
        elif dep.migrations_ran:
            self._engine_rollback(run, "schema_changed", reason)
        elif len(run.engine.rollbacks(run.ctx.venture)) == before and cause != "ordered":
            self._engine_rollback(run, "traffic_only", reason)
        after = run.engine.rollbacks(run.ctx.venture)  # newest first
        records = after[: len(after) - before]
        run.summary["rollback"] = {
            "cause": cause,
            "reason": reason,
            "engine_rollbacks": [{"id": r.id, "cause": r.cause, "trigger": r.trigger, "outcome": r.outcome,
                                  "scope": r.scope} for r in records],
            "handlers": list(dep.log),
            "weights_after": dep.driver.weights() if isinstance(dep.driver, LocalDriver) else None,
        }  # fmt: skip

    def _engine_rollback(self, run: _Run, cause: str, reason: str) -> str:
        try:
            record = run.engine.rollback(run.ctx.venture, cause=cause, actor=run.ctx.actor, reason=reason)
        except NotFound as exc:  # no pre-stage-30 snapshot (a venture created at 30 with nothing to restore)
            return f"{cause}: {exc.message}"
        return f"{cause}: rollback #{record.id} {record.outcome}"

    def _verify(self, run: _Run, plan: _Plan, dep: LiveDeployment, result: CutoverResult) -> None:
        ctx, engine, driver = run.ctx, run.engine, dep.driver
        ctx.checkpoint()
        ctx.progress("30.3 PostDeploymentVerifier", 0, 3, "smoke tests")
        smoke = verifier.run_smoke(
            driver.url, plan.smoke_checks, command=plan.smoke_command, timeout=plan.smoke_timeout,
            critical_only=plan.critical_only,
        )  # fmt: skip
        run.summary["smoke"] = smoke.as_dict()
        acted = run.record({"smoke_test_pass_rate": smoke.pass_rate})
        if smoke.pass_rate < 100.0:
            mono0, wall0 = time.monotonic(), datetime.now(UTC)
            if not any(f.kind == "rollback" for f in acted):
                driver.set_weights(100, 0)
            run.record({"deployment_success_rate": 0.0})
            self._roll_back(run, dep, "smoke", "smoke tests failed", [], mono0, wall0)
            raise run.stop("recursed", f"rolled back: smoke tests {smoke.passed}/{smoke.total} passed")
        ctx.progress("30.3 PostDeploymentVerifier", 1, 3, "monitoring setup")
        channels = list(engine.setting(ctx.venture, "monitoring.alert_channels").value)
        setup = monitoring.monitoring_setup(
            run.engine.venture(ctx.venture).name, run.out / "monitoring", channels=channels,
            thresholds=monitoring.Thresholds(
                error_rate_percent=1.0,
                p95_ms=float(engine.setting(ctx.venture, "rollback.response_time_threshold").value),
            ),
        )  # fmt: skip
        run.files += [str(setup.rules_path), str(setup.dashboard_path)]

        def send(payload: dict[str, Any]) -> str:
            event = engine.crew_alert(
                ctx.venture, str(payload.get("summary", "test alert")), severity="P2", actor=ctx.actor,
                data={**payload, "test": True},
            )  # fmt: skip
            return f"event #{event}"

        alert = monitoring.fire_test_alert(send, channels, service=run.engine.venture(ctx.venture).name)
        monitoring_ok = alert.fired
        if monitoring_ok:
            run.put("monitoring_setup", setup.artifact(alert))
        run.summary["monitoring"] = {"rules": str(setup.rules_path), "dashboard": str(setup.dashboard_path),
                                     "test_alert": alert.detail, "confirmed": monitoring_ok}  # fmt: skip
        ctx.progress("30.3 PostDeploymentVerifier", 2, 3, "rollback rehearsal")

        def engine_dry_run() -> object:
            return engine.rollback(ctx.venture, cause="traffic_only", actor=ctx.actor, dry_run=True)

        rehearsal = verifier.rehearse_rollback(driver, plan.blue, plan.green, engine_dry_run=engine_dry_run)
        run.summary["rehearsal"] = rehearsal.as_dict()
        last = result.steps[-1]
        figures = {
            "rollback_test_pass_rate": rehearsal.pass_rate,
            "deployment_success_rate": 100.0,
            "downtime": result.seconds / 60 if result.unanswered else 0.0,
            "green_traffic_share": float(result.green_percent),
            "deployment_error_rate": last.error_rate,
        }
        if last.p95_ms is not None:
            figures["response_time_p95"] = round(last.p95_ms, 3)
        now = datetime.now(UTC)
        deployment = {
            "release_version": plan.green,
            "deployed_at": now.isoformat(),
            "production_url": driver.url,
            "traffic_on_green_percent": float(result.green_percent),
            "canary_log": [
                {"percent": s.green_percent, "error_rate_percent": round(s.error_rate, 3),
                 "p95_ms": round(s.p95_ms or 0.0, 3), "passed": True} for s in result.steps
            ],
            "downtime_minutes": figures["downtime"],
            "smoke_tests": smoke.artifact(),
            "rollback": {"performed": False},
            "rollback_dry_run": rehearsal.artifact(),
        }  # fmt: skip
        deployed = run.put("production_deployment", deployment)
        run.put(
            "deployment_documentation",
            {
                "release_version": plan.green,
                "production_url": driver.url,
                "dashboards": [setup.dashboard_url],
                "metrics": {"deployment_success_rate": 100.0, "downtime_minutes": figures["downtime"]},
                "rollback_procedure": (
                    "`venturegate rollback VENTURE --cause traffic_only` sends all traffic back to blue "
                    f"({plan.blue}); with migrations use `--cause schema_changed` to restore the 30.1 backup too."
                ),
                "runbook": str(setup.rules_path),
                "next_stage": 31,
            },
            [deployed],
        )
        run.record(figures, ":final")
        if rehearsal.pass_rate < 100.0 or not monitoring_ok:
            missing = "rollback rehearsal" if rehearsal.pass_rate < 100.0 else "monitoring confirmation"
            raise run.stop("failed", f"deployed, but 30.3 is not done: {missing} failed")
        run.complete("30.3")
        v = engine.venture(ctx.venture)
        run.summary["stage_after"] = v.stage
        run.outcome = "completed: advanced to stage 31" if v.stage > STAGE else "completed: awaiting advance"


@dataclass
class _Plan:
    """The run's inputs: the deployment plan artifact and release candidate when stored, else options."""

    blue: str
    green: str
    command: list[str]
    overrides: dict[str, list[str]]
    canary: CanaryConfig
    health_checks: list[validator.HealthCheck]
    dependencies: list[validator.Dependency]
    database_url: str | None
    backup_dir: Path
    retries: int
    interval: float
    backup_timeout: float
    migrate: list[str]
    smoke_checks: list[verifier.SmokeCheck]
    smoke_command: list[str] | None
    smoke_timeout: float
    critical_only: bool
    load_rate: float
    sleep: Callable[[float], None] = time.sleep

    @classmethod
    def read(cls, run: _Run) -> _Plan:
        ctx, engine = run.ctx, run.engine
        o = ctx.option
        settings: dict[str, Any] = {s.key: s.value for s in engine.config(ctx.venture)}
        stored = _content(engine, ctx.venture, "deployment_plan")
        release = _content(engine, ctx.venture, "release_candidate")
        overrides: dict[str, Any] = {}
        for k in ("soak_seconds", "window_seconds", "sample_interval", "probe_interval"):
            if k in ctx.options:
                overrides[k] = float(o(k, 0.0))
        canary = CanaryConfig.from_config(settings, **overrides)
        if stored and "canary" in stored and "steps" not in overrides:
            canary = CanaryConfig.from_config(
                {**settings, "traffic.canary_steps": stored["canary"]["steps"]}, **overrides
            )
        green = str(release["version"]) if release else str(o("green_version", "green"))
        blue = str(o("blue_version", "blue"))
        template = str(o("command", ""))
        command = shlex.split(template) if template else demo_service.command()
        demo = {green: demo_service.command(float(o("green_error_rate", 0.0)), float(o("green_latency_ms", 0.0)))}
        health = [validator.HealthCheck(h["name"], h["url"]) for h in (stored or {}).get("health_checks", [])]
        for name in ("api", "external", "database"):
            url = str(o(f"{name}_url", ""))
            if url:
                health.append(validator.HealthCheck(name, url))
        deps = [
            validator.Dependency(d["name"], d["kind"], str(d.get("target", d["name"])), bool(d.get("critical", True)))
            for d in (stored or {}).get("dependencies", [])
        ]
        database_url = str(o("database_url", "")) or None
        interval = float(o("health_check_interval", 10.0))
        smoke_paths = [p for p in str(o("smoke_paths", "/,/health")).split(",") if p.strip()]
        smoke_cmd = str(o("smoke_command", ""))
        run.summary["green_version"] = green
        return cls(
            blue=blue,
            green=green,
            command=command,
            overrides={} if template else demo,
            canary=canary,
            health_checks=health,
            dependencies=deps,
            database_url=database_url,
            backup_dir=run.out / "backup",
            retries=int(settings.get("deployment.health_check_retries", 3)),
            interval=interval,
            backup_timeout=60.0 * float(settings.get("deployment.backup_verification_timeout", 30)),
            migrate=shlex.split(str(o("migrate_command", ""))),
            smoke_checks=[verifier.SmokeCheck(p.strip().strip("/") or "home", p.strip()) for p in smoke_paths],
            smoke_command=shlex.split(smoke_cmd) if smoke_cmd else None,
            smoke_timeout=60.0 * float(settings.get("smoke_tests.timeout", 30)),
            critical_only=bool(settings.get("smoke_tests.critical_flows_only", False)),
            load_rate=float(o("load_rate", 0.0)),
            sleep=time.sleep if interval > 0 else (lambda _s: None),
        )

    def validation(self, production_url: str) -> validator.ValidationPlan:
        """What 30.1 checks: the plan's health checks, or by default production's `/health` (and its database)."""
        checks = [
            validator.HealthCheck(c.name, c.url.replace("{production}", production_url)) for c in self.health_checks
        ]
        if not any(c.name == "api" for c in checks):
            checks.insert(0, validator.HealthCheck("api", production_url + "/health"))
        if self.database_url and not any(c.name == "database" for c in checks):
            checks.append(validator.HealthCheck("database", self.database_url))
        return validator.ValidationPlan(
            health_checks=checks,
            dependencies=self.dependencies,
            database_url=self.database_url,
            backup_dir=self.backup_dir,
            retries=self.retries,
            interval=self.interval,
            backup_timeout=self.backup_timeout,
        )

    def backup_path(self, run: _Run) -> Path | None:
        """The backup 30.1 took (this run's, or the last run's when 30.1 was done before)."""
        validation = run.summary.get("validation") or {}
        path = (validation.get("backup") or {}).get("path")
        if path:
            return Path(path)
        found = sorted(run.out.parent.glob("*/backup/*.dump"), key=lambda p: p.stat().st_mtime)
        return found[-1] if found else None


def _failed(driver: Any, plan: _Plan) -> int:
    """Failed requests (5xx or unanswered) HAProxy counted on blue and green so far."""
    return int(driver.counters(plan.blue).failed + driver.counters(plan.green).failed)


def _content(engine: Any, venture: str | int, name: str) -> dict[str, Any] | None:
    try:
        content = engine.artifact(venture, name).content
    except NotFound:
        return None
    return content if isinstance(content, dict) else None


async def _cutover(
    dep: LiveDeployment, plan: _Plan, probe_url: str, on_step: Callable[[StepLog], None]
) -> CutoverResult:
    """The cutover, with loopback demo traffic at `load_rate` req/s when asked (production brings its own)."""
    assert isinstance(dep.driver, LocalDriver)
    config = plan.canary
    if plan.load_rate <= 0:
        return await cutover(dep.driver, dep.blue, dep.green, config, on_step=on_step, probe_url=probe_url)
    seconds = config.soak_seconds * len(config.steps) + 1.0
    load = asyncio.create_task(
        run_profile(
            dep.driver.url + "/",
            LoadProfile.constant(plan.load_rate, seconds),
            max_requests=int(plan.load_rate * seconds) + 10,
            max_seconds=seconds + 1,
        )
    )
    try:
        result = await cutover(dep.driver, dep.blue, dep.green, config, on_step=on_step, probe_url=probe_url)
        if result.rollback is not None:
            await asyncio.sleep(0.5)  # traffic keeps coming after the rollback: blue must answer all of it
        return result
    finally:
        load.cancel()
        await asyncio.gather(load, return_exceptions=True)
