"""19.2 PerformanceAnalyzer: every endpoint measured, the rate limit found, the throughput ramp and the spike.

Per integration:

1. **Rate limit** (`ratelimit.discover`) on its main listing: ramp, bisect, hold; headers read.
2. **Every endpoint** under constant open-loop load (`load_test.constant_*`): each safe operation
   (GET/HEAD), item endpoints on data the crew created for the purpose, and — when the user opts in
   (`load_unsafe`) — POST/PUT/PATCH with the crew's own bodies (DELETE never: it cannot repeat).
   The rate stays under the limit (80 % of the discovered one, else of the declared one), so the
   figures are latency, not throttling. p50/p95/p99, error rate and throughput per endpoint;
   endpoints whose p95 misses the venture's latency SLA are findings.
3. **Throughput ramp and spike** (`load_test.ramp_*`, `load_test.spike_*`) on the main listing.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from typing import Any

from venturegate.crews.stage19 import _spec, loadgen
from venturegate.crews.stage19.apitester import Finding
from venturegate.crews.stage19.inputs import Integration
from venturegate.crews.stage19.ratelimit import RateLimitDiscovery, discover_sync

LIMIT_HEADROOM = 0.8
"""Endpoint load runs at this share of the rate limit."""
CONTRADICTION = 0.10
"""A discovered limit further than this (relative) from the declared one is a finding."""


@dataclass(frozen=True)
class LoadPlan:
    """The load shapes and bounds of 19.2 — the stage's parameters, with crew options applied."""

    constant_rate: float
    constant_seconds: float
    ramp_up_seconds: float
    constant_vus: int
    ramp_rates: tuple[float, ...]
    step_seconds: float
    spike_peak: float
    spike_seconds: float
    spike_repeats: int
    spike_vus: int
    max_requests: int
    max_seconds: float
    p95_sla_ms: float
    p99_sla_ms: float
    error_rate_sla: float
    required_rate: float
    unsafe: bool = False
    discover_limits: bool = True
    probe_seconds: float = 1.5
    hold_seconds: float = 4.0
    tolerance: float = 0.03
    max_probe_rate: float = 400.0

    def as_dict(self) -> dict[str, Any]:
        """The values used (for the report)."""
        return asdict(self)


@dataclass(frozen=True)
class EndpointLoad:
    """Constant load on one operation."""

    method: str
    path: str
    rate: float
    requests: int
    p50_ms: float | None
    p95_ms: float | None
    p99_ms: float | None
    error_rate: float
    throughput: float
    errors_by_status: dict[str, int]
    slow: bool

    @property
    def label(self) -> str:
        """`GET /path`."""
        return f"{self.method} {self.path}"


@dataclass
class PerfResult:
    """What 19.2 measured for one integration."""

    name: str
    path: str
    endpoints: list[EndpointLoad]
    ramp: loadgen.LoadResult | None
    spike: loadgen.LoadResult | None
    discovery: RateLimitDiscovery | None
    declared_limit: float
    sustained_rate: float = 0.0
    reliability: float = 0.0
    error_rate: float = 0.0
    findings: list[Finding] = field(default_factory=list)
    excluded: list[str] = field(default_factory=list)
    constant: loadgen.LoadResult | None = None
    """The main listing's constant-load run (what 19.3 sizes its breaker from)."""

    @property
    def baseline(self) -> loadgen.LoadResult:
        """The run 19.3 sizes fallbacks from: the main listing's constant load, else the ramp or the spike."""
        got = self.constant or self.ramp or self.spike
        assert got is not None, "19.2 ran no load"
        return got

    @property
    def p95_ms(self) -> float:
        """The slowest endpoint's p95, in ms."""
        return max((e.p95_ms or 0.0 for e in self.endpoints), default=0.0)

    @property
    def p99_ms(self) -> float:
        """The slowest endpoint's p99, in ms."""
        return max((e.p99_ms or 0.0 for e in self.endpoints), default=0.0)

    @property
    def limits(self) -> dict[str, Any]:
        """Declared and measured limits."""
        d = self.discovery
        out: dict[str, Any] = {"declared_req_sec": self.declared_limit, "observed": None}
        if d is not None:
            out["discovery"] = {
                "limit_req_sec": d.limit_req_sec,
                "bracket": d.bracket,
                "held": d.held,
                "header_limit_req_sec": d.header_limit_req_sec,
                "headers": d.headers,
                "retry_after_s": d.retry_after_s,
                "probes": len(d.probes),
                "off_rate_probes": d.off_rate_probes,
                "seconds": d.seconds,
                "max_rate": d.max_rate,
            }
            if d.limit_req_sec is not None:
                out["observed"] = {
                    "sustainable_req_sec": d.limit_req_sec,
                    "first_429_at_req_sec": d.bracket[1] if d.bracket else None,
                    "retry_after_s": d.retry_after_s,
                }
        return out

    def summary(self) -> dict[str, Any]:
        """JSON-ready figures for the report."""
        return {
            "name": self.name,
            "path": self.path,
            "p95_ms": self.p95_ms,
            "p99_ms": self.p99_ms,
            "sustained_rate": self.sustained_rate,
            "reliability": self.reliability,
            "error_rate": self.error_rate,
            "endpoints": [{**asdict(e), "label": e.label} for e in self.endpoints],
            "ramp": [
                {"rate": s.rate, "throughput": s.throughput, "p95_ms": s.p95_ms, "errors": s.errors_by_status}
                for s in (self.ramp.steps if self.ramp else ())
            ],
            "spike": (
                {"errors_by_status": self.spike.errors_by_status, "p95_ms": self.spike.p95_ms} if self.spike else None
            ),
            "limits": self.limits,
            "findings": [f.as_dict() for f in self.findings],
            "excluded": self.excluded,
        }


def main_path(spec: dict[str, Any]) -> str:
    """The listing the ramp, spike and rate-limit probes drive: a parameterless GET (authenticated first)."""
    gets = [o for o in _spec.operations(spec) if o.method == "get" and not o.params]
    gets.sort(key=lambda o: (not _spec.needs_auth(spec, o), o.path == "/health"))
    return gets[0].path if gets else "/"


def _required_query(op: _spec.Operation, spec: dict[str, Any]) -> dict[str, Any] | None:
    """Values for required query parameters (their example or default), or None when one has neither."""
    out: dict[str, Any] = {}
    for p in op.raw.get("parameters", []):
        p = _spec.resolve(spec, p)
        if p.get("in") == "query" and p.get("required"):
            schema = _spec.resolve(spec, p.get("schema") or {})
            value = p.get("example", schema.get("example", schema.get("default")))
            if value is None:
                return None
            out[p["name"]] = value
    return out


def analyze(
    integration: Integration,
    spec: dict[str, Any],
    headers: dict[str, str],
    plan: LoadPlan,
    fixtures: dict[str, dict[str, Any] | None],
    bodies: dict[str, Any],
    checkpoint: Callable[[], None] = lambda: None,
) -> PerfResult:
    """19.2 for one integration. `fixtures` maps a path to the parameters of data the crew created for it."""
    from urllib.parse import urlencode

    base = integration.base_url
    main = main_path(spec)
    timeout = integration.timeout_ms / 1000
    discovery = None
    if plan.discover_limits:
        discovery = discover_sync(
            base + main,
            headers=headers,
            start_rate=max(1.0, min(integration.rate_limit_req_sec * 0.5, plan.max_probe_rate / 4)),
            max_rate=plan.max_probe_rate,
            probe_seconds=plan.probe_seconds,
            hold_seconds=plan.hold_seconds,
            tolerance=plan.tolerance,
            timeout=timeout,
        )
    result = PerfResult(integration.name, main, [], None, None, discovery, integration.rate_limit_req_sec)
    limit = discovery.limit_req_sec if discovery and discovery.limit_req_sec else integration.rate_limit_req_sec
    rate = max(1.0, min(plan.constant_rate, LIMIT_HEADROOM * limit))
    for op in _spec.operations(spec):
        checkpoint()
        if not op.safe and not (plan.unsafe and op.method in ("post", "put", "patch")):
            if op.method != "delete" or plan.unsafe:
                result.excluded.append(f"{op.label}: unsafe, not loaded (option load_unsafe=true)")
            else:
                result.excluded.append(f"{op.label}: DELETE cannot be repeated, not loaded")
            continue
        params: dict[str, Any] | None = {}
        if op.params:
            params = fixtures.get(op.path)
            if params is None:
                result.excluded.append(f"{op.label}: no data the crew could create for its parameters")
                continue
        query = _required_query(op, spec)
        if query is None:
            result.excluded.append(f"{op.label}: a required query parameter has no example or default")
            continue
        path = op.path
        for name, value in (params or {}).items():
            path = path.replace("{" + name + "}", str(value))
        url = base + path + (("?" + urlencode(query)) if query else "")
        body = bodies.get(op.path) if op.method in ("post", "put", "patch") else None
        send_headers = {**headers, **({"Content-Type": "application/json"} if body is not None else {})}
        steps = []
        if plan.ramp_up_seconds > 0:
            steps.append(loadgen.LoadStep(max(1.0, rate / 2), plan.ramp_up_seconds, "ramp-up"))
        steps.append(loadgen.LoadStep(rate, plan.constant_seconds, f"constant {rate:g}/s"))
        got = loadgen.run_profile_sync(
            url,
            loadgen.LoadProfile("constant", tuple(steps)),
            method=op.method.upper(),
            headers=send_headers,
            body=json.dumps(body).encode() if body is not None else None,
            max_requests=plan.max_requests,
            max_seconds=plan.max_seconds,
            timeout=timeout,
            connections=plan.constant_vus,
        )
        step = got.steps[-1] if got.steps else None
        if step is None:
            continue
        if op.method == "get" and op.path == main:
            result.constant = got
        slow = (step.p95_ms or 0.0) > plan.p95_sla_ms
        load = EndpointLoad(
            op.method.upper(),
            op.path,
            rate,
            step.requests,
            step.p50_ms,
            step.p95_ms,
            step.p99_ms,
            step.api_error_rate,
            step.throughput,
            step.errors_by_status,
            slow,
        )
        result.endpoints.append(load)
        if slow:
            result.findings.append(
                Finding(
                    "slow_endpoint",
                    load.method,
                    op.path,
                    "Endpoint slower than the latency SLA",
                    f"p95 {step.p95_ms:.0f} ms > SLA {plan.p95_sla_ms:g} ms at {rate:g} req/s",
                    None,
                    f"curl -X {load.method} '{base}{path}'",
                    "load",
                )
            )
    _ramp_and_spike(result, base + main, headers, plan, timeout, checkpoint)
    declared = integration.rate_limit_req_sec
    found = discovery.limit_req_sec if discovery else None
    if found is not None and abs(found - declared) > CONTRADICTION * declared:
        result.findings.append(
            Finding(
                "rate_limit",
                "GET",
                main,
                "Rate limit differs from the declared one",
                f"measured {found:g} req/s (bracket {discovery.bracket if discovery else None}), declared "
                f"{declared:g} req/s in integration_requirements",
                429,
                "",
                "load",
            )
        )
    elif discovery is not None and found is None and discovery.bracket is None:
        result.excluded.append(f"no rate limit up to {discovery.max_rate:g} req/s (declared {declared:g})")
    return result


def _ramp_and_spike(
    result: PerfResult, url: str, headers: dict[str, str], plan: LoadPlan, timeout: float, checkpoint: Any
) -> None:
    def run(profile: loadgen.LoadProfile, vus: int) -> loadgen.LoadResult:
        checkpoint()
        return loadgen.run_profile_sync(
            url,
            profile,
            headers=headers,
            max_requests=plan.max_requests,
            max_seconds=plan.max_seconds,
            timeout=timeout,
            connections=vus,
        )

    if plan.ramp_rates:
        result.ramp = run(loadgen.LoadProfile.ramp(list(plan.ramp_rates), plan.step_seconds), max(plan.spike_vus, 1))
        result.sustained_rate = float(
            result.ramp.max_sustained_rate(p95_max_ms=plan.p95_sla_ms, max_error_rate=plan.error_rate_sla) or 0.0
        )
    base = plan.ramp_rates[0] if plan.ramp_rates else plan.constant_rate
    result.spike = run(
        loadgen.LoadProfile.spike(base, plan.spike_peak, plan.spike_seconds, repeats=plan.spike_repeats),
        plan.spike_vus,
    )
    # Reliability counts the load the SLA asks for (every endpoint's constant load and the ramp steps up to
    # the required rate), not the spike, which is meant to go past the provider's limit.
    steps = [(e.requests, e.error_rate) for e in result.endpoints] + [
        (s.requests, s.api_error_rate)
        for s in (result.ramp.steps if result.ramp else ())
        if s.rate <= plan.required_rate
    ]
    total = sum(n for n, _ in steps)
    result.error_rate = round(sum(n * e for n, e in steps) / total, 3) if total else 100.0
    result.reliability = round(100.0 - result.error_rate, 3)


def limits_markdown(results: list[PerfResult]) -> str:
    """api-limits.md: each API's declared and measured limits."""
    lines = [
        "# API limits",
        "",
        "Measured by the stage-19 PerformanceAnalyzer (open-loop load on loopback): rate limits by ramp, "
        "bisection and a sustained hold.",
        "",
        "| integration | endpoint | declared req/s | measured limit req/s | bracket | header limit | Retry-After s "
        "| slowest p95 ms | slowest p99 ms |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for r in results:
        d = r.limits.get("discovery") or {}
        lines.append(
            f"| {r.name} | GET {r.path} | {r.declared_limit:g} | {d.get('limit_req_sec') or '—'} "
            f"| {d.get('bracket') or '—'} | {d.get('header_limit_req_sec') or '—'} | {d.get('retry_after_s') or '—'} "
            f"| {r.p95_ms:.1f} | {r.p99_ms:.1f} |"
        )
    short = [(r.name, n) for r in results if (n := (r.limits.get("discovery") or {}).get("off_rate_probes"))]
    if short:
        lines += [
            "",
            "Probes that sent slower than their rate (the sender fell behind; a clean one counts at the rate it "
            "really sent): " + ", ".join(f"{name} {n}" for name, n in short) + ".",
        ]
    lines += [
        "",
        "## Endpoints",
        "",
        "| integration | endpoint | req/s | p50 ms | p95 ms | p99 ms | errors % |",
        "|---|---|---|---|---|---|---|",
    ]
    for r in results:
        for e in r.endpoints:
            lines.append(
                f"| {r.name} | {e.label} | {e.rate:g} | {e.p50_ms or 0:.1f} | {e.p95_ms or 0:.1f} "
                f"| {e.p99_ms or 0:.1f} | {e.error_rate:g} |"
            )
    return "\n".join(lines) + "\n"


def prometheus_text(results: list[PerfResult]) -> str:
    """Per-endpoint figures in the Prometheus text format (for the studio's dashboards)."""

    def esc(value: str) -> str:
        return value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")

    lines = [
        "# HELP integration_endpoint_latency_ms Latency of one endpoint under constant load.",
        "# TYPE integration_endpoint_latency_ms gauge",
    ]
    rest: list[str] = [
        "# HELP integration_endpoint_error_rate_percent Failed answers of one endpoint under constant load.",
        "# TYPE integration_endpoint_error_rate_percent gauge",
    ]
    tput: list[str] = [
        "# HELP integration_endpoint_throughput_req_sec Good answers per second of one endpoint.",
        "# TYPE integration_endpoint_throughput_req_sec gauge",
    ]
    for r in results:
        for e in r.endpoints:
            labels = f'integration="{esc(r.name)}",method="{e.method}",path="{esc(e.path)}"'
            for q, v in (("0.5", e.p50_ms), ("0.95", e.p95_ms), ("0.99", e.p99_ms)):
                lines.append(f'integration_endpoint_latency_ms{{{labels},quantile="{q}"}} {v or 0}')
            rest.append(f"integration_endpoint_error_rate_percent{{{labels}}} {e.error_rate}")
            tput.append(f"integration_endpoint_throughput_req_sec{{{labels}}} {e.throughput}")
    return "\n".join(lines + rest + tput) + "\n"
