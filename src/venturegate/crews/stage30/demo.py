"""The stage-30 demo: a release that fails under load is rolled back by DEPLOY-002, the fixed one goes live.

One venture at stage 30, its release candidate, deployment plan and rollback strategy stored. The crew
runs four times, as an operator would run it:

1. 30.1 validates (production's health, a dependency) and asks the Chairman to approve release 2.0.0;
   the run ends `waiting`. The Chairman approves.
2. The cutover starts under 200 req/s of loopback traffic; green fails 10% of its requests, the
   RollbackCoordinator moves all traffic back to blue and DEPLOY-002 rolls back through the engine.
3. Release 2.0.1 (fixed) is recorded with its deployment plan; the approval of 2.0.0 does not cover it, so
   the Chairman is asked again and approves.
4. 2.0.1 goes 10 → 50 → 100 with zero failed requests, passes smoke tests, monitoring setup and the
   rollback rehearsal, and DEPLOY-004 advances the venture to stage 31 with its handoff.

The persistence window is set to 1 s and each canary step watched 1.5 s so that the demo takes
seconds; both changes are recorded in the venture's configuration history like any other.
"""

from __future__ import annotations

import time
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from rich.console import Console

from venturegate.crews.runner import queue_job, run_job
from venturegate.engine.actors import Actor

if TYPE_CHECKING:
    from venturegate.engine import Engine

LEAD = Actor("demo-lead", "lead")
CHAIRMAN = Actor("demo-chairman", "chairman")
OPTIONS: dict[str, Any] = {
    "soak_seconds": 1.5,
    "window_seconds": 1.0,
    "sample_interval": 0.05,
    "probe_interval": 0.05,
    "load_rate": 200,
    "health_check_interval": 0.2,
    "production": "run",
}


def release(version: str, commit: str) -> dict[str, Any]:
    """A release candidate artifact for the demo service."""
    return {
        "version": version,
        "commit": commit,
        "build_ref": "venturegate/crews/stage30/demo_service.py",
        "changelog": "demo release",
        "approval": {"approved_by": LEAD.name, "role": "lead", "approved_at": datetime.now(UTC).isoformat()},
        "tests_passed": True,
        "migrations": [],
    }


PLAN = {
    "release_version": "2.0.0",
    "platform": "local",
    "health_checks": [{"name": "api", "url": "{production}/health"}],
    "dependencies": [{"name": "PATH", "kind": "env_var"}],
    "backups": {"database": False, "files": False},
    "canary": {"steps": [10, 50, 100]},
}
STRATEGY = {
    "blue_environment": "blue (the running release 1.9.0)",
    "types": [{"type": "traffic", "max_minutes": 1, "expected_downtime_minutes": 0}],
    "triggers": ["error rate above 5% for the persistence window", "p95 above 500 ms", "smoke tests fail"],
}


def _run(engine: Engine, venture: str, console: Console, label: str, out: Path, **extra: Any) -> dict[str, Any]:
    from rich.progress import Progress

    options = {**OPTIONS, "out_dir": str(out), "blue_version": "1.9.0", **extra}
    job = queue_job(engine, venture, 30, options, actor=LEAD)
    with Progress(console=console, transient=True) as bar:
        task = bar.add_task(label, total=None)

        def sink(step: str, done: int, total: int, message: str) -> None:
            bar.update(task, completed=done, total=total, description=f"{label}: {step} {message}")

        finished = run_job(engine, job.id, sink=sink, output_root=out.parent)  # the demo's folder is the root
    result = finished.result or {}
    return {"job": finished.id, "status": finished.status, "error": finished.error, **result.get("summary", {}),
            "fired": result.get("fired", [])}  # fmt: skip


def _approve(engine: Engine, venture: str, console: Console, why: str) -> None:
    pending = [a for a in engine.approvals(venture, "pending") if a.role == "chairman"]
    for a in pending:
        engine.decide_approval(a.id, True, actor=CHAIRMAN, reason=why)
        release_name = (a.payload or {}).get("release")
        console.print(f"  [green]Chairman approved[/green] #{a.id} (release {release_name}): {why}")


def run_stage30_demo(engine: Engine, console: Console, workdir: Path | None = None) -> dict[str, Any]:
    """Deploy a bad release (rolled back) and a fixed one (advanced to 31) on one venture; returns what happened."""
    started = time.perf_counter()
    out = workdir or Path(".venturegate") / "stage30-demo"
    name = f"deploy-demo-{int(time.time())}"
    console.rule("[bold]Stage 30 — Production Deployment")
    engine.create_venture(name, "b2b_smb", 30, actor=LEAD)
    engine.put_artifact(name, "release_candidate", release("2.0.0", "a1b2c3d"), actor=LEAD)
    engine.put_artifact(name, "deployment_plan", PLAN, actor=LEAD)
    engine.put_artifact(name, "rollback_strategy", STRATEGY, actor=LEAD)
    engine.set_config(name, "rollback.error_rate_duration", "1s", actor=LEAD, reason="demo: 1 s instead of 2 min")
    engine.set_progression(30, "auto", actor=LEAD, venture=name)
    summary: dict[str, Any] = {"venture": name}

    first = _run(engine, name, console, "2.0.0 validation", out / "1-validate")
    console.print(f"  30.1 validation: {first.get('outcome')}")
    _approve(engine, name, console, "release 2.0.0 reviewed")

    bad = _run(engine, name, console, "2.0.0 cutover", out / "2-bad", green_error_rate=0.1)
    summary["bad"] = bad
    rb = bad.get("rollback") or {}
    cut = (bad.get("cutover") or {}).get("rollback") or {}
    traffic = bad.get("traffic") or {}
    console.print(f"  [red]rolled back[/red]: {rb.get('reason')}")
    console.print(
        f"  decision → all traffic on blue in {1000 * float(cut.get('drain_s', 0)):.1f} ms; "
        f"after the rollback {traffic.get('requests_after_rollback')} requests, "
        f"{traffic.get('failed_after_rollback')} failed"
    )
    for r in rb.get("engine_rollbacks", []):
        by = f"trigger {r['trigger']}" if r["trigger"] else f"the crew, cause {r['cause']}"
        console.print(f"  engine rollback #{r['id']} by {by}: {r['outcome']} (scope {', '.join(r['scope'])})")

    engine.put_artifact(name, "release_candidate", release("2.0.1", "d4e5f6a"), actor=LEAD)
    engine.put_artifact(name, "deployment_plan", {**PLAN, "release_version": "2.0.1"}, actor=LEAD)
    asked = _run(engine, name, console, "2.0.1 approval", out / "3-approval")
    console.print(f"  2.0.1: {asked.get('outcome')}")
    _approve(engine, name, console, "fix for the 500s reviewed")
    good = _run(engine, name, console, "2.0.1 cutover", out / "4-good")
    summary["good"] = good
    for step in (good.get("cutover") or {}).get("steps", []):
        console.print(
            f"  {step['green_percent']:>3}% on green: {step['green_requests']} requests, "
            f"{step['green_failed']} failed, p95 {step['p95_ms'] or 0:.1f} ms, "
            f"routes {', '.join(r['route'] for r in step['routes'])}"
        )
    console.print(
        f"  failed requests during the whole cutover: {(good.get('traffic') or {}).get('failed_requests')}; "
        f"smoke {good.get('smoke', {}).get('passed')}/{good.get('smoke', {}).get('total')}, "
        f"rehearsal {good.get('rehearsal', {}).get('pass_rate')}%"
    )
    v = engine.venture(name)
    console.print(f"  {good.get('outcome')} — {name} is at stage {v.stage}")
    summary["stage"] = v.stage
    summary["seconds"] = round(time.perf_counter() - started, 1)
    return summary
