"""The three substages of the stage-19 crew, one function each, measuring only: nothing here records samples,
completes substages or stores artifacts (the crew does that once every figure is in, see `crew.judge`).

- `test_apis` (19.1 APITester): seeded generated cases, chains, probes; the kept pytest module.
- `measure_load` (19.2 PerformanceAnalyzer): rate limits, every endpoint, ramp and spike.
- `prove_fallbacks` (19.3 FallbackConfigurator): retry and breaker settings, proven through a fault proxy.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from venturegate.core.durations import parse_duration
from venturegate.core.settings import LEVEL_KINDS, level_key
from venturegate.crews.stage19 import pytest_module
from venturegate.crews.stage19._http import Client
from venturegate.crews.stage19.apitester import DEFAULT_SEED, Finding, IntegrationResult, run_apitester
from venturegate.crews.stage19.inputs import Inputs
from venturegate.crews.stage19.performance import LoadPlan, PerfResult, analyze, limits_markdown, prometheus_text

if TYPE_CHECKING:
    from venturegate.crews.runtime import CrewRun
    from venturegate.crews.stage19.configurator import FallbackResult

CONFORMANCE_SHARE = 0.5
"""19.1 sends at most this share of the declared rate limit (keeps conformance tests out of throttling)."""


@dataclass
class Measured:
    """Everything one run measured, substage by substage."""

    seed: int = DEFAULT_SEED
    tests: list[IntegrationResult] = field(default_factory=list)
    perf: dict[str, PerfResult] = field(default_factory=dict)
    fallbacks: FallbackResult | None = None
    plan: LoadPlan | None = None
    fixtures: dict[str, tuple[dict[str, Any], dict[str, Any]]] = field(default_factory=dict)

    @property
    def findings(self) -> list[Finding]:
        """Every finding of the run: conformance, chains, probes, load."""
        out = [f for t in self.tests for f in t.findings]
        return out + [f for p in self.perf.values() for f in p.findings]

    @property
    def success_rate(self) -> float:
        """Percent of 19.1's tests that passed."""
        total = sum(len(t.tests) for t in self.tests)
        return round(100.0 * sum(sum(t.tests) for t in self.tests) / total, 2) if total else 0.0

    @property
    def coverage(self) -> float:
        """Percent of documented operations with at least one case run."""
        documented = sum(t.documented_operations for t in self.tests)
        covered = sum(t.covered_operations for t in self.tests)
        return round(100.0 * covered / documented, 2) if documented else 0.0


def _seconds(value: Any) -> float:
    return parse_duration(value) if isinstance(value, str) else float(value)


def client_for(run: CrewRun, inputs: Inputs, name: str) -> Client:
    """The integration's HTTP client, paced under its declared limit (its credentials refresh through the hook)."""
    integ = next(i for i in inputs.integrations if i.name == name)
    pace = 1.0 / max(0.1, CONFORMANCE_SHARE * integ.rate_limit_req_sec)
    return Client(run.ctx, integ, inputs.credentials[name], pace_s=pace)


def test_apis(run: CrewRun, inputs: Inputs, measured: Measured, total: int) -> None:
    """19.1: every integration's operations, chains and probes; the report JSON and the kept pytest module."""
    from venturegate.crews.stage19.chains import fixtures

    ctx = run.ctx
    max_examples = int(ctx.option("max_examples", 10))
    undeclared = bool(ctx.option("undeclared_methods", False))
    for k, integ in enumerate(inputs.integrations):
        run.step("19.1 APITester", k, total, f"testing {integ.name} (seed {measured.seed})")
        client = client_for(run, inputs, integ.name)
        try:
            result = run_apitester(
                client,
                inputs.specs[integ.name],
                max_examples=max_examples,
                checkpoint=ctx.checkpoint,
                seed=measured.seed,
                undeclared_methods=undeclared,
            )
            measured.tests.append(result)
            measured.fixtures[integ.name] = fixtures(client, inputs.specs[integ.name], result)
        finally:
            client.close()
    run.write("integration-test-report.json", json.dumps([t.as_dict() for t in measured.tests], indent=2))
    module = pytest_module.render(
        [(i, inputs.credentials[i.name], inputs.specs[i.name]) for i in inputs.integrations],
        max_examples=max_examples,
        seed=measured.seed,
        undeclared_methods=undeclared,
        pace={i.name: 1.0 / max(0.1, CONFORMANCE_SHARE * i.rate_limit_req_sec) for i in inputs.integrations},
    )
    run.write("test_integrations.py", module)


def load_plan(run: CrewRun) -> LoadPlan:
    """The stage's load-test parameters for this venture (config), with crew options overriding them by name."""
    o = run.ctx.option

    def param(key: str) -> Any:
        return run.ctx.options[key] if key in run.ctx.options else run.setting(key)

    steps = param("load_test.ramp_steps_req_sec")
    if isinstance(steps, str):
        steps = [float(x) for x in steps.replace("[", "").replace("]", "").split(",") if x.strip()]
    ramp = tuple(float(x) for x in steps)
    return LoadPlan(
        constant_rate=float(param("load_test.constant_rate_req_sec")),
        constant_seconds=_seconds(param("load_test.constant_duration")),
        ramp_up_seconds=_seconds(param("load_test.constant_ramp_up")),
        constant_vus=int(param("load_test.constant_vus")),
        ramp_rates=ramp,
        step_seconds=_seconds(param("load_test.ramp_step_duration")),
        spike_peak=float(param("load_test.spike_peak_req_sec")),
        spike_seconds=_seconds(param("load_test.spike_duration")),
        spike_repeats=int(param("load_test.spike_repeats")),
        spike_vus=int(param("load_test.spike_vus")),
        max_requests=int(o("max_requests", 20000)),
        max_seconds=float(o("max_seconds", 600.0)),
        p95_sla_ms=float(param("sla_targets.latency_p95_ms")),
        p99_sla_ms=float(param("sla_targets.latency_p99_ms")),
        error_rate_sla=float(param("sla_targets.error_rate_percentage")),
        required_rate=float(param("sla_targets.throughput_req_sec")),
        unsafe=bool(o("load_unsafe", False)),
        discover_limits=bool(o("discover_limits", True)),
        probe_seconds=float(o("probe_seconds", 1.5)),
        hold_seconds=float(o("hold_seconds", 4.0)),
        tolerance=float(o("tolerance", 0.03)),
        max_probe_rate=float(o("max_probe_rate", 400.0)),
    )


def measure_load(run: CrewRun, inputs: Inputs, measured: Measured, total: int) -> None:
    """19.2: every integration's rate limit, endpoints, ramp and spike; api-limits.md and endpoint metrics."""
    plan = measured.plan or load_plan(run)
    measured.plan = plan
    n = len(inputs.integrations)
    for k, integ in enumerate(inputs.integrations):
        run.step("19.2 PerformanceAnalyzer", n + k, total, f"load on {integ.name}")
        client = client_for(run, inputs, integ.name)
        headers = client.auth_headers()
        client.close()
        params, bodies = measured.fixtures.get(integ.name, ({}, {}))
        measured.perf[integ.name] = analyze(
            integ, inputs.specs[integ.name], headers, plan, params, bodies, checkpoint=run.ctx.checkpoint
        )
    results = list(measured.perf.values())
    run.write("api-limits.md", limits_markdown(results))
    run.write("endpoint-metrics.prom", prometheus_text(results))


def prove_fallbacks(run: CrewRun, inputs: Inputs, measured: Measured, total: int) -> None:
    """19.3: fallbacks chosen from the measured profile and the venture's settings, then proven."""
    from venturegate.crews.stage19.configurator import configure

    n = len(inputs.integrations)
    run.step("19.3 FallbackConfigurator", 2 * n, total, "generating and proving fallbacks")
    config: dict[str, Any] = {s.key: s.value for s in run.ctx.engine.config(run.ctx.venture)}
    for lv in run.ctx.engine.levels(run.ctx.venture):  # the alert rules draw the venture's gate levels
        config.update({level_key(lv.metric, kind): getattr(lv, kind) for kind in LEVEL_KINDS})
    config.update({k: v for k, v in run.ctx.options.items() if k.split(".")[0] in _FALLBACK_PREFIXES})
    measured.fallbacks = configure(inputs.integrations, inputs.specs, measured.perf, config, run.out)
    for path in measured.fallbacks.files.values():
        run.files.append(str(path))


_FALLBACK_PREFIXES = ("circuit_breakers", "retry_logic", "fallback", "monitoring")
