"""19.2 PerformanceAnalyzer: open-loop load (constant, ramp, spike) per integration with the `loadgen` module;
latency percentiles, sustained throughput, reliability and the rate-limit point, bounded in requests and time.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from venturegate.crews.stage19 import loadgen
from venturegate.crews.stage19.apitester import _protected_get
from venturegate.crews.stage19.inputs import Integration


@dataclass(frozen=True)
class LoadPlan:
    """The three profiles and the bounds of every run."""

    constant_rate: float
    constant_seconds: float
    ramp_rates: tuple[float, ...]
    step_seconds: float
    spike_base: float
    spike_peak: float
    spike_seconds: float
    max_requests: int
    max_seconds: float
    p95_sla_ms: float
    error_rate_sla: float
    required_rate: float


@dataclass
class PerfResult:
    """What the load runs measured for one integration."""

    name: str
    path: str
    constant: loadgen.LoadResult
    ramp: loadgen.LoadResult
    spike: loadgen.LoadResult
    sustained_rate: float = 0.0
    reliability: float = 0.0
    error_rate: float = 0.0
    limits: dict[str, Any] = field(default_factory=dict)

    @property
    def p95_ms(self) -> float:
        """p95 of the constant-load run (the latency figure), in ms."""
        return float(self.constant.p95_ms or 0.0)

    @property
    def p99_ms(self) -> float:
        """p99 of the constant-load run, in ms."""
        return float(self.constant.p99_ms or 0.0)

    def summary(self) -> dict[str, Any]:
        """JSON-ready figures for the report."""
        return {
            "name": self.name,
            "path": self.path,
            "p50_ms": self.constant.p50_ms,
            "p95_ms": self.constant.p95_ms,
            "p99_ms": self.constant.p99_ms,
            "sustained_rate": self.sustained_rate,
            "reliability": self.reliability,
            "error_rate": self.error_rate,
            "ramp": [
                {"rate": s.rate, "throughput": s.throughput, "p95_ms": s.p95_ms, "errors": s.errors_by_status}
                for s in self.ramp.steps
            ],
            "spike": {"errors_by_status": self.spike.errors_by_status, "p95_ms": self.spike.p95_ms},
            "limits": self.limits,
        }


def _target(spec: dict[str, Any]) -> str:
    path = _protected_get(spec)
    if path is None:
        gets = [p for p, ops in spec.get("paths", {}).items() if "get" in ops and "{" not in p]
        path = gets[0] if gets else "/"
    return path


def analyze(integration: Integration, spec: dict[str, Any], headers: dict[str, str], plan: LoadPlan) -> PerfResult:
    """Run constant, ramp and spike profiles against the integration's main listing and sum them up."""
    path = _target(spec)
    url = integration.base_url + path
    timeout = integration.timeout_ms / 1000

    def run(profile: loadgen.LoadProfile) -> loadgen.LoadResult:
        return loadgen.run_profile_sync(
            url, profile, headers=headers, max_requests=plan.max_requests, max_seconds=plan.max_seconds, timeout=timeout
        )

    constant = run(loadgen.LoadProfile.constant(plan.constant_rate, plan.constant_seconds))
    ramp = run(loadgen.LoadProfile.ramp(list(plan.ramp_rates), plan.step_seconds))
    spike = run(loadgen.LoadProfile.spike(plan.spike_base, plan.spike_peak, plan.spike_seconds))
    result = PerfResult(integration.name, path, constant, ramp, spike)
    result.sustained_rate = float(
        ramp.max_sustained_rate(p95_max_ms=plan.p95_sla_ms, max_error_rate=plan.error_rate_sla) or 0.0
    )
    # Reliability counts the load the SLA asks for (constant load and ramp steps up to the required
    # rate), not the spike, which is meant to go past the provider's limit.
    steps = [(constant.requests, constant.api_error_rate)] + [
        (s.requests, s.api_error_rate) for s in ramp.steps if s.rate <= plan.required_rate
    ]
    total = sum(n for n, _ in steps)
    result.error_rate = round(sum(n * e for n, e in steps) / total, 3) if total else 100.0
    result.reliability = round(100.0 - result.error_rate, 3)
    result.limits = _limits(integration, ramp, spike)
    return result


def _limits(integration: Integration, ramp: loadgen.LoadResult, spike: loadgen.LoadResult) -> dict[str, Any]:
    """The documented limit, and where the provider actually started answering 429."""
    found = ramp.rate_limit or spike.rate_limit
    out: dict[str, Any] = {"declared_req_sec": integration.rate_limit_req_sec, "observed": None}
    if found is not None:
        out["observed"] = {
            "first_429_at_req_sec": found.first_429_rate,
            "sustainable_req_sec": round(found.sustainable_rate, 1),
            "highest_clean_req_sec": found.highest_clean_rate,
            "retry_after_s": found.retry_after_s,
            "count_429": found.count_429,
        }
    return out


def limits_markdown(results: list[PerfResult]) -> str:
    """docs/api-limits.md: each API's declared and measured limits."""
    lines = [
        "# API limits",
        "",
        "Measured by the stage-19 PerformanceAnalyzer (open-loop load on loopback).",
        "",
        "| integration | endpoint | declared req/s | first 429 at req/s | sustainable req/s | Retry-After "
        "| p95 ms | p99 ms |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for r in results:
        obs = r.limits.get("observed") or {}
        lines.append(
            f"| {r.name} | GET {r.path} | {r.limits['declared_req_sec']:g} | {obs.get('first_429_at_req_sec', '—')} "
            f"| {obs.get('sustainable_req_sec', '—')} | {obs.get('retry_after_s', '—')} "
            f"| {r.p95_ms:.1f} | {r.p99_ms:.1f} |"
        )
    return "\n".join(lines) + "\n"
