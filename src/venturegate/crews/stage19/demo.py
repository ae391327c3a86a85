"""The stage-19 demo: the crew against a defective provider (defects found, INTEGRATION-001 sends the venture
back to 19.1), then against the fixed provider (the exit gate passes and the venture advances).
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

from rich.console import Console

from venturegate.crews.paths import ROOT_ENV
from venturegate.crews.runner import queue_job, run_job
from venturegate.crews.stage19.demo_target import DEMO_TOKEN, Defects, DemoTarget
from venturegate.engine.actors import Actor
from venturegate.engine.secrets import host_port

if TYPE_CHECKING:
    from venturegate.engine import Engine

TOKEN_ENV = "VENTUREGATE_DEMO_PROVIDER_TOKEN"
LEAD = Actor("demo-lead", "lead")
DEFECTIVE = Defects(wrong_shape=True, error_500=True, rate_limit_per_sec=40, expire_token=True)
"""The demo's defects (the latency switch is left to the tests: it would only slow the demo down)."""
OPTIONS: dict[str, Any] = {
    "max_examples": 8,
    "load_test.constant_duration": 1.0,
    "load_test.constant_ramp_up": 0,
    "load_test.ramp_step_duration": 1.0,
    "load_test.spike_duration": 1.5,
    "load_test.spike_repeats": 1,
    "probe_seconds": 1.0,
    "hold_seconds": 2.0,
    "max_seconds": 10.0,
}
"""Crew options that keep the demo short: each overrides the stage parameter of its name (the report lists them)."""


def requirements(base_url: str) -> dict[str, Any]:
    """The integration_requirements artifact for one demo provider at `base_url`."""
    return {
        "integrations": [
            {
                "name": "catalog",
                "provider": "Demo provider",
                "type": "catalog",
                "criticality": "high",
                "base_url": base_url,
                "openapi_spec": f"{base_url}/openapi.json",
                "auth": {"type": "bearer"},
                "rate_limit_req_sec": 200,
                "timeout_ms": 2000,
            }
        ]
    }


def put_inputs(engine: Engine, venture: str | int, base_url: str, actor: Actor = LEAD) -> None:
    """Store the three stage-19 inputs for the demo provider (the token is a reference to TOKEN_ENV).

    `actor` (a person) also grants the venture TOKEN_ENV and approves the provider's host:port.
    """
    why = "the demo provider's sandbox token"
    engine.set_config(venture, "secrets.allowed_env", [TOKEN_ENV], actor=actor, reason=why)
    engine.set_config(venture, "secrets.approved_hosts", [host_port(base_url)], actor=actor, reason=why)
    engine.put_artifact(venture, "integration_requirements", requirements(base_url), actor=actor)
    engine.put_artifact(
        venture,
        "api_documentation",
        {"specs": [{"integration": "catalog", "format": "openapi-3.1", "location": f"{base_url}/openapi.json"}]},
        actor=actor,
    )
    engine.put_artifact(
        venture,
        "test_accounts",
        {
            "accounts": [
                {"integration": "catalog", "environment": "sandbox", "credentials": {"token": {"env": TOKEN_ENV}}}
            ]
        },
        actor=actor,
    )


@contextmanager
def _token() -> Iterator[None]:
    before = os.environ.get(TOKEN_ENV)
    os.environ[TOKEN_ENV] = DEMO_TOKEN
    try:
        yield
    finally:
        if before is None:
            os.environ.pop(TOKEN_ENV, None)
        else:
            os.environ[TOKEN_ENV] = before


@contextmanager
def _crew_root(workdir: Path | None) -> Iterator[None]:
    """Write the demo's runs under `workdir` (the crew root) when one is given."""
    before = os.environ.get(ROOT_ENV)
    if workdir is not None:
        os.environ[ROOT_ENV] = str(workdir)
    try:
        yield
    finally:
        if before is None:
            os.environ.pop(ROOT_ENV, None)
        else:
            os.environ[ROOT_ENV] = before


def _run(engine: Engine, venture: str, console: Console, label: str, out: Path) -> dict[str, Any]:
    from rich.progress import Progress

    job = queue_job(engine, venture, 19, {**OPTIONS, "out_dir": out.as_posix()}, actor=LEAD)  # under the crew root
    with Progress(console=console, transient=True) as bar:
        task = bar.add_task(label, total=None)

        def sink(step: str, done: int, total: int, message: str) -> None:
            bar.update(task, completed=done, total=total, description=f"{label}: {step} — {message}")

        finished = run_job(engine, job.id, sink=sink)
    result = finished.result or {}
    return {
        "job": finished.id,
        "status": finished.status,
        "error": finished.error,
        **result.get("summary", {}),
        "fired": result.get("fired", []),
        "artifacts": result.get("artifacts", []),
    }


def run_stage19_demo(engine: Engine, console: Console, workdir: Path | None = None) -> dict[str, Any]:
    """Run stage 19 twice on one venture (defective provider, then fixed); returns what happened."""
    started = time.perf_counter()
    out = Path("stage19-demo")  # relative to the crew root (`workdir`, else the default root), never the cwd
    name = f"integrations-demo-{int(time.time())}"
    engine.create_venture(name, "b2b_smb", 19, actor=LEAD)
    summary: dict[str, Any] = {"venture": name}
    console.rule("[bold]Stage 19 — Tri-Party Integration Verification")
    with _token(), _crew_root(workdir):
        with DemoTarget(DEFECTIVE).running() as bad:
            put_inputs(engine, name, bad.base_url)
            console.print(f"Defective provider at {bad.base_url} (wrong shape, 500s, rate limit, expiring token)")
            first = _run(engine, name, console, "defective", out / "defective")
        summary["defective"] = first
        for failure in first.get("failures", []):
            console.print(f"  [red]defect[/red] {failure}")
        for fired in first.get("fired", []):
            console.print(f"  [yellow]trigger[/yellow] {fired}")
        console.print(f"  outcome: {first.get('outcome')}  (report: {first.get('out_dir')}/report.md)")
        with DemoTarget(Defects()).running() as good:
            put_inputs(engine, name, good.base_url)
            console.print(f"Fixed provider at {good.base_url}")
            second = _run(engine, name, console, "fixed", out / "fixed")
        summary["fixed"] = second
        console.print(f"  outcome: {second.get('outcome')}  (report: {second.get('out_dir')}/report.md)")
    gate = engine.check_gate(name, "exit")
    summary["gate_passed"] = gate.passed
    for check in gate.checks:
        mark = "[green]pass[/green]" if check.verdict == "pass" else f"[red]{check.verdict}[/red]"
        console.print(f"  {mark} {check.name}: {check.observed}")
    if gate.passed:
        v = engine.advance(name, actor=LEAD, expected_stage=19)
        console.print(f"  [green]exit gate passed[/green]: {name} advanced to stage {v.stage}")
    summary["stage"] = engine.venture(name).stage
    summary["seconds"] = round(time.perf_counter() - started, 1)
    return summary
