"""30.3 PostDeploymentVerifier: smoke tests over every route, monitoring, rollback rehearsal, handoff."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from venturegate.crews.runtime import CrewRun
from venturegate.crews.stage30 import _rollbacks, monitoring, verifier
from venturegate.crews.stage30._rollbacks import Restore
from venturegate.crews.stage30.haproxy import LocalDriver
from venturegate.crews.stage30.orchestrator import CutoverResult
from venturegate.crews.stage30.plan import Plan
from venturegate.crews.stage30.routes import Routes

STAGE = 30


def verify(
    run: CrewRun,
    plan: Plan,
    driver: LocalDriver,
    result: CutoverResult,
    routes: Routes,
    roll_back: Callable[[bool, int], Restore | None],
) -> None:
    """Smoke tests (a failure rolls back), monitoring and the rehearsal; then the artifacts, 30.3 and the advance."""
    ctx, engine = run.ctx, run.engine
    run.step("30.3 PostDeploymentVerifier", 0, 3, "smoke tests")
    smoke = verifier.run_smoke(driver.url, plan.smoke_checks(routes), command=plan.smoke_command,
                               timeout=plan.smoke_timeout, critical_only=plan.critical_only)  # fmt: skip
    run.summary["smoke"] = smoke.as_dict()
    before = _rollbacks.count(run)  # DEPLOY-002-SMOKE's rollback is logged with the sample
    acted = run.record({"smoke_test_pass_rate": smoke.pass_rate})
    if smoke.pass_rate < 100.0:
        by_trigger = any(f.kind == "rollback" for f in acted)
        if not by_trigger:
            driver.set_weights(100, 0)
        run.record({"deployment_success_rate": 0.0})
        db = roll_back(by_trigger, before)
        raise _rollbacks.stop(run, "recursed", f"rolled back: smoke tests {smoke.passed}/{smoke.total} passed", db)
    run.step("30.3 PostDeploymentVerifier", 1, 3, "monitoring setup")
    channels = [str(c) for c in run.setting("monitoring.alert_channels")]
    name = engine.venture(ctx.venture).name
    setup = monitoring.monitoring_setup(
        name, run.out / "monitoring", channels=channels,
        thresholds=monitoring.Thresholds(
            error_rate_percent=1.0, p95_ms=float(run.setting("rollback.response_time_threshold")),
        ),
    )  # fmt: skip
    run.files.extend([str(setup.rules_path), str(setup.dashboard_path)])

    def send(payload: dict[str, Any]) -> str:
        event = engine.crew_alert(ctx.venture, str(payload.get("summary", "test alert")), severity="P2",
                                  actor=ctx.actor, data={**payload, "test": True})  # fmt: skip
        return f"event #{event}"

    alert = monitoring.fire_test_alert(send, channels, service=name)
    if alert.fired:
        run.put("monitoring_setup", setup.artifact(alert))
    run.summary["monitoring"] = {"rules": str(setup.rules_path), "dashboard": str(setup.dashboard_path),
                                 "test_alert": alert.detail, "confirmed": alert.fired}  # fmt: skip
    run.step("30.3 PostDeploymentVerifier", 2, 3, "rollback rehearsal")

    def engine_dry_run() -> object:
        return engine.rollback(ctx.venture, cause="traffic_only", actor=ctx.actor, dry_run=True)

    rehearsal = verifier.rehearse_rollback(driver, plan.blue, plan.green, engine_dry_run=engine_dry_run)
    run.summary["rehearsal"] = rehearsal.as_dict()
    _handoff(run, plan, driver, result, smoke, setup, rehearsal)
    if rehearsal.pass_rate < 100.0 or not alert.fired:
        missing = "rollback rehearsal" if rehearsal.pass_rate < 100.0 else "monitoring confirmation"
        raise run.stop("failed", f"deployed, but 30.3 is not done: {missing} failed")
    run.complete("30.3")
    run.summary["verified"] = True
    stage = engine.venture(ctx.venture).stage
    run.summary["stage_after"] = stage
    raise run.stop("completed", "completed: advanced to stage 31" if stage > STAGE else "completed: awaiting advance")


def _handoff(
    run: CrewRun,
    plan: Plan,
    driver: LocalDriver,
    result: CutoverResult,
    smoke: verifier.SmokeReport,
    setup: monitoring.MonitoringSetup,
    rehearsal: verifier.Rehearsal,
) -> None:
    """The `production_deployment` record and the handoff, with the figures of the exit gate."""
    from datetime import UTC, datetime

    last = result.steps[-1]
    downtime = result.downtime_s / 60
    figures = {
        "rollback_test_pass_rate": rehearsal.pass_rate,
        "deployment_success_rate": 100.0,
        "downtime": downtime,
        "green_traffic_share": float(result.green_percent),
        "deployment_error_rate": last.error_rate,
    }
    if last.p95_ms is not None:
        figures["response_time_p95"] = round(last.p95_ms, 3)
    url = driver.url
    deployment = {
        "release_version": plan.green,
        "deployed_at": datetime.now(UTC).isoformat(),
        "production_url": url,
        "traffic_on_green_percent": float(result.green_percent),
        "canary_log": [
            {"percent": s.green_percent, "error_rate_percent": round(s.error_rate, 3),
             "p95_ms": round(s.p95_ms or 0.0, 3), "passed": s.passed} for s in result.steps
        ],
        "downtime_minutes": downtime,
        "smoke_tests": smoke.artifact(),
        "rollback": {"performed": False},
        "rollback_dry_run": rehearsal.artifact(),
    }  # fmt: skip
    deployed = run.put("production_deployment", deployment)
    keeps = (
        "production keeps running after the run: `venturegate deploy status VENTURE` shows it, "
        "`venturegate deploy stop VENTURE` stops it"
        if plan.persistent
        else "production was stopped when the run ended (production=run)"
    )
    run.put(
        "deployment_documentation",
        {
            "release_version": plan.green,
            "production_url": url,
            "dashboards": [setup.dashboard_url],
            "metrics": {"deployment_success_rate": 100.0, "downtime_minutes": downtime},
            "rollback_procedure": (
                "`venturegate deploy rollback VENTURE --reason ...` (an audited engine rollback, cause traffic_only) "
                f"sends all traffic back to blue ({plan.blue}) while stage 30 runs; with migrations use `venturegate "
                "rollback VENTURE --cause schema_changed` to restore the pre-migration backup too."
            ),
            "runbook": str(setup.rules_path),
            "known_issues": [
                keeps,
                *(f"not checked: {s}" for s in run.summary.get("routes", {}).get("not_checked", [])),
            ],
            "next_stage": 31,
        },
        [deployed],
    )
    run.record(figures, suffix=":final")
