"""The stage-14 DevelopmentPrepCrew: 14.1 EnvironmentProvisioner → 14.2 TeamFormer → 14.3 SprintPlanner →
ReadinessReporter, writing only through the engine's public API (via `CrewRun`).

A run does whatever is not done yet. 14.1 is done once (its environments stay provisioned; the local
driver's service processes live as long as the run). 14.2 and 14.3 are recomputed on every run until
they are complete — they are cheap and deterministic, and keep what people already checked off. Their
completion waits on their entry checks (an EXEC attestation for 14.2, the team's RACI approvals for
14.3): the run then ends `waiting`, naming what it waits for. The readiness score is recorded from the
stored facts at the end of every run that leaves the venture in stage 14.
"""

from __future__ import annotations

import contextlib
from typing import Any

from venturegate.crews.base import AgentSpec, Crew, CrewContext, CrewHooks, CrewResult
from venturegate.crews.runtime import CrewRun, Stop
from venturegate.crews.stage14 import provision as prov
from venturegate.crews.stage14 import report, scoring
from venturegate.crews.stage14._steps import fail
from venturegate.crews.stage14.environment import EnvironmentOutcome, environment_requests, setup
from venturegate.crews.stage14.formation import form
from venturegate.crews.stage14.inputs import Inputs, read
from venturegate.crews.stage14.planning import SprintOutcome, plan
from venturegate.engine.exceptions import BadInput, GateNotPassed
from venturegate.engine.rollbacks import RollbackContext

STAGE = 14
PROVISIONED = "environments.provisioned"
"""Config key: the owner marks of the environments the crew provisioned (see `_teardown_environments`)."""


def _teardown_environments(ctx: RollbackContext) -> str:
    """`environments`: tear down what the restored configuration no longer lists as provisioned (this venture's,
    in this workspace: the marks the crew recorded in `environments.provisioned`)."""
    drop: set[str] = set()
    for change in ctx.changes:
        if change.key == PROVISIONED:
            drop |= set(_strings(change.before)) - set(_strings(change.after))
    if not drop:
        return "nothing to tear down (the restored configuration keeps every provisioned environment)"
    removed = prov.teardown_owned(sorted(drop))
    return "removed " + (", ".join(removed) if removed else "nothing (already gone)")


def _strings(value: object) -> list[str]:
    return [str(v) for v in value] if isinstance(value, list) else []


def _kept(what: str) -> Any:
    def handler(ctx: RollbackContext) -> str:
        return f"{what} (scope {ctx.scope}: nothing runs outside the configuration to undo)"

    return handler


class DevelopmentPrepCrew(Crew):
    """Stage 14: environments generated, verified and provisioned; a team with a RACI; a forecast sprint plan."""

    name = "DevelopmentPrepCrew"
    stage = STAGE
    operator_options = frozenset({"service_command"})
    agents = (
        AgentSpec("EnvironmentProvisioner", "IaC, workflow, Dockerfile, compose; linted offline; provisioned for real",
                  ("14.1",)),
        AgentSpec("TeamFormer", "Assignment by CP-SAT, RACI checked by rules, onboarding checklists", ("14.2",)),
        AgentSpec("SprintPlanner", "Backlog rules, CP-SAT sprint packing, velocity, Monte Carlo forecast", ("14.3",)),
        AgentSpec("ReadinessReporter", "Readiness score from the measured facts, report with the gate explained", ()),
    )  # fmt: skip

    def hooks(self) -> CrewHooks:
        """Rollback handlers of the stage's four scopes."""
        return CrewHooks(
            rollback={
                "environments": _teardown_environments,
                "ci_cd": _kept("the generated workflow files of every run stay on record; the last verified one is "
                               "the development_environment artifact's pipeline_url"),
                "team": _kept("team_structure keeps every version (candidate contacts and checklists preserved)"),
                "sprint_plan": _kept("the sprint plan is held: sprint_plan keeps every version"),
            }
        )  # fmt: skip

    def run(self, ctx: CrewContext) -> CrewResult:
        """Run whatever of 14.1 → 14.2 → 14.3 is not done yet, then score readiness and report."""
        run = CrewRun.begin(ctx, stage=STAGE)
        driver: prov.LocalDriver | None = None
        env_out = EnvironmentOutcome()
        inputs: Inputs | None = None
        try:
            self._check_venture(run)
            try:
                inputs = read(run.engine, run.venture, [str(e) for e in run.setting("required_environments")])
            except BadInput as exc:
                fail(run, f"{exc.message} ({exc.where})")
            if "14.1" not in run.done():
                driver = self._driver(run)
                run.summary["environment"] = env_out.__dict__
                try:
                    setup(run, inputs, env_out, driver)
                    run.complete("14.1")
                finally:
                    if "14.1" not in run.done():
                        self._teardown(driver, inputs, env_out, run)
            team = form(run, inputs, inputs.environments)
            waiting = self._complete(run, "14.2")
            sprint = SprintOutcome()
            run.summary["sprint"] = sprint.__dict__
            plan(run, inputs, team.members, sprint)
            if not waiting:
                waiting = self._complete(run, "14.3")
            if waiting:
                raise run.stop("waiting", waiting)
            run.outcome = "completed: 14.1, 14.2 and 14.3 done; the exit gate needs its attestation and EXEC approval"
        except Stop:
            pass
        finally:
            if driver is not None:
                driver.close()
            self._finish(run)
        return run.result()

    # -- parts -----------------------------------------------------------------------------------
    def _check_venture(self, run: CrewRun) -> None:
        v = run.engine.venture(run.venture)
        if v.stage != STAGE:
            raise run.stop("failed", f"the venture is at stage {v.stage}, not {STAGE}")
        if v.status != "active":
            gate = run.engine.check_gate(run.venture, "entry")
            failing = "; ".join(c.name for c in gate.checks if c.verdict != "pass")
            raise run.stop("failed", f"the venture is {v.status}" + (f" (entry gate: {failing})" if failing else ""))

    def _driver(self, run: CrewRun) -> prov.LocalDriver:
        name = str(run.ctx.options.get("provisioner", "local"))
        if name not in prov.DRIVERS:
            raise run.stop("failed", f"no provisioner driver {name!r} (drivers: {', '.join(prov.DRIVERS)})")
        command = run.ctx.options.get("service_command")
        import shlex

        return prov.DRIVERS[name](
            command=shlex.split(str(command)) if command else None,
            start_timeout=float(run.ctx.option("start_timeout", 15.0)),
        )

    def _teardown(self, driver: prov.LocalDriver, inputs: Inputs, env_out: EnvironmentOutcome, run: CrewRun) -> None:
        try:
            wanted = environment_requests(run, inputs)
        except Stop:
            return  # a prefix or name that cannot be used: nothing was provisioned under it
        for request in wanted:
            with contextlib.suppress(Exception):  # teardown must not hide why the step failed
                env_out.torn_down += driver.teardown(request)

    def _complete(self, run: CrewRun, substage: str) -> str:
        """Complete `substage` when its entry checks pass; else what it waits for (empty when done)."""
        try:
            run.complete(substage)
        except GateNotPassed as exc:
            failing = [f"{c.name} ({c.reason})" if c.reason else c.name for c in exc.result.checks
                       if c.verdict != "pass"]  # fmt: skip
            run.summary.setdefault("waiting_for", {})[substage] = failing
            return f"{substage} waits for: " + "; ".join(failing)
        return ""

    def _finish(self, run: CrewRun) -> None:
        v = run.engine.venture(run.venture)
        if v.stage == STAGE and v.status == "active" and run.summary.get("team"):
            with contextlib.suppress(Stop):
                score, fired = scoring.refresh(
                    run.engine, run.venture, actor=run.ctx.actor, key=f"{run.run_id}:readiness"
                )
                run.summary["readiness"] = score.as_dict()
                run.fired += [f"{f.trigger}: {f.detail or f.outcome}" for f in fired if f.outcome != "pending"]
        if v.stage == STAGE:
            result = run.engine.check_gate(run.venture, "exit")
            gate: dict[str, Any] = {"passed": result.passed, "checks": [c.as_dict() for c in result.checks]}
        else:
            gate = {"passed": False, "checks": [], "note": f"the venture is at stage {v.stage} now"}
        run.summary["gate_passed"] = gate["passed"]
        path = run.path("report.md")
        files = [*run.files, str(path)]
        run.write(
            "report.md", report.markdown(v.name, run.run_id, {**run.summary, "outcome": run.outcome}, gate, files)
        )
