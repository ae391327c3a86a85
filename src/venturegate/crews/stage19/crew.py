"""The Integration Verification crew: 19.1 APITester → 19.2 PerformanceAnalyzer → 19.3 FallbackConfigurator →
IntegrationReporter, writing samples, artifacts, substage completions and errors through the engine only.

The run stops as soon as the data sends the venture back (a recursion trigger acted, or the error
policy recursed or escalated): the report then says where it stopped and why.
"""

from __future__ import annotations

import contextlib
import json
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from venturegate.core.durations import parse_duration
from venturegate.core.error_policy import info_from
from venturegate.crews.base import AgentSpec, Crew, CrewContext, CrewResult
from venturegate.crews.paths import output_folder
from venturegate.crews.stage19 import pytest_module
from venturegate.crews.stage19._http import Client, Interrupted
from venturegate.crews.stage19.apitester import IntegrationResult, _example_body, _find_crud, run_apitester
from venturegate.crews.stage19.inputs import Credentials, Inputs, read_inputs
from venturegate.crews.stage19.reporter import Report, write_report
from venturegate.engine.errors import BadInput
from venturegate.engine.samples import SampleIn

STAGE = 19


class Stop(Exception):
    """The data sent the venture back; the run ends here."""


@dataclass
class _Run:
    ctx: CrewContext
    run_id: str
    out: Path
    started: float = field(default_factory=time.perf_counter)
    artifacts: list[str] = field(default_factory=list)
    fired: list[str] = field(default_factory=list)
    files: list[str] = field(default_factory=list)
    tests: list[IntegrationResult] = field(default_factory=list)
    perf: list[dict[str, Any]] = field(default_factory=list)
    fallbacks: list[dict[str, Any]] = field(default_factory=list)
    outcome: str = "completed"
    p95_sla: float | None = None

    @property
    def engine(self) -> Any:
        return self.ctx.engine

    def record(self, values: dict[str, float]) -> None:
        """Record samples (idempotent per run) and stop when a trigger sent the venture back."""
        batch = [SampleIn(self.ctx.venture, m, v, key=f"{self.run_id}:{m}") for m, v in values.items()]
        got = self.engine.record_samples(batch, actor=self.ctx.actor)
        acted = [f for f in got.fired if f.kind in ("recursion", "rollback") and f.outcome != "pending"]
        self.fired += [f"{f.trigger}: {f.detail or f.outcome}" for f in got.fired if f.outcome != "pending"]
        if acted:
            self.outcome = "recursed: " + "; ".join(f"{f.trigger} {f.detail or f.outcome}" for f in acted)
            raise Stop(self.outcome)

    def put(self, name: str, content: dict[str, Any], derived: list[str]) -> str:
        art = self.engine.put_artifact(self.ctx.venture, name, content, actor=self.ctx.actor, derived_from=derived)
        ref = f"{art.name}@{art.version}"
        self.artifacts.append(ref)
        return ref

    def write(self, name: str, text: str) -> Path:
        path = self.out / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
        self.files.append(str(path))
        return path

    def complete(self, substage: str) -> None:
        self.engine.complete_substage(self.ctx.venture, substage, actor=self.ctx.actor)

    def error(self, message: str) -> None:
        """A finding the error policy owns (latency SLA, a breaker that did not open): recover or stop."""
        got = self.engine.handle_error(self.ctx.venture, STAGE, info_from(message=message), actor=self.ctx.actor)
        if not got.resolved:
            self.outcome = f"{got.record.status}: {got.record.rule_id} {got.record.resolution}"
            raise Stop(self.outcome)

    def setting(self, key: str) -> Any:
        return self.engine.setting(self.ctx.venture, key).value


def _seconds(value: Any) -> float:
    return parse_duration(value) if isinstance(value, str) else float(value)


class IntegrationVerificationCrew(Crew):
    """Stage 19: verify every third-party integration from its OpenAPI spec — tests, load, fallbacks, report."""

    name = "IntegrationVerificationCrew"
    stage = STAGE
    agents = (
        AgentSpec(
            "APITester", "Property-based API tests, CRUD data flows and error handling per integration", ("19.1",)
        ),
        AgentSpec(
            "PerformanceAnalyzer", "Open-loop constant, ramp and spike load; latency, throughput, limits", ("19.2",)
        ),
        AgentSpec(
            "FallbackConfigurator", "Retry policies and circuit breakers from the profile, proven by faults", ("19.3",)
        ),
        AgentSpec("IntegrationReporter", "One report with the exit gate's explanation, charts and files", ()),
    )

    def run(self, ctx: CrewContext) -> CrewResult:
        """Run 19.1 → 19.2 → 19.3 and the report; stops early when the data sends the venture back."""
        stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S%f")
        run_id = f"job-{ctx.job_id}" if ctx.job_id is not None else f"run-{stamp}"
        base_dir = Path(str(ctx.options.get("base_dir", "."))).resolve()
        venture_id = ctx.engine.venture(ctx.venture).id  # the folder is named from ids, never the venture's name
        out = output_folder(ctx.output_root, ctx.options, venture_id, run_id)
        run = _Run(ctx, run_id, out)
        try:
            inputs = self._inputs(run, base_dir)
            if inputs is not None:
                self._steps(run, inputs)
        except Stop:
            pass
        finally:
            if run.outcome != "completed" or ctx.options.get("report", True):
                self._report(run)
        status = "completed" if run.outcome == "completed" else "recursed"
        if run.outcome.startswith(("escalated", "aborted", "failed")):
            status = "failed"
        return CrewResult(
            status,
            {"outcome": run.outcome, "run_id": run_id, "out_dir": str(out), **self._figures(run)},
            tuple(run.artifacts),
            tuple(run.fired),
            tuple(run.files),
        )

    # -- steps ---------------------------------------------------------------------------------
    def _inputs(self, run: _Run, base_dir: Path) -> Inputs | None:
        try:
            inputs = read_inputs(run.engine, run.ctx.venture, base_dir)
            for creds in inputs.credentials.values():
                for name in creds.refs:
                    creds.get(name)  # resolve every reference up front: a missing secret fails before any call
        except BadInput as exc:
            # E19-TEST-CONFIG (a missing account or unresolvable reference) escalates; other bad input too.
            run.error(f"{exc.message} ({exc.where})")
            return None
        return inputs

    def _steps(self, run: _Run, inputs: Inputs) -> None:
        ctx = run.ctx
        n = len(inputs.integrations)
        total = 3 * n + 1
        current: dict[str, Credentials] = {}
        run.engine.register_credentials_hook(STAGE, lambda _ctx: current["c"].refresh())
        max_examples = int(ctx.option("max_examples", 10))
        # 19.1 ------------------------------------------------------------------------------------
        for k, integ in enumerate(inputs.integrations):
            ctx.checkpoint()
            ctx.progress("19.1 APITester", k, total, f"testing {integ.name}")
            current["c"] = inputs.credentials[integ.name]
            client = Client(ctx, integ, inputs.credentials[integ.name])
            try:
                run.tests.append(
                    run_apitester(
                        client, inputs.specs[integ.name], max_examples=max_examples, checkpoint=ctx.checkpoint
                    )
                )
            except Interrupted as exc:
                run.outcome = f"{exc.status}: {exc}"
                raise Stop(run.outcome) from exc
            finally:
                client.close()
        results = [t.as_dict() for t in run.tests]
        run.write("integration-test-report.json", json.dumps(results, indent=2, default=str))
        flows = {}
        for integ in inputs.integrations:
            crud = _find_crud(inputs.specs[integ.name])
            if crud is not None:
                flows[integ.name] = (*crud, _example_body(inputs.specs[integ.name], crud[0], "post"))
        module = pytest_module.render(
            [(i, inputs.credentials[i.name], inputs.specs[i.name]) for i in inputs.integrations],
            flows,
            max_examples=max_examples,
        )
        run.write("test_integrations.py", module)
        tests_total = sum(len(t.tests) for t in run.tests)
        passed = sum(sum(t.tests) for t in run.tests)
        rate = round(100.0 * passed / tests_total, 2) if tests_total else 0.0
        documented = sum(t.documented_operations for t in run.tests)
        coverage = round(100.0 * sum(t.covered_operations for t in run.tests) / documented, 2) if documented else 0.0
        results_ref = self._results_artifact(run, inputs, rate, coverage, None)
        run.record({"integration_success_rate": rate, "endpoint_test_coverage": coverage})
        run.complete("19.1")
        # 19.2 ------------------------------------------------------------------------------------
        from venturegate.crews.stage19.performance import LoadPlan, analyze, limits_markdown

        plan = self._plan(run)
        run.p95_sla = plan.p95_sla_ms
        perf = {}
        for k, integ in enumerate(inputs.integrations):
            ctx.checkpoint()
            ctx.progress("19.2 PerformanceAnalyzer", n + k, total, f"load on {integ.name}")
            headers = Client(ctx, integ, inputs.credentials[integ.name]).auth_headers()
            perf[integ.name] = analyze(integ, inputs.specs[integ.name], headers, plan)
        run.perf = [p.summary() for p in perf.values()]
        limits = run.write("api-limits.md", limits_markdown(list(perf.values())))
        p95 = max(p.p95_ms for p in perf.values())
        retry = self._retry(run)
        run.put(
            "api_configurations",
            {
                "snapshot": f"api_config_{run.run_id}",
                "integrations": [
                    {
                        "name": i.name,
                        "base_url": i.base_url,
                        "timeout_ms": i.timeout_ms,
                        "rate_limit_req_sec": _measured_rate(perf[i.name].limits, i.rate_limit_req_sec),
                        "limits_doc": str(limits),
                        "retry": retry,
                    }
                    for i in inputs.integrations
                ],
            },
            inputs.artifact_refs,
        )
        self._results_artifact(run, inputs, rate, coverage, perf, derived=[results_ref])
        assert isinstance(LoadPlan, type)
        run.record(
            {
                "latency_p95": round(p95, 3),
                "throughput": min(p.sustained_rate for p in perf.values()),
                "api_reliability": min(p.reliability for p in perf.values()),
                "api_error_rate": max(p.error_rate for p in perf.values()),
            }
        )
        if p95 >= plan.p95_sla_ms:
            run.error(f"latency SLA missed: p95 {p95:.0f} ms exceeds {plan.p95_sla_ms:.0f} ms")
        run.complete("19.2")
        # 19.3 ------------------------------------------------------------------------------------
        from venturegate.crews.stage19.configurator import configure

        ctx.checkpoint()
        ctx.progress("19.3 FallbackConfigurator", 2 * n, total, "generating and proving fallbacks")
        config = {s.key: s.value for s in run.engine.config(ctx.venture)}
        fb = configure(inputs.integrations, inputs.specs, perf, config, run.out)
        run.files += [str(p) for p in fb.files.values()]
        run.fallbacks = list(fb.strategies["integrations"])
        run.put("fallback_strategies", fb.strategies, [f"api_configurations@{_version(run, 'api_configurations')}"])
        run.record(
            {
                "fallback_coverage": fb.coverage,
                "circuit_breaker_test_pass_rate": fb.proof_pass_rate,
                "circuit_breaker_activations": float(fb.activations),
            }
        )
        failed = [name for name, proof in fb.proofs.items() if not proof.passed]
        if failed:
            run.error(f"circuit breaker of {', '.join(failed)} did not open and reset as configured")
        run.complete("19.3")
        ctx.progress("IntegrationReporter", total - 1, total, "writing the report")

    def _results_artifact(
        self,
        run: _Run,
        inputs: Inputs,
        rate: float,
        coverage: float,
        perf: dict[str, Any] | None,
        derived: list[str] | None = None,
    ) -> str:
        items = []
        for t in run.tests:
            item: dict[str, Any] = {
                "name": t.name,
                "tests_total": len(t.tests),
                "tests_passed": sum(t.tests),
                "data_flows_verified": t.data_flows_verified,
                "error_handling": t.error_handling,
                "reports": [f for f in run.files if f.endswith((".json", ".py"))],
            }
            if perf is not None and t.name in perf:
                p = perf[t.name]
                observed = (p.limits.get("observed") or {}).get("first_429_at_req_sec")
                item["performance"] = {
                    "latency_p95_ms": p.p95_ms,
                    "latency_p99_ms": p.p99_ms,
                    "throughput_req_sec": p.sustained_rate,
                    **({"rate_limit_observed_req_sec": float(observed)} if observed is not None else {}),
                }
            items.append(item)
        content = {
            "run_id": run.run_id,
            "executed_at": datetime.now(UTC).isoformat(),
            "summary": {
                "tests_total": sum(len(t.tests) for t in run.tests),
                "tests_passed": sum(sum(t.tests) for t in run.tests),
                "success_rate": rate,
                "endpoint_coverage": coverage,
            },
            "integrations": items,
        }
        return run.put("integration_test_results", content, derived or inputs.artifact_refs)

    def _plan(self, run: _Run) -> Any:
        from venturegate.crews.stage19.performance import LoadPlan

        o = run.ctx.option
        steps = run.setting("load_test.ramp_steps_req_sec")
        ramp = tuple(float(x) for x in steps) if isinstance(steps, list) and steps else (50.0, 100.0, 150.0)
        step = float(o("step_seconds", 1.0))
        return LoadPlan(
            constant_rate=float(o("constant_rate", 20.0)),
            constant_seconds=float(o("constant_seconds", 2.0)),
            ramp_rates=ramp,
            step_seconds=step,
            spike_base=ramp[0],
            spike_peak=float(o("spike_peak", 2 * ramp[-1])),
            spike_seconds=3 * step,
            max_requests=int(o("max_requests", 5000)),
            max_seconds=float(o("max_seconds", 30.0)),
            p95_sla_ms=float(run.setting("sla_targets.latency_p95_ms")),
            error_rate_sla=float(run.setting("sla_targets.error_rate_percentage")),
            required_rate=float(run.setting("sla_targets.throughput_req_sec")),
        )

    def _retry(self, run: _Run) -> dict[str, Any]:
        return {
            "max_retries": int(run.setting("retry_logic.default.max_retries")),
            "base_delay_ms": round(_seconds(run.setting("retry_logic.default.base_delay")) * 1000),
            "multiplier": 2.0,
        }

    # -- report --------------------------------------------------------------------------------
    def _report(self, run: _Run) -> None:
        v = run.engine.venture(run.ctx.venture)
        if v.stage == STAGE:
            result = run.engine.check_gate(run.ctx.venture, "exit")
            gate = {"passed": result.passed, "checks": [c.as_dict() for c in result.checks]}
        else:  # the venture left stage 19 (advanced or sent back): its last stage-19 gate is in the events
            gate = {"passed": False, "checks": [], "note": f"the venture is at stage {v.stage} now"}
            exits = [e for e in run.engine.events(run.ctx.venture, kind="stage.exited") if e.stage == STAGE]
            if exits and exits[-1].data:
                gate = {"passed": bool(exits[-1].data.get("passed")), "checks": exits[-1].data.get("checks", [])}
        paths = write_report(
            Report(
                venture=v.name,
                run_id=run.run_id,
                outcome=run.outcome,
                gate=gate,
                tests=[t.as_dict() for t in run.tests],
                perf=run.perf,
                fallbacks=run.fallbacks,
                files=list(run.files),
                fired=run.fired,
                p95_sla_ms=run.p95_sla,
            ),
            run.out,
        )
        run.files += [str(p) for p in paths.values()]
        hours = (time.perf_counter() - run.started) / 3600
        if v.stage == STAGE and v.status == "active":
            with contextlib.suppress(Stop):
                run.record({"stage_19_execution_time": round(hours, 6)})

    @staticmethod
    def _figures(run: _Run) -> dict[str, Any]:
        tests = [t.as_dict() for t in run.tests]
        return {
            "tests_total": sum(t["tests_total"] for t in tests),
            "tests_passed": sum(t["tests_passed"] for t in tests),
            "failures": [
                f"{o['method']} {o['path']} ({o['mode']}): {o['failures'][0]['title']}"
                for t in tests
                for o in t["operations"]
                if o["failures"]
            ]
            + [f"data flow {s['name']}: {s['detail']}" for t in tests for s in t["data_flow"] if not s["ok"]],
            "perf": run.perf,
        }


def _measured_rate(limits: dict[str, Any], declared: float) -> float:
    observed = limits.get("observed") or {}
    value = observed.get("sustainable_req_sec")
    return float(value) if value is not None else float(declared)


def _version(run: _Run, name: str) -> int:
    refs = [r for r in run.artifacts if r.startswith(name + "@")]
    return int(refs[-1].split("@")[1]) if refs else 1
