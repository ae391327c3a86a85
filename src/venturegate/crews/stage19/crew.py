"""The Integration Verification crew: 19.1 APITester → 19.2 PerformanceAnalyzer → 19.3 FallbackConfigurator →
IntegrationReporter, on the shared crew runtime.

One run measures everything: the three substages only measure (`substages`); then `judge` stores the
artifacts, completes the substages and records every figure in one batch, so the triggers judge the
complete set (a failing 19.1 still sends the venture back, after the load and fallback figures are
in). A re-run on a venture whose substages are complete re-opens them through the engine first.
Status: `completed` when the exit gate's figures hold, `recursed` otherwise, `failed` when the
run could not measure (bad input, the error policy escalated).
"""

from __future__ import annotations

import threading
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from typing import Any

from venturegate.crews.base import AgentSpec, Crew, CrewContext, CrewHooks, CrewResult
from venturegate.crews.runtime import CrewRun, Stop
from venturegate.crews.stage19._http import Interrupted
from venturegate.crews.stage19.apitester import DEFAULT_SEED
from venturegate.crews.stage19.inputs import Credentials, Inputs, read_inputs
from venturegate.crews.stage19.reporter import Report, write_report
from venturegate.crews.stage19.substages import Measured, measure_load, prove_fallbacks, test_apis
from venturegate.engine.error_recovery import ErrorContext
from venturegate.engine.exceptions import BadInput
from venturegate.engine.rollbacks import RollbackContext

STAGE = 19
SUBSTAGES = ("19.1", "19.2", "19.3")
_LIVE: dict[int, list[Credentials]] = {}
"""Venture id → the credentials of its runs in progress in this process (what E19-AUTH's refresh hook refreshes)."""
_LIVE_LOCK = threading.Lock()


def rolled_back(ctx: RollbackContext) -> str:
    """Stage 19's rollback step for every scope it declares: the crew deploys nothing outside the configuration
    (its generated fallbacks and pytest module are files the venture copies), so the engine's snapshot restore
    is the whole rollback; this says so, and what to re-run."""
    changes = len(ctx.changes)
    return (
        f"{ctx.scope}: {changes} configuration change(s) restored from {ctx.target}; the stage-19 crew deploys "
        "nothing outside the configuration — re-run it to re-measure against the restored settings"
    )


@contextmanager
def measuring(venture_id: int, credentials: Iterable[Credentials]) -> Iterator[None]:
    """While a run measures, its credentials are what E19-AUTH's hook refreshes for its venture."""
    held = list(credentials)
    with _LIVE_LOCK:
        _LIVE.setdefault(venture_id, []).extend(held)
    try:
        yield
    finally:
        with _LIVE_LOCK:
            left = [c for c in _LIVE.get(venture_id, []) if not any(c is h for h in held)]
            if left:
                _LIVE[venture_id] = left
            else:
                _LIVE.pop(venture_id, None)


def refresh_credentials(ctx: ErrorContext) -> bool:
    """E19-AUTH's `refresh_credentials`: forget the cached secrets of the venture's runs in progress (read again
    next); False when none is in progress, so the policy skips the step instead of retrying with nothing new."""
    with _LIVE_LOCK:
        held = list(_LIVE.get(ctx.venture_id, ()))
    for creds in held:
        creds.refresh()
    return bool(held)


class IntegrationVerificationCrew(Crew):
    """Stage 19: verify every third-party integration from its OpenAPI spec — tests, load, fallbacks, report."""

    name = "IntegrationVerificationCrew"
    stage = STAGE
    agents = (
        AgentSpec(
            "APITester", "Seeded property-based tests, stateful chains on created data, error handling", ("19.1",)
        ),
        AgentSpec(
            "PerformanceAnalyzer", "Every endpoint under load; rate limits by ramp, bisection and hold", ("19.2",)
        ),
        AgentSpec(
            "FallbackConfigurator", "Retry policies and circuit breakers from the profile, proven by faults", ("19.3",)
        ),
        AgentSpec("IntegrationReporter", "One report with the exit gate's explanation, charts and files", ()),
    )

    def hooks(self) -> CrewHooks:
        """The stage's rollback scopes are served, and E19-AUTH refreshes the credentials of a run in progress."""
        scopes = ("api_config", "api_version", "circuit_breakers", "integrations")
        return CrewHooks(rollback=dict.fromkeys(scopes, rolled_back), credentials={str(STAGE): refresh_credentials})

    def run(self, ctx: CrewContext) -> CrewResult:
        """Re-open, measure 19.1 → 19.2 → 19.3, judge the complete figures, report."""
        run = CrewRun.begin(ctx, stage=STAGE)
        measured = Measured(seed=int(ctx.option("seed", DEFAULT_SEED)))
        run.summary["seed"] = measured.seed
        inputs: Inputs | None = None
        try:
            self._reopen(run)
            inputs = self._inputs(run)
            total = 3 * len(inputs.integrations) + 1
            try:
                with measuring(ctx.engine.venture(ctx.venture).id, inputs.credentials.values()):
                    test_apis(run, inputs, measured, total)
                    measure_load(run, inputs, measured, total)
                    prove_fallbacks(run, inputs, measured, total)
            except Interrupted as exc:  # the error policy escalated or sent the venture back mid-measurement
                raise run.stop("recursed" if exc.status == "recursed" else "failed", f"{exc.status}: {exc}") from exc
            run.step("IntegrationReporter", total - 1, total, "judging and writing the report")
            judge(run, inputs, measured)
        except Stop:
            pass
        finally:
            self._report(run, measured)
        return run.result()

    def _reopen(self, run: CrewRun) -> None:
        done = sorted(run.done() & set(SUBSTAGES))
        if done:
            run.reopen(done, reason="stage-19 crew re-run: re-measure every integration")

    def _inputs(self, run: CrewRun) -> Inputs:
        try:
            inputs = read_inputs(run.ctx.engine, run.ctx.venture, spec_root=run.ctx.output_root)
            for creds in inputs.credentials.values():
                for name in creds.refs:
                    creds.get(name)  # resolve every reference up front: a missing secret fails before any call
        except BadInput as exc:
            # Named in the run's output too (not only in the escalation): which variable, file or artifact.
            problem = f"{exc.message} ({exc.where})" + (f"; {exc.hint}" if exc.hint else "")
            run.summary["input_error"] = problem
            try:
                run.error(f"{exc.message} ({exc.where})")
            except Stop:
                raise run.stop(run.status, f"{run.outcome} — {problem}") from None
            raise run.stop("failed", problem) from None
        return inputs

    def _report(self, run: CrewRun, measured: Measured) -> None:
        engine = run.ctx.engine
        v = engine.venture(run.ctx.venture)
        if v.stage == STAGE:
            result = engine.check_gate(run.ctx.venture, "exit")
            gate: dict[str, Any] = {"passed": result.passed, "checks": [c.as_dict() for c in result.checks]}
        else:  # the venture left stage 19 (advanced or sent back): its last stage-19 gate is in the events
            gate = {"passed": False, "checks": [], "note": f"the venture is at stage {v.stage} now"}
            exits = [e for e in engine.events(run.ctx.venture, kind="stage.exited") if e.stage == STAGE]
            if exits and exits[-1].data:
                gate = {"passed": bool(exits[-1].data.get("passed")), "checks": exits[-1].data.get("checks", [])}
        plan = measured.plan
        report = Report(
            venture=v.name,
            run_id=run.run_id,
            outcome=run.outcome,
            gate=gate,
            seed=measured.seed,
            tests=[t.as_dict() for t in measured.tests],
            findings=[f.as_dict() for f in measured.findings],
            perf=[p.summary() for p in measured.perf.values()],
            fallbacks=list(measured.fallbacks.strategies["integrations"]) if measured.fallbacks else [],
            files=list(run.files),
            fired=list(run.fired),
            plan=plan.as_dict() if plan else {},
            p95_sla_ms=plan.p95_sla_ms if plan else None,
            input_error=str(run.summary.get("input_error", "")),
        )
        for path in write_report(report, run.out).values():
            run.files.append(str(path))
        run.summary.update(_figures(measured))


def judge(run: CrewRun, inputs: Inputs, measured: Measured) -> None:
    """Store the artifacts, complete the substages and record every figure in one batch; then the error policy
    judges what the triggers do not (latency SLA, breakers). Raises `Stop` unless the exit gate's figures hold."""
    from datetime import UTC, datetime

    perf, fb = measured.perf, measured.fallbacks
    assert fb is not None and measured.plan is not None
    results = {
        "run_id": run.run_id,
        "executed_at": datetime.now(UTC).isoformat(),
        "summary": {
            "tests_total": sum(len(t.tests) for t in measured.tests),
            "tests_passed": sum(sum(t.tests) for t in measured.tests),
            "success_rate": measured.success_rate,
            "endpoint_coverage": measured.coverage,
        },
        "integrations": [_integration_item(t, perf.get(t.name), run) for t in measured.tests],
    }
    results_ref = run.put("integration_test_results", results, derived=inputs.artifact_refs)
    retry = fb.bundle.integrations
    config_ref = run.put(
        "api_configurations",
        {
            "snapshot": f"api_config_{run.run_id}",
            "integrations": [
                {
                    "name": i.name,
                    "base_url": i.base_url,
                    "timeout_ms": i.timeout_ms,
                    "rate_limit_req_sec": _limit(perf[i.name], i.rate_limit_req_sec),
                    "limits_doc": str(run.out / "api-limits.md"),
                    "retry": retry[i.name].retry_artifact(),
                }
                for i in inputs.integrations
            ],
        },
        derived=[results_ref],
    )
    run.put("fallback_strategies", fb.strategies, derived=[config_ref])
    for sub in SUBSTAGES:
        run.complete(sub)
    p95 = max((p.p95_ms for p in perf.values()), default=0.0)
    run.record(
        {
            "integration_success_rate": measured.success_rate,
            "endpoint_test_coverage": measured.coverage,
            "latency_p95": round(p95, 3),
            "throughput": min((p.sustained_rate for p in perf.values()), default=0.0),
            "api_reliability": min((p.reliability for p in perf.values()), default=0.0),
            "api_error_rate": max((p.error_rate for p in perf.values()), default=100.0),
            "fallback_coverage": fb.coverage,
            "circuit_breaker_test_pass_rate": fb.proof_pass_rate,
            "circuit_breaker_activations": float(fb.activations),
        }
    )
    if run.sent_back:
        raise run.stop("recursed", "recursed: " + "; ".join(f"{f.trigger} {f.detail or f.outcome}" for f in run.acted))
    plan = measured.plan
    if p95 >= plan.p95_sla_ms:
        run.error(f"latency SLA missed: p95 {p95:.0f} ms exceeds {plan.p95_sla_ms:.0f} ms")
    failed = [name for name, proof in fb.proofs.items() if not proof.passed]
    if failed:
        run.error(f"circuit breaker of {', '.join(failed)} did not open and reset as configured")
    venture = run.ctx.engine.venture(run.ctx.venture)
    if venture.stage == STAGE:
        gate = run.ctx.engine.check_gate(run.ctx.venture, "exit")
        if not gate.passed:
            short = [c.name for c in gate.checks if c.verdict != "pass"]
            raise run.stop("recursed", "exit gate not passed: " + ", ".join(short))


def _limit(p: Any, declared: float) -> float:
    found = p.discovery.limit_req_sec if p.discovery is not None else None
    return float(found) if found is not None else float(declared)


def _integration_item(t: Any, p: Any, run: CrewRun) -> dict[str, Any]:
    item: dict[str, Any] = {
        "name": t.name,
        "tests_total": len(t.tests),
        "tests_passed": sum(t.tests),
        "data_flows_verified": t.data_flows_verified,
        "error_handling": t.error_handling,
        "reports": [f for f in run.files if f.endswith((".json", ".py"))],
    }
    if p is not None:
        found = p.discovery.limit_req_sec if p.discovery is not None else None
        item["performance"] = {
            "latency_p95_ms": p.p95_ms,
            "latency_p99_ms": p.p99_ms,
            "throughput_req_sec": p.sustained_rate,
            **({"rate_limit_observed_req_sec": float(found)} if found is not None else {}),
            "endpoints": [
                {
                    "endpoint": e.label,
                    "p50_ms": e.p50_ms or 0.0,
                    "p95_ms": e.p95_ms or 0.0,
                    "p99_ms": e.p99_ms or 0.0,
                    "error_rate_percent": e.error_rate,
                    "throughput_req_sec": e.throughput,
                }
                for e in p.endpoints
            ],
        }
    return item


def _figures(measured: Measured) -> dict[str, Any]:
    tests = [t.as_dict() for t in measured.tests]
    return {
        "tests_total": sum(t["tests_total"] for t in tests),
        "tests_passed": sum(t["tests_passed"] for t in tests),
        "findings": [f"{f.kind}: {f.method} {f.path}: {f.title}" for f in measured.findings],
        "failures": [f"{f.method} {f.path} ({f.kind}): {f.title}" for f in measured.findings],
        "perf": [p.summary() for p in measured.perf.values()],
        "load_plan": measured.plan.as_dict() if measured.plan else None,
    }
