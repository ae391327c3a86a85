"""The stage-30 DeploymentCrew: 30.1 PreDeploymentValidator → Chairman approval → 30.2 BlueGreenOrchestrator
with its RollbackCoordinator → 30.3 PostDeploymentVerifier, through the engine's public API only.

What it reads: the run's options (unknown ones are refused), the `deployment_plan` and
`release_candidate` artifacts (a plan for another release is refused), the venture's stage-30
configuration, and the service's routes (its OpenAPI document or the plan's list).

What it writes: samples for every figure the stage's triggers and exit gate read (so DEPLOY-001..004
fire as defined), the `production_deployment`, `monitoring_setup` and `deployment_documentation`
artifacts, substage completions, and rollbacks through `engine.rollback` (whose `traffic`, `database`
and `green` handlers, in `live.py`, find production from its persisted state).

Every release is approved: a release other than the one this visit's substages were done for
re-opens them through the engine (audited) and goes back to the Chairman.

Production (the `local` driver: HAProxy and the serving version) outlives the run by default
(`production=persistent`): it is kept under `<workspace>/.venturegate/deploy/v<venture id>/`, shown,
stopped and rolled back with `venturegate deploy status|stop|rollback`, and found again by the next run.
With `production=run` it is stopped when the run ends (tests, the demo).
"""

from __future__ import annotations

import asyncio
import subprocess
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from venturegate.crews.base import AgentSpec, Cancelled, Crew, CrewContext, CrewHooks, CrewResult
from venturegate.crews.runtime import CrewRun, Stop
from venturegate.crews.stage30 import _rollbacks, live, validator
from venturegate.crews.stage30._rollbacks import Restore
from venturegate.crews.stage30._verify import verify
from venturegate.crews.stage30.backup import BackupVerificationError, take_backup
from venturegate.crews.stage30.haproxy import DriverError, LocalDriver
from venturegate.crews.stage30.live import Deployment
from venturegate.crews.stage30.orchestrator import CutoverResult, GreenUnhealthy, StepLog, cutover
from venturegate.crews.stage30.plan import OPTIONS, Plan, PlanError
from venturegate.crews.stage30.routes import Routes
from venturegate.engine.exceptions import NotFound

STAGE = 30
SUBSTAGES = ("30.1", "30.2", "30.3")


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
    options = OPTIONS
    operator_options = frozenset({"command", "migrate_command", "smoke_command", "database_url"})

    def hooks(self) -> CrewHooks:
        """The `traffic`, `database` and `green` rollback handlers, acting on production found from its state."""
        return CrewHooks(rollback=live.default_handlers())

    def run(self, ctx: CrewContext) -> CrewResult:
        """Run whatever of 30.1 → 30.2 → 30.3 is not done yet for this release of `ctx.venture`."""
        run = CrewRun.begin(ctx, stage=STAGE)
        driver: LocalDriver | None = None
        plan: Plan | None = None
        dep: Deployment | None = None
        folder = live.production_dir(live.default_workspace(), _venture(run).id)
        try:
            plan = self._plan(run)
            self._refuse_leftover_migration(run, folder)
            self._reopen_for_release(run, plan.green)
            # Production lives in the venture's folder either way, so rollback handlers in any process find it;
            # `production=run` only stops it when the run ends.
            driver = LocalDriver(plan.command, overrides=plan.overrides, check=plan.check, state_dir=folder)
            self._production(run, plan, driver, folder)
            dep = Deployment(blue=plan.blue, green=plan.green, state="serving", database_url=plan.database_url,
                             restore_timeout=plan.backup_timeout, release=plan.green)  # fmt: skip
            if "30.1" not in run.done():
                self._validate(run, plan, driver)
            dep.backup = self._backup_path(run)
            self._approval(run, plan)
            result, routes = self._switch(run, plan, driver, dep, folder)
            verify(run, plan, driver, result, routes, self._roll_back_smoke(run, driver, dep, folder))
        except Stop:
            why = f"the run ended ({run.status}: {run.outcome}) before the release went live"
            db = self._not_live(run, dep, folder, "not_live", why)
            if db is not None:
                _rollbacks.stop(run, run.status, run.outcome, db)  # the run's status and outcome say so
        except Cancelled as exc:
            db = self._not_live(run, dep, folder, "cancelled", f"the job was cancelled: {exc}")
            if db is None:
                raise
            raise Cancelled(f"{exc}; {db}") from None
        except Exception as exc:
            self._not_live(run, dep, folder, "error", f"the run failed: {type(exc).__name__}: {exc}")
            raise
        finally:
            if driver is not None:
                self._leave(run, plan, driver, dep if plan is not None and driver.running else None)
        return run.result()

    # -- inputs ----------------------------------------------------------------------------------
    def _plan(self, run: CrewRun) -> Plan:
        venture = _venture(run)
        if venture.stage != STAGE:
            raise run.stop("failed", f"the venture is at stage {venture.stage}, not {STAGE}")
        if venture.status != "active":
            gate = run.engine.check_gate(run.ctx.venture, "entry")
            failing = "; ".join(c.name for c in gate.checks if c.verdict != "pass")
            raise run.stop(
                "failed", f"the venture is {venture.status}" + (f" (entry gate: {failing})" if failing else "")
            )
        settings: dict[str, Any] = {s.key: s.value for s in run.engine.config(run.ctx.venture)}
        try:
            plan = Plan.read(run.ctx.options, settings, _content(run, "deployment_plan"),
                             _content(run, "release_candidate"))  # fmt: skip
        except PlanError as exc:
            raise run.stop("failed", f"refused: {exc}") from None
        run.summary["green_version"] = plan.green
        return plan

    def _refuse_leftover_migration(self, run: CrewRun, folder: Path) -> None:
        """Refuse to run while an earlier run's migration is neither live nor undone (that run was killed, is still
        running, or its restore failed): this run's record would replace the one that names its backup."""
        left = Deployment.load(folder)
        if left is None or not left.migrations_ran or left.state == "live":
            return
        run.summary["leftover_migration"] = {"run": left.run, "release": left.release, "state": left.state,
                                             "backup": left.backup}  # fmt: skip
        name = _venture(run).name
        raise run.stop(
            "failed",
            f"refused: an earlier run ({left.run or 'unknown'}) of release {left.release} started its migration "
            f"and the release neither went live nor had it undone (state {left.state}: the run was killed, is still "
            f"running, or its restore failed), so the database may be migrated under blue ({left.blue}). Once no "
            f"run of it is left, restore its backup {left.backup} - blue's writes since that backup are lost - with "
            f"`venturegate rollback {name} --cause schema_changed --reason '…'`, then run the crew again",
        )

    def _reopen_for_release(self, run: CrewRun, release: str) -> None:
        """Substages done in this visit for another release are re-opened (audited), so this one is approved too."""
        done = [s for s in SUBSTAGES if s in run.done()]
        if "30.2" not in done:  # 30.1 alone was not for a release: the approval asked next names this one
            return
        deployed = (_content(run, "production_deployment") or {}).get("release_version") if "30.3" in done else None
        if _approved(run, release) is not None and ("30.3" not in done or deployed == release):
            return
        run.reopen(done, reason=f"new release {release}: stage 30 runs again for it (validation, approval, cutover)")
        run.summary["reopened"] = done

    # -- production ------------------------------------------------------------------------------
    def _production(self, run: CrewRun, plan: Plan, driver: LocalDriver, folder: Any) -> None:
        """Attach to the running production, or start it with blue; a leftover green is stopped first."""
        try:
            driver.open()
            if driver.attached:
                serving = driver.versions().get("blue")
                leftover = driver.versions().get("green")
                if leftover is not None:
                    driver.stop(leftover)
                    run.summary["stopped_leftover_green"] = leftover
                if serving is not None:
                    plan.blue = serving
                if plan.blue == plan.green:
                    raise run.stop("completed", f"release {plan.green} already serves production at {driver.url}")
            if not driver.versions():
                driver.start_version(plan.blue)
        except DriverError as exc:
            raise run.stop("failed", f"production could not start: {exc}") from None
        run.summary["production_url"] = driver.url
        run.summary["production_folder"] = str(folder)

    def _leave(self, run: CrewRun, plan: Plan | None, driver: LocalDriver, dep: Deployment | None) -> None:
        """Persistent: leave production running - blue serving, or green once it took all the traffic and
        passed 30.3 (it becomes blue); anything less sends traffic back to blue and stops green."""
        if plan is None or not plan.persistent:
            driver.close()
            folder = live.production_dir(live.default_workspace(), _venture(run).id)
            saved = Deployment.load(folder)
            # A migration not undone (its restore failed) keeps its record: the next run refuses, a rollback retries.
            if saved is None or not saved.migrations_ran or run.summary.get("verified"):
                (folder / live.DEPLOYMENT_FILE).unlink(missing_ok=True)
            return
        try:
            driver.refresh()
            green = driver.versions().get("green")
            verified = bool(run.summary.get("verified"))  # 30.3 done for this release
            if green is not None and driver.weights().get("green", 0) == 100 and verified:
                driver.promote(green)
                if dep is not None:
                    dep.blue, dep.green, dep.state = green, None, "live"
            elif green is not None:
                if driver.weights().get("green", 0) > 0:
                    driver.set_weights(100, 0)
                driver.stop(green)
                if dep is not None and dep.state in ("cutover", "held", "serving"):
                    dep.state = "stopped_before_done"
            if dep is not None:
                dep.save(live.production_dir(live.default_workspace(), _venture(run).id))
        except DriverError as exc:
            run.summary["production_error"] = str(exc)
        run.summary["production"] = driver.status()
        driver.detach()

    def _not_live(self, run: CrewRun, dep: Deployment | None, folder: Path, cause: str, reason: str) -> Restore | None:
        """The run ends with the release not live after a migration started, and no path of the run undid it
        (a cancellation, a held step, a 30.3 that did not finish, an error): blue serves on, so the pre-migration backup
        is restored. None when there is nothing to undo."""
        if dep is None or not dep.migrations_ran or run.summary.get("verified"):
            return None
        if "database" in run.summary.get("rollback", {}):  # restored (or tried to) already: never twice
            return None
        before = _rollbacks.count(run)
        db = _rollbacks.undo_migrations(run, dep, folder, reason)
        run.summary["rollback"] = {"cause": cause, "reason": reason, **_rollbacks.logged(run, before, db)}
        return db

    # -- 30.1 ------------------------------------------------------------------------------------
    def _validate(self, run: CrewRun, plan: Plan, driver: LocalDriver) -> None:
        run.step("30.1 PreDeploymentValidator", 0, 3, "health, dependency and backup checks")
        report = validator.validate(plan.validation(driver.url, run.out / "backup"), checkpoint=run.ctx.checkpoint,
                                    sleep=plan.sleep)  # fmt: skip
        run.summary["validation"] = report.as_dict()
        if report.backup is not None and report.backup.path:
            run.files.append(str(report.backup.path))
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
                run.ctx.venture, f"deployment aborted in 30.1 (DEPLOY-001): {why}", severity="P0", actor=run.ctx.actor,
                data={"incident": True, "trigger": "DEPLOY-001", "failures": report.failures},
            )  # fmt: skip
            raise run.stop("failed", f"aborted: pre-deployment validation failed (DEPLOY-001): {why}")
        run.complete("30.1")

    def _backup_path(self, run: CrewRun) -> str | None:
        path = ((run.summary.get("validation") or {}).get("backup") or {}).get("path")
        if path:
            return str(path)
        found = sorted(run.out.parent.glob("*/backup/*.dump"), key=lambda p: p.stat().st_mtime)
        return str(found[-1]) if found else None

    # -- approval --------------------------------------------------------------------------------
    def _approval(self, run: CrewRun, plan: Plan) -> None:
        """The 30.2 entry: the Chairman's approval of this release in this visit (approved or bypassed)."""
        if "30.2" in run.done():
            return
        decided = _wait_for(run, plan.green, {"release": plan.green, "run": run.run_id},
                            "release the cutover to production (stage 30.2)", plan.approval_wait)  # fmt: skip
        run.summary["approval"] = decided

    # -- 30.2 ------------------------------------------------------------------------------------
    def _switch(
        self, run: CrewRun, plan: Plan, driver: LocalDriver, dep: Deployment, folder: Path
    ) -> tuple[CutoverResult, Routes]:
        steps = len(plan.canary.steps)
        run.step("30.2 BlueGreenOrchestrator", 0, steps + 1, f"starting green {plan.green}")
        try:
            routes = plan.routes(driver.url)
        except PlanError as exc:
            raise run.stop("failed", f"refused: {exc}") from None
        run.summary["routes"] = {
            "judged": routes.templates,
            "source": routes.source,
            "not_checked": list(routes.skipped),
        }
        try:
            green_addr = driver.start_version(plan.green)
        except DriverError as exc:
            run.record({"green_health_check_pass_rate": 0.0})
            run.summary["green"] = {"healthy": False, "error": str(exc)}
            raise run.stop("recursed", f"aborted: green {plan.green} never became healthy: {exc}") from None
        dep.state = "cutover"
        dep.save(folder)
        run.record({"green_health_check_pass_rate": 100.0})
        if plan.migrate:
            self._migrate(run, plan, driver, dep, folder)
        accepted = _accepted_hold(run, plan.green)
        config = plan.canary if not accepted else _no_hold(plan.canary)
        try:
            result = self._cutover(run, plan, driver, routes, green_addr, config)
        except GreenUnhealthy as exc:
            before = _rollbacks.count(run)
            run.record({"green_health_check_pass_rate": 0.0}, suffix=":cutover")
            if not dep.migrations_ran:
                raise run.stop("recursed", f"aborted before any traffic moved: {exc}") from None
            # DEPLOY-RB-GREEN (scope green) leaves the database migrated under blue: the decision tree's full
            # branch restores the pre-migration backup too, as when green goes down during the cutover.
            why = _rollbacks.request(run, "green_unrecoverable", str(exc))
            db = _rollbacks.database(run, dep, folder, before, why)
            run.summary["rollback"] = {"cause": "green_unhealthy", "reason": str(exc),
                                       **_rollbacks.logged(run, before, db)}  # fmt: skip
            raise _rollbacks.stop(run, "recursed", f"aborted before any traffic moved: {exc}", db) from None
        run.summary["cutover"] = result.as_dict()
        clock0 = run.summary.pop("_clock0", None)
        run.summary["traffic"] = {
            "client_requests": result.client_requests, "failed_requests": result.client_failed,
            "refused": result.refused, "downtime_s": round(result.downtime_s, 3),
        }  # fmt: skip
        if result.status == "cancelled":
            driver.stop(plan.green)
            dep.state = "cancelled"
            dep.save(folder)
            run.summary["outcome"] = "cancelled: traffic back on blue, green stopped"
            raise Cancelled("the job was cancelled during the cutover; traffic is back on blue, green stopped")
        if result.status == "held":
            self._held(run, plan, driver, dep, folder, result)
        if result.rollback is not None:
            switch = result.rollback.backend_at_switch
            blue_now, green_now = driver.counters(plan.blue), driver.counters(plan.green)
            run.summary["traffic"] |= {
                "requests_after_rollback": blue_now.requests + green_now.requests - switch.requests,
                "failed_after_rollback": blue_now.failed + green_now.failed - switch.failed,
            }
            run.summary["_clock0"] = clock0
            self._rolled_back(run, plan, driver, dep, folder, result)
        if "30.2" not in run.done():
            run.complete("30.2")
        return result, routes

    def _migrate(self, run: CrewRun, plan: Plan, driver: LocalDriver, dep: Deployment, folder: Path) -> None:
        # The backup a restore uses is taken now, not in 30.1: blue may have written since (the Chairman's wait,
        # an earlier run's rollback, whose restore consumed the backup it used).
        if plan.database_url is None:
            driver.stop(plan.green)
            raise run.stop("failed", "refused: a migration needs database_url (it is backed up right before)")
        try:
            backup = take_backup(plan.database_url, run.out / "pre-migration", timeout=plan.backup_timeout)
        except BackupVerificationError as exc:
            driver.stop(plan.green)
            raise run.stop("failed", f"refused: no migration without a fresh backup: {exc}") from None
        run.files.append(str(backup))
        run.summary["migration"] = {"command": plan.migrate, "backup": str(backup)}
        # Marked before the script starts: a failed, killed or timed-out one may have changed the schema too, and
        # whoever rolls back (this run, a trigger, the CLI) restores the backup only when it is marked.
        dep.backup, dep.migrations_ran, dep.run = str(backup), True, run.run_id
        dep.restored = dep.restored_at = None
        dep.save(folder)
        try:
            done = subprocess.run(plan.migrate, capture_output=True, text=True, timeout=plan.migrate_timeout,
                                  check=False)  # fmt: skip
            code, out, err = done.returncode, done.stdout, done.stderr
            failure = f"exit {code}: {err.strip()[-500:]}" if code != 0 else ""
        except subprocess.TimeoutExpired as exc:  # killed by subprocess.run, maybe half-way
            code, out, err = None, _text(exc.stdout), _text(exc.stderr)
            failure = f"timed out after {plan.migrate_timeout:g} s: {err.strip()[-500:]}"
        except OSError as exc:  # the script never started: nothing changed
            dep.migrations_ran = False
            dep.save(folder)
            driver.stop(plan.green)
            raise run.stop("failed", f"refused: the migration command could not start: {exc}") from None
        run.summary["migration"] |= {"exit": code, "output": out[-2000:]}
        if failure:
            # Traffic never left blue, but the schema may have changed under it (`not_switched` only aborts):
            # the branch for migrations restores the backup.
            driver.stop(plan.green)
            reason = f"migration failed ({failure})"
            before = _rollbacks.count(run)
            db = _rollbacks.undo_migrations(run, dep, folder, reason)
            run.summary["rollback"] = {"cause": "migration_failed", "reason": reason,
                                       **_rollbacks.logged(run, before, db)}  # fmt: skip
            raise _rollbacks.stop(run, "recursed", f"aborted before any traffic moved: {reason}", db)

    def _cutover(
        self, run: CrewRun, plan: Plan, driver: LocalDriver, routes: Routes, green_addr: str, config: Any
    ) -> CutoverResult:
        steps = len(config.steps)
        last_poll = [0.0, False]

        def cancelled() -> bool:
            # The job's cancel flag (and heartbeat) at most twice a second; a signal sets it locally at once.
            if time.monotonic() - last_poll[0] >= 0.5:
                last_poll[:] = [time.monotonic(), run.ctx.cancel.cancelled]
            return bool(last_poll[1]) or run.ctx.cancel.cancelled_locally

        def on_step(step: StepLog) -> None:
            # Progress only: no cancellation checkpoint here (the cutover's own check moves traffic back first).
            run.ctx.progress("30.2 BlueGreenOrchestrator", config.steps.index(step.green_percent) + 1, steps + 1,
                             f"{step.green_percent}% on green")  # fmt: skip
            values = {"green_traffic_share": float(step.green_percent), "deployment_error_rate": step.error_rate}
            if step.p95_ms is not None:
                values["response_time_p95"] = round(step.p95_ms, 3)
            run.record(values, suffix=f":{step.green_percent}")

        run.summary["_clock0"] = (time.monotonic(), datetime.now(UTC))
        return asyncio.run(
            cutover(
                driver, plan.blue, plan.green, config, on_step=on_step, probe_url=f"http://{green_addr}",
                routes=routes.routes, route_of=routes.match, request_log=driver.request_log(),
                green_server=driver.slot_of(plan.green), load_rate=plan.load_rate,
                after_rollback_s=0.5 if plan.load_rate > 0 else 0.0, cancelled=cancelled,
            )
        )  # fmt: skip

    def _held(
        self, run: CrewRun, plan: Plan, driver: LocalDriver, dep: Deployment, folder: Path, result: CutoverResult
    ) -> None:
        """A step above target, under the rollback lines: traffic stays there while the Chairman is asked."""
        why = "; ".join(result.held_because)
        reason = f"continue the cutover of {plan.green} past {result.green_percent}% although {why}"
        dep.state = "held"
        dep.save(folder)
        run.summary["held"] = {"at_percent": result.green_percent, "because": list(result.held_because)}
        try:
            _wait_for(run, plan.green, {"release": plan.green, "run": run.run_id, "accept": list(result.held_because)},
                      reason, plan.hold_wait)  # fmt: skip
        except Stop:
            # Nobody watches a held split once the run ends: traffic goes back to blue, green stops - and
            # blue serves on, so a migration is undone from its backup.
            undecided = f"held at {result.green_percent}% ({why}); no decision yet"
            before = _rollbacks.count(run)
            db = _rollbacks.undo_migrations(run, dep, folder, undecided)
            if db is None:
                _rollbacks.request(run, "traffic_only", undecided)
            driver.refresh()
            if plan.green in driver.versions().values():
                driver.stop(plan.green)
            if db is not None:
                run.summary["rollback"] = {"cause": "held", "reason": undecided,
                                           **_rollbacks.logged(run, before, db)}  # fmt: skip
                _rollbacks.stop(run, run.status, run.outcome, db)
            raise
        raise run.stop("waiting", f"the Chairman accepted {plan.green} at {result.green_percent}% despite {why}: "
                       "run the crew again to redo the cutover with those targets accepted")  # fmt: skip

    def _rolled_back(
        self, run: CrewRun, plan: Plan, driver: LocalDriver, dep: Deployment, folder: Path, result: CutoverResult
    ) -> None:
        rb = result.rollback
        assert rb is not None
        mono0, wall0 = run.summary.pop("_clock0")
        before = _rollbacks.count(run)
        metric = {"error_rate": "deployment_error_rate", "latency": "response_time_p95"}.get(rb.cause)
        if metric is not None and rb.above_since is not None and rb.first_value is not None and rb.value is not None:
            # The readings that decided, as of when they were read: the stage's trigger judges the same evidence.
            started = wall0 + timedelta(seconds=rb.above_since - mono0)
            run.record({metric: round(rb.first_value, 3)}, suffix=":rollback-start", at=started)
            run.record({metric: round(rb.value, 3)}, suffix=":rollback-decided", at=datetime.now(UTC))
        if rb.cause == "green_down":
            # Green failed HAProxy's health check during the cutover: DEPLOY-RB-GREEN judges the same
            # evidence (scope green), then the decision tree's full rollback sends the stage back to 30.1.
            run.record({"green_health_check_pass_rate": 0.0}, suffix=":cutover")
            why = _rollbacks.request(run, "green_unrecoverable", rb.reason)
            db = _rollbacks.database(run, dep, folder, before, why) if dep.migrations_ran else None
        else:
            db = _rollbacks.undo_migrations(run, dep, folder, rb.reason)
            if db is None and _rollbacks.count(run) == before and rb.cause != "ordered":
                _rollbacks.request(run, "traffic_only", rb.reason)
        driver.refresh()
        if plan.green in driver.versions().values():
            driver.stop(plan.green)
        dep.state = "rolled_back"
        dep.save(folder)
        downtime = result.downtime_s / 60
        run.record({"deployment_success_rate": 0.0, "downtime": downtime, "rollback_time": rb.drain_s / 60})
        run.summary["rollback"] = {"cause": rb.cause, "reason": rb.reason, **_rollbacks.logged(run, before, db),
                                   "weights_after": driver.weights()}  # fmt: skip
        raise _rollbacks.stop(run, "recursed", f"rolled back: {rb.reason}", db)

    def _roll_back_smoke(
        self, run: CrewRun, driver: LocalDriver, dep: Deployment, folder: Path
    ) -> Callable[[bool, int], Restore | None]:
        def roll_back(acted: bool, before: int) -> Restore | None:
            """Traffic is back on blue (by DEPLOY-002-SMOKE, or here); log the engine rollback - with migrations, the
            one restoring the pre-migration backup -, stop green. `before`: the log's length before the smoke sample."""
            reason = "smoke tests failed after the cutover"
            db = _rollbacks.undo_migrations(run, dep, folder, reason)
            if db is None and not acted:
                _rollbacks.request(run, "traffic_only", reason)
            driver.refresh()
            if dep.green in driver.versions().values():
                driver.stop(dep.green or "")
            dep.state = "rolled_back"
            run.summary["rollback"] = {"cause": "smoke", "reason": "smoke tests failed",
                                       "weights_after": driver.weights(),
                                       **_rollbacks.logged(run, before, db)}  # fmt: skip
            return db

        return roll_back


def _venture(run: CrewRun) -> Any:
    return run.engine.venture(run.venture)


def _no_hold(config: Any) -> Any:
    from dataclasses import replace

    return replace(config, target_error_rate=100.0, target_p95_ms=float("inf"))


def _content(run: CrewRun, name: str) -> dict[str, Any] | None:
    try:
        content = run.engine.artifact(run.ctx.venture, name).content
    except NotFound:
        return None
    return content if isinstance(content, dict) else None


def _visit_approvals(run: CrewRun, release: str) -> list[Any]:
    """This visit's Chairman approvals of `release`: those naming it, and those naming no release that were
    asked while it was the release candidate (a request made by hand, for an emergency bypass say)."""
    entered = run.engine.visits(run.ctx.venture)[-1].entered_at
    try:
        candidate_since = run.engine.artifact(run.ctx.venture, "release_candidate").created_at
    except NotFound:
        candidate_since = entered
    mine = [a for a in run.engine.approvals(run.ctx.venture) if a.role == "chairman" and a.requested_at >= entered]
    return [a for a in mine if (a.payload or {}).get("release") == release
            or ("release" not in (a.payload or {}) and a.requested_at >= candidate_since)]  # fmt: skip


def _approved(run: CrewRun, release: str) -> Any:
    """This visit's decided approval of `release`'s cutover (not a hold acceptance), if any."""
    return next((a for a in _visit_approvals(run, release)
                 if a.status in ("approved", "bypassed") and "accept" not in (a.payload or {})), None)  # fmt: skip


def _accepted_hold(run: CrewRun, release: str) -> bool:
    return any(a.status in ("approved", "bypassed") and "accept" in (a.payload or {})
               for a in _visit_approvals(run, release))  # fmt: skip


def _wait_for(run: CrewRun, release: str, payload: dict[str, Any], reason: str, wait: float) -> dict[str, Any]:
    """The Chairman's decision on `payload` (requested when missing); `waiting` when it has not come in `wait` s.

    An approval names the release it is for: one for another release never counts.
    """
    kind = "accept" in payload
    deadline = time.monotonic() + wait
    requested = False
    while True:
        mine = [a for a in _visit_approvals(run, release) if ("accept" in (a.payload or {})) == kind]
        decided = next((a for a in mine if a.status in ("approved", "bypassed")), None)
        if decided is not None:
            return {"id": decided.id, "status": decided.status, "by": decided.decided_by, "release": release}
        pending = next((a for a in mine if a.status == "pending"), None)
        if pending is None and mine and mine[0].status == "rejected" and not requested:
            raise run.stop("failed", f"the Chairman rejected release {release} (approval #{mine[0].id})")
        if pending is None:
            pending = run.engine.request_approval(run.ctx.venture, "chairman", actor=run.ctx.actor, reason=reason,
                                                  payload=payload)  # fmt: skip
            requested = True
        if time.monotonic() >= deadline:
            run.summary["approval"] = {"id": pending.id, "status": "pending", "release": release,
                                       "expires_at": str(pending.expires_at)}  # fmt: skip
            raise run.stop(
                "waiting",
                f"waiting for the Chairman's approval #{pending.id} of release {release} ({reason}; expires "
                f"{pending.expires_at:%Y-%m-%d %H:%M} UTC): VENTUREGATE_ACTOR=NAME:chairman venturegate approval "
                f"approve {pending.id} --reason '…', then run the crew again",
            )
        run.ctx.checkpoint()
        time.sleep(min(0.2, max(0.0, deadline - time.monotonic())))


def _text(output: str | bytes | None) -> str:
    """A timed-out process's captured output (bytes, even with text=True)."""
    return output.decode(errors="replace") if isinstance(output, bytes) else output or ""
