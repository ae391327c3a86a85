"""The stage-14 scene: a venture prepares for development — its generated Dockerfile is rejected by hadolint
and sent back by the error policy, the fixed plan's environments are provisioned on the machine's
PostgreSQL and Redis and verified, EXEC attests, the team approves its RACI, and the sprint plan comes
with a Monte Carlo forecast chart.

The scene's environments live under the `vgdemo` prefix and the demo workspace's tag (its database is in
the demo folder, so two demos in two folders name different databases), and are removed at the end of the
scene (a real venture keeps them).
"""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

from rich.console import Console
from rich.markup import escape

from venturegate.crews.paths import ROOT_ENV
from venturegate.crews.runner import queue_job, run_job
from venturegate.crews.stage14 import demo, onboarding
from venturegate.crews.stage14.provision import EnvironmentRequest, LocalDriver, workspace_tag
from venturegate.engine.actors import Actor

if TYPE_CHECKING:
    from venturegate.engine import Engine

EXEC = Actor("demo-exec", "exec")
PREFIX = "vgdemo"
OPTIONS: dict[str, Any] = {"resource_prefix": PREFIX, "probe_seconds": 1.0, "probe_interval": 0.2, "solver_seconds": 3}


def _run(engine: Engine, venture: str, console: Console, label: str, **extra: Any) -> dict[str, Any]:
    from rich.progress import Progress

    job = queue_job(engine, venture, 14, {**OPTIONS, **extra}, actor=demo.LEAD)
    with Progress(console=console, transient=True) as bar:
        task = bar.add_task(label, total=None)

        def sink(step: str, done: int, total: int, message: str) -> None:
            bar.update(task, completed=done, total=total, description=f"{label}: {step} — {message}")

        finished = run_job(engine, job.id, sink=sink)
    result = finished.result or {}
    summary = dict(result.get("summary", {}))
    console.print(f"  [bold]{label}[/bold]: {finished.status} — {escape(str(summary.get('outcome', finished.error)))}")
    return {"job": finished.id, "status": finished.status, **summary, "fired": result.get("fired", [])}


def run_stage14_scene(engine: Engine, console: Console, workdir: Path) -> dict[str, Any]:
    """Run stage 14 for one venture, from a rejected Dockerfile to a completed sprint plan."""
    started = time.perf_counter()
    name = f"devprep-demo-{int(time.time())}"
    console.rule("[bold]Stage 14 — Development Preparation")
    demo.enter(engine, name, base_image="python:latest")
    vid = engine.venture(name).id
    summary: dict[str, Any] = {"venture": name}
    before = os.environ.get(ROOT_ENV)
    os.environ[ROOT_ENV] = str(workdir)  # the runs' folders: <workdir>/v<venture id>/<run id>
    try:
        first = _run(engine, name, console, "plan v1", checkov=False)  # hadolint is enough to reject it
        for f in first.get("environment", {}).get("verification", {}).get("findings", []):
            if f["blocking"]:
                console.print(f"    [red]{f['tool']} {f['rule']}[/red] {f['file']}:{f['line']} {escape(f['message'])}")
        engine.put_artifact(name, "technical_plan", demo.plan(name), actor=demo.LEAD)
        console.print("  the plan pins its base image (technical_plan v2)")
        second = _run(engine, name, console, "plan v2")
        for e in second.get("environment", {}).get("environments", []):
            console.print(f"    {e['name']}: database {e['database']}, {escape(e['redis_url'])}, service {e['url']}")
        console.print(f"    checkov {second.get('environment', {}).get('verification', {}).get('checks')}")
        engine.attest(name, "CI/CD pipeline reviewed and operational", actor=EXEC)
        third = _run(engine, name, console, "after EXEC's review")
        for m in onboarding.show(engine, name)["members"]:
            onboarding.update(engine, name, m["id"], actor=Actor(m["id"], "lead"), approve_raci=True)
        engine.attest(name, "RACI matrix reviewed with the team lead", actor=EXEC)
        console.print("  the five team members approve the RACI matrix; EXEC reviews it")
        fourth = _run(engine, name, console, "after the RACI approvals")
        sprint = fourth.get("sprint", {})
        fc = sprint.get("forecast", {})
        packed, dates = sprint.get("plan", {}), fc.get("dates", {})
        console.print(
            f"    {packed.get('sprints_used')} sprints packed ({packed.get('method')}); velocity "
            f"{sprint.get('velocity', {}).get('story_points')}; P50 {dates.get('p50')}, P85 {dates.get('p85')}, "
            f"P95 {dates.get('p95')} vs deadline {fc.get('deadline')}"
        )
        score = fourth.get("readiness", {}).get("score")
        console.print(f"    readiness {score} · forecast chart {fourth.get('out_dir')}/forecast.svg")
        summary.update(runs=[first, second, third, fourth], readiness=fourth.get("readiness", {}).get("score"))
    finally:
        if before is None:
            os.environ.pop(ROOT_ENV, None)
        else:
            os.environ[ROOT_ENV] = before
        driver = LocalDriver()
        for env in ("dev", "staging"):
            driver.teardown(EnvironmentRequest(vid, env, 0, prefix=PREFIX, workspace=workspace_tag(engine.db.url)))
    summary["seconds"] = round(time.perf_counter() - started, 1)
    return summary
