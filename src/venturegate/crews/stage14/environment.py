"""14.1 Environment setup: generate the files, verify them offline, provision every environment for real
(with retries counted as `provisioning_failures`), probe it for `infrastructure_stability`, and store
`development_environment`.

Nothing is left half-provisioned: when an environment fails, everything this run created is torn down
before the failure is counted; when every attempt fails, the error goes to the stage's error policy.
"""

from __future__ import annotations

import json
import re
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from venturegate.crews.runtime import CrewRun
from venturegate.crews.stage14 import provision as prov
from venturegate.crews.stage14._steps import fail, record
from venturegate.crews.stage14.generate import EnvironmentPlan, Generated, GenerationError, render_all
from venturegate.crews.stage14.inputs import Inputs
from venturegate.crews.stage14.stacks import UnsupportedStack
from venturegate.crews.stage14.verify import Verification, verify

TOOLS = ("python-hcl2", "github-workflow-schema", "actionlint", "hadolint", "checkov")
"""The toolchain 14.1 needs; `tool_access_rate` is the share that ran."""
PREFIX = re.compile(r"^[a-z][a-z0-9]{0,15}$")


@dataclass
class EnvironmentOutcome:
    """What 14.1 did, for the report and the later steps."""

    generated: list[str] = field(default_factory=list)
    verification: dict[str, Any] = field(default_factory=dict)
    environments: list[dict[str, Any]] = field(default_factory=list)
    attempts: list[str] = field(default_factory=list)
    probes: dict[str, dict[str, int]] = field(default_factory=dict)
    stability: float | None = None
    torn_down: list[str] = field(default_factory=list)


def _previous(run: CrewRun, metric: str) -> float:
    now = datetime.now(UTC)
    got = run.engine.samples(run.ctx.venture, metric, since=now - timedelta(days=30), until=now, limit=1)
    return float(got[-1].value) if got else 0.0


def generate(run: CrewRun, inputs: Inputs, outcome: EnvironmentOutcome) -> Generated:
    """Render the files into `<run folder>/environment` (errors go to the error policy)."""
    try:
        stack = inputs.stack()
    except UnsupportedStack as exc:
        fail(run, f"technical_plan.tech_stack: {exc}")
    coverage = int(run.setting("ci_cd_pipeline_coverage_min"))
    envs = [
        EnvironmentPlan(r.name, r.database, "redis://127.0.0.1:6379/(allocated)")
        for r in environment_requests(run, inputs)
    ]
    templates = run.ctx.options.get("templates_dir")
    try:
        generated = render_all(
            run.out / "environment",
            venture_label=inputs.venture_name,
            stack=stack,
            service=inputs.service(stack),
            environments=envs,
            coverage_min=coverage,
            templates=Path(str(templates)) if templates else None,
        )
    except GenerationError as exc:
        fail(run, f"generated files rejected: technical_plan.service: {exc}")
    outcome.generated = [str(p) for p in generated.paths()]
    run.files += outcome.generated
    return generated


def _prefix(run: CrewRun) -> str:
    prefix = str(run.ctx.options.get("resource_prefix", "vg"))
    if not PREFIX.match(prefix):
        raise run.stop("failed", f"option resource_prefix={prefix!r} must match {PREFIX.pattern}")
    return prefix


def environment_requests(run: CrewRun, inputs: Inputs) -> list[prov.EnvironmentRequest]:
    """What 14.1 provisions for the venture: one request per environment, named in this workspace."""
    developers = max(1, len(inputs.people))
    try:
        health = inputs.service(inputs.stack()).health_path
    except UnsupportedStack:
        health = "/health"  # generate() reports the stack; a teardown needs only the names
    workspace = prov.workspace_tag(run.engine.db.url)
    try:
        return [
            prov.EnvironmentRequest(inputs.venture_id, e, developers, health, _prefix(run), workspace)
            for e in inputs.environments
        ]
    except ValueError as exc:
        raise run.stop("failed", str(exc)) from None


def enforced_coverage(workflow: Path) -> float:
    """The coverage minimum the generated workflow enforces (read back from the file)."""
    text = workflow.read_text(encoding="utf-8")
    found = re.search(r"--cov-fail-under=(\d+)|--lines (\d+)|COVERAGE_MIN: \"(\d+)\"", text)
    return float(next(g for g in found.groups() if g)) if found else 0.0


def setup(
    run: CrewRun, inputs: Inputs, outcome: EnvironmentOutcome, driver: prov.ProvisionerDriver
) -> list[prov.Provisioned]:
    """All of 14.1; returns the running environments (the caller closes the driver)."""
    ctx = run.ctx
    started = time.perf_counter()
    run.step("14.1 EnvironmentProvisioner", 0, 4, "generating IaC, workflow, Dockerfile, compose")
    generated = generate(run, inputs, outcome)
    run.step("14.1 EnvironmentProvisioner", 1, 4, "verifying with hcl2, checkov, actionlint, hadolint")
    checked = verify(generated, checkov=bool(ctx.option("checkov", True)))
    outcome.verification = checked.as_dict()
    run.write("environment-verification.json", json.dumps(outcome.verification, indent=2))
    # checkov=false (an operator's option) drops the policy scan from the required toolchain; the report says so.
    toolchain = [t for t in TOOLS if t != "checkov" or ctx.option("checkov", True)]
    ran = [t for t in toolchain if t in checked.ran]
    tools = {
        "tool_access_rate": round(100.0 * len(ran) / len(toolchain), 2),
        "incompatible_tools": float(len(toolchain) - len(ran)),
    }
    workflow = generated.files["workflow"][0]
    if not checked.ok:
        _reject(run, checked, tools)
    run.step("14.1 EnvironmentProvisioner", 2, 4, f"provisioning {', '.join(inputs.environments)}")
    envs = _provision(run, inputs, outcome, driver)
    run.step("14.1 EnvironmentProvisioner", 3, 4, "probing the environments")
    seconds = float(ctx.option("probe_seconds", 3.0))
    interval = float(ctx.option("probe_interval", 0.25))
    outcome.probes = prov.probe_window(driver, envs, seconds=seconds, interval=interval)
    sent = sum(c["sent"] for c in outcome.probes.values())
    ok = sum(c["ok"] for c in outcome.probes.values())
    outcome.stability = round(100.0 * ok / sent, 3) if sent else 0.0
    required = [e for e in run.setting("required_environments")]
    ready = [e.name for e in envs if outcome.probes[e.name]["ok"] > 0]
    dev = next((e for e in envs if e.name == "dev"), envs[0])
    developers = max(1, len(inputs.people))
    smoke_failed = 0 if all(outcome.probes[e.name]["ok"] > 0 for e in envs) else 1
    record(
        run,
        {
            **tools,
            "ci_cd_critical_test_failures": float(smoke_failed),
            "ci_cd_consecutive_failures": 0.0 if not smoke_failed else _previous(run, "ci_cd_consecutive_failures") + 1,
            "ci_cd_pipeline_coverage": enforced_coverage(workflow),
            "infrastructure_stability": outcome.stability,
            "required_environments_ready": round(
                100.0 * len([e for e in required if e in ready]) / max(1, len(required)), 2
            ),
            "dev_environment_access_rate": round(100.0 * min(dev.logins_verified, developers) / developers, 2),
            "environment_setup_duration": round((time.perf_counter() - started) / 86400, 6),
        },
    )
    now = datetime.now(UTC).isoformat()
    content = {
        "venture_id": str(inputs.venture_id),
        "environments": [
            {"name": e.name, "status": "ready" if e.name in ready else "degraded", "url": e.url,
             "database": e.database, "iac_ref": str(Path(outcome.generated[0]).parent.parent / e.name / "main.tf"),
             "provisioned_at": now}
            for e in envs
        ],
        "ci_cd": {
            "provider": "github_actions",
            "pipeline_url": str(workflow),
            "stages": ["lint", "build", "test", "deploy"],
            "coverage_percent": enforced_coverage(workflow),
            "last_run_status": "passed" if not smoke_failed else "failed",
        },
        "tools": [{"name": t, "category": "other", "reachable": t in ran, "sso": False} for t in toolchain],
        "monitoring": {"enabled": True, "dashboard_url": str(run.out / "environment-verification.json")},
        "access": {"developers_total": developers, "developers_with_access": min(dev.logins_verified, developers)},
    }  # fmt: skip
    run.put("development_environment", content, derived=list(inputs.refs))
    if smoke_failed:
        fail(run, "provisioning failed: an environment never answered its health probe during the window")
    return envs


def _reject(run: CrewRun, checked: Verification, tools: dict[str, float]) -> None:
    blocking = checked.blocking
    record(
        run,
        {
            **tools,
            "ci_cd_critical_test_failures": float(len(blocking)),
            "ci_cd_consecutive_failures": _previous(run, "ci_cd_consecutive_failures") + 1,
        },
    )
    first = "; ".join(str(f) for f in blocking[:3])
    fail(run, f"generated files rejected ({len(blocking)} blocking findings): {first}")


def _provision(
    run: CrewRun, inputs: Inputs, outcome: EnvironmentOutcome, driver: prov.ProvisionerDriver
) -> list[prov.Provisioned]:
    attempts = int(run.setting("infrastructure_failure_max_attempts"))
    backoff = float(run.ctx.option("retry_backoff", 1.0))
    wanted = environment_requests(run, inputs)
    last = ""
    for attempt in range(1, attempts + 1):
        run.ctx.checkpoint()
        made: list[prov.Provisioned] = []
        try:
            for req in wanted:
                made.append(driver.provision(req))
        except prov.ProvisionError as exc:
            last = str(exc)
            for req in wanted:
                outcome.torn_down += driver.teardown(req)
            outcome.attempts.append(f"attempt {attempt}: {last}")
            if attempt < attempts:
                record(run, {"provisioning_failures": float(attempt)}, suffix=f":attempt{attempt}")
                time.sleep(backoff * 2 ** (attempt - 1))
            else:  # the last one: the triggers (DEV-001, DEV-RB-1) judge it, then the error policy owns it
                run.record({"provisioning_failures": float(attempt)}, suffix=f":attempt{attempt}")
            continue
        outcome.attempts.append(f"attempt {attempt}: ready")
        outcome.environments = [e.as_dict() for e in made]
        # What a rollback of the `environments` scope tears down: exactly these, recorded as a config version.
        known = [str(o) for o in run.setting("environments.provisioned") or []]
        marks = known + [r.owner for r in wanted if r.owner not in known]
        if marks != known:
            run.engine.set_config(
                run.venture, "environments.provisioned", marks, actor=run.ctx.actor,
                reason=f"stage-14 environments provisioned ({run.run_id})",
            )  # fmt: skip
        record(run, {"provisioning_failures": 0.0}, suffix=f":attempt{attempt}")
        return made
    fail(run, f"provisioning failed after {attempts} attempts: {last}")
