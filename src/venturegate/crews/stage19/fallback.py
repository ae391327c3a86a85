"""Stage 19.3: fallbacks chosen from the measured load profile, rendered for the venture, and proven.

`generate` turns each integration's `LoadResult` and the venture's stage-19 configuration into a
retry policy and a circuit-breaker configuration, and renders them as

- a self-contained Python module (the source of `breaker.py`, which imports only the standard
  library, followed by the generated policies) the venture copies into its repository;
- Prometheus alert rules (YAML) and a Grafana panel (JSON) for API health.

`prove_breaker` then shows, through a `FaultProxy` in front of the real target, that a breaker with
the configuration opens after exactly its consecutive-failure threshold, rejects fast while open and
closes after recovery.

Configuration keys are the stage's parameters (`retry_logic.<api>.max_retries`,
`circuit_breakers.<api>.reset_timeout`, ...; durations as text such as `1s` or as seconds); a key
absent from `config` takes the bundled stage-19 default, and a per-integration key absent there
falls back to `retry_logic.default.*` and the module defaults below.
"""

from __future__ import annotations

import asyncio
import functools
import inspect
import json
import math
import time
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any, Literal
from urllib.parse import urlsplit

import aiohttp
import yaml

from venturegate.core.durations import parse_duration
from venturegate.core.settings import LEVEL_KINDS, level_key
from venturegate.crews.stage19 import breaker as breaker_module
from venturegate.crews.stage19.breaker import BreakerConfig, CircuitBreaker, CircuitOpenError, RetryPolicy, Transition
from venturegate.crews.stage19.faultproxy import FaultProxy
from venturegate.crews.stage19.loadgen import LoadResult, ensure_loopback

# Used when neither the venture nor the workflow names a value for an integration.
DEFAULT_RESET_SECONDS = 60.0  # the studio's Stripe reset timeout, its most common provider
DEFAULT_ERROR_THRESHOLD_PERCENT = 50.0  # likewise Stripe's
DEFAULT_MULTIPLIER = 2.0
DEFAULT_MAX_DELAY_SECONDS = 30.0
# The breaker's failure-rate window must stay above the error rate the API shows when healthy.
MAX_ERROR_THRESHOLD_PERCENT = 95.0
# The studio's alert `for` durations (APIReliabilityLow 15m, LatencyP95High 10m) and breaker alert (>3 in 24h).
RELIABILITY_FOR, LATENCY_FOR, ERROR_RATE_FOR = "15m", "10m", "5m"
BREAKER_ACTIVATIONS_ALERT = 3
RELIABILITY_LEVEL, LATENCY_LEVEL = level_key("api_reliability", "threshold"), level_key("latency_p95", "threshold")
"""The venture's levels the alert rules draw (the exit gate's thresholds), in the crew's config mapping."""


@functools.lru_cache(maxsize=1)
def stage19_defaults() -> dict[str, Any]:
    """The default of every configuration parameter of the bundled stage 19, and of its metrics' levels
    (`level.<metric>.<kind>`, the keys a venture overrides them with)."""
    from venturegate.definitions.loader import load_workflow

    workflow = load_workflow().workflow
    stage = next(s for s in workflow.stages if s.id == 19)
    levels = {
        level_key(name, kind): getattr(metric, kind)
        for name, metric in stage.metrics.items()
        for kind in LEVEL_KINDS
        if getattr(metric, kind) is not None
    }
    return {key: param.default for key, param in stage.config.items()} | levels


def _get(config: Mapping[str, Any], key: str) -> Any:
    return config[key] if key in config else stage19_defaults().get(key)


def _seconds(value: Any, key: str) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        raise ValueError(f"config {key}: expected a duration such as '1s' or a number of seconds, got {value!r}")
    return parse_duration(value) if isinstance(value, str) else float(value)


def _first(config: Mapping[str, Any], keys: list[str]) -> tuple[str, Any] | None:
    for key in keys:
        value = _get(config, key)
        if value is not None:
            return key, value
    return None


def retry_policy_for(name: str, config: Mapping[str, Any]) -> RetryPolicy:
    """The configured retry policy of integration `name` (its own `retry_logic.<name>.*`, else the default)."""
    api = name.lower()

    def pick(field_name: str) -> tuple[str, Any] | None:
        return _first(config, [f"retry_logic.{api}.{field_name}", f"retry_logic.default.{field_name}"])

    retries, base, multiplier, cap = pick("max_retries"), pick("base_delay"), pick("multiplier"), pick("max_delay")
    return RetryPolicy(
        max_retries=int(retries[1]) if retries else RetryPolicy.max_retries,
        base_delay=_seconds(base[1], base[0]) if base else RetryPolicy.base_delay,
        multiplier=float(multiplier[1]) if multiplier else DEFAULT_MULTIPLIER,
        max_delay=_seconds(cap[1], cap[0]) if cap else DEFAULT_MAX_DELAY_SECONDS,
    )


@dataclass(frozen=True)
class IntegrationFallback:
    """The retry policy and breaker chosen for one integration, with the measurements and reasons behind them."""

    name: str
    retry: RetryPolicy
    breaker: BreakerConfig
    cache_ttl_seconds: float
    measured: dict[str, Any]
    rationale: tuple[str, ...]

    def retry_artifact(self) -> dict[str, Any]:
        """The `retry` object of the api_configurations / fallback_strategies artifacts."""
        return {
            "max_retries": self.retry.max_retries,
            "base_delay_ms": round(self.retry.base_delay * 1000),
            "multiplier": self.retry.multiplier,
            "max_delay_ms": round(self.retry.max_delay * 1000),
        }

    def strategy_artifact(self, proof: BreakerProof) -> dict[str, Any]:
        """This integration's item of the fallback_strategies artifact, verified by `proof`."""
        timeout = self.breaker.call_timeout or 0.0
        return {
            "name": self.name,
            "retry": self.retry_artifact(),
            "circuit_breaker": {
                "library": "venturegate generated resilience module (stdlib asyncio)",
                "timeout_ms": max(1, round(timeout * 1000)),
                "error_threshold_percent": self.breaker.failure_rate_percent or 100.0,
                "reset_timeout_ms": max(1, round(self.breaker.open_seconds * 1000)),
                "verified": {
                    "opened_after_failures": proof.opened_after or 0,
                    "auto_reset": proof.closed_after_recovery,
                },
            },
            "cache_fallback": {"enabled": True, "ttl_seconds": round(self.cache_ttl_seconds)},
        }


def fallback_for(name: str, result: LoadResult, config: Mapping[str, Any]) -> IntegrationFallback:
    """Choose retry and breaker settings for one integration from its configuration and measured profile."""
    api = name.lower()
    reasons: list[str] = []
    retry = retry_policy_for(name, config)
    reasons.append(
        f"retry: {retry.max_retries} retries, {retry.base_delay:g}s base x{retry.multiplier:g}, "
        f"cap {retry.max_delay:g}s (configuration)"
    )

    reset = _first(config, [f"circuit_breakers.{api}.reset_timeout"])
    open_seconds = _seconds(reset[1], reset[0]) if reset else DEFAULT_RESET_SECONDS
    threshold_cfg = _first(config, [f"circuit_breakers.{api}.error_threshold_percent"])
    threshold = float(threshold_cfg[1]) if threshold_cfg else DEFAULT_ERROR_THRESHOLD_PERCENT
    consecutive = int(_get(config, "circuit_breakers.test_consecutive_failures") or 5)

    limit = result.rate_limit
    if limit is not None and limit.retry_after_s is not None:
        if limit.retry_after_s > retry.base_delay:
            retry = replace(retry, base_delay=limit.retry_after_s, max_delay=max(retry.max_delay, limit.retry_after_s))
            reasons.append(f"retry base raised to the provider's Retry-After of {limit.retry_after_s:g}s")
        if limit.retry_after_s > open_seconds:
            open_seconds = limit.retry_after_s
            reasons.append(f"open period raised to the provider's Retry-After of {limit.retry_after_s:g}s")
    if limit is not None:
        reasons.append(
            f"429 from {limit.first_429_rate:g} req/s; keep client traffic under ~{limit.sustainable_rate:g} req/s"
        )

    # Rate-limit answers are handled by retries, not counted against the provider's health.
    count_429 = result.errors_by_status.get("429", 0)
    failures = sum(result.errors_by_status.values()) - count_429
    baseline = 100.0 * failures / result.requests if result.requests else 0.0
    if baseline * 2 >= threshold:
        raised = min(MAX_ERROR_THRESHOLD_PERCENT, math.ceil(baseline * 2))
        reasons.append(
            f"failure-rate threshold raised from {threshold:g}% to {raised:g}%: the API already fails "
            f"{baseline:.1f}% of calls under load, the breaker would keep opening (fix the API)"
        )
        threshold = max(threshold, raised)
    reasons.append(
        f"open after {consecutive} consecutive failures or {threshold:g}% failed in 60s; {open_seconds:g}s open"
    )

    timeout_cfg = _first(config, [f"circuit_breakers.{api}.timeout_ms"])
    if timeout_cfg:
        call_timeout = float(timeout_cfg[1]) / 1000.0
        reasons.append(f"call timeout {call_timeout:g}s (configuration)")
    else:
        p99_sla = float(_get(config, "sla_targets.latency_p99_ms") or 2000) / 1000.0
        measured_p99 = (result.p99_ms or 0.0) / 1000.0
        call_timeout = round(max(p99_sla, 2 * measured_p99), 3)
        reasons.append(f"call timeout {call_timeout:g}s: the p99 SLA or twice the measured p99, whichever is longer")

    ttl = _get(config, "fallback.cache_ttl")
    return IntegrationFallback(
        name=name,
        retry=retry,
        breaker=BreakerConfig(
            failure_threshold=consecutive,
            open_seconds=open_seconds,
            half_open_probes=1,
            failure_rate_percent=threshold,
            window_seconds=60.0,
            minimum_calls=10,
            call_timeout=call_timeout,
        ),
        cache_ttl_seconds=_seconds(ttl, "fallback.cache_ttl") if ttl is not None else 300.0,
        measured={
            "p95_ms": result.p95_ms,
            "p99_ms": result.p99_ms,
            "api_error_rate": result.api_error_rate,
            "api_reliability": result.api_reliability,
            "throughput": result.throughput,
            "rate_limit": asdict(limit) if limit is not None else None,
        },
        rationale=tuple(reasons),
    )


@dataclass(frozen=True)
class FallbackBundle:
    """Everything 19.3 generates for a venture's integrations."""

    integrations: dict[str, IntegrationFallback]
    module_text: str
    alert_rules_yaml: str
    grafana_panel: dict[str, Any]

    def grafana_panel_json(self) -> str:
        """The panel as indented JSON."""
        return json.dumps(self.grafana_panel, indent=2) + "\n"

    def write(self, directory: Path) -> dict[str, Path]:
        """Write `resilience.py`, `alerts.yml` and `grafana-api-health.json` into `directory`."""
        directory.mkdir(parents=True, exist_ok=True)
        files = {
            "module": (directory / "resilience.py", self.module_text),
            "alerts": (directory / "alerts.yml", self.alert_rules_yaml),
            "grafana": (directory / "grafana-api-health.json", self.grafana_panel_json()),
        }
        for path, text in files.values():
            path.write_text(text, encoding="utf-8")
        return {kind: path for kind, (path, _) in files.items()}


def generate(results_by_integration: dict[str, LoadResult], config: Mapping[str, Any]) -> FallbackBundle:
    """Fallbacks for every measured integration, rendered as module, alert rules and Grafana panel."""
    if not results_by_integration:
        raise ValueError("no measured integrations: run the 19.2 load tests first")
    chosen = {name: fallback_for(name, result, config) for name, result in sorted(results_by_integration.items())}
    return FallbackBundle(
        integrations=chosen,
        module_text=render_module(chosen),
        alert_rules_yaml=render_alert_rules(chosen, config),
        grafana_panel=render_grafana_panel(chosen, config),
    )


_MODULE_TAIL = '''

# ---------------------------------------------------------------------------------------------------
# Generated by venturegate (stage 19.3, Fallback Configuration) from the measured load profile.
# Export these for the alert rules: integration_requests_total{{integration, outcome}} (outcome =
# success | error | rejected), integration_request_duration_seconds (histogram, {{integration}}),
# integration_circuit_breaker_open{{integration}} (1 while open) and
# integration_circuit_breaker_activations_total{{integration}} (use `on_transition`).

POLICIES: dict[str, tuple[RetryPolicy, BreakerConfig]] = {{
{policies}
}}
CACHE_TTL_SECONDS: dict[str, float] = {{
{ttls}
}}


def build_guards(
    *, clock: Clock = time.monotonic, on_transition: Callable[[str, Transition], None] | None = None
) -> dict[str, Guard]:
    """One guard (breaker + retries) per integration; keep the dict for the life of the process."""
    guards: dict[str, Guard] = {{}}
    for name, (policy, config) in POLICIES.items():
        hook = None if on_transition is None else functools.partial(on_transition, name)
        guards[name] = Guard(CircuitBreaker(config, name=name, clock=clock, on_transition=hook), Retrier(policy))
    return guards


def build_caches(*, clock: Clock = time.monotonic) -> dict[str, StaleCache]:
    """One cached fallback per integration, with its TTL."""
    return {{name: StaleCache(ttl, clock=clock) for name, ttl in CACHE_TTL_SECONDS.items()}}
'''


def render_module(integrations: Mapping[str, IntegrationFallback]) -> str:
    """The self-contained resilience module: `breaker.py`'s source plus the generated policies."""
    source = inspect.getsource(breaker_module)
    # The tail uses functools; add it to breaker.py's imports so the module stays one import block.
    source = source.replace("import asyncio\n", "import asyncio\nimport functools\n", 1)
    header = (
        "# Resilience policies for this venture's integrations, generated by venturegate (stage 19.3).\n"
        "# Self-contained (standard library only): copy this file into your repository and import it.\n"
    )
    policies = "\n".join(f"    {f.name!r}: ({f.retry!r}, {f.breaker!r})," for f in integrations.values())
    ttls = "\n".join(f"    {f.name!r}: {f.cache_ttl_seconds!r}," for f in integrations.values())
    return header + source + _MODULE_TAIL.format(policies=policies, ttls=ttls)


def _selector(name: str) -> str:
    return 'integration="' + name.replace("\\", "\\\\").replace('"', '\\"') + '"'


def render_alert_rules(integrations: Mapping[str, IntegrationFallback], config: Mapping[str, Any]) -> str:
    """Prometheus alerting rules (groups → rules) for reliability, error rate, p95 latency and the breakers."""
    reliability = float(_get(config, RELIABILITY_LEVEL) or 99.0)  # the gate's own lines, one threshold each
    latency_ms = float(_get(config, LATENCY_LEVEL) or 1000)
    error_rate = float(_get(config, "sla_targets.error_rate_percentage") or 1.0)
    rules: list[dict[str, Any]] = []
    for name in integrations:
        sel = _selector(name)
        total = f"sum(rate(integration_requests_total{{{sel}}}[1h]))"
        labels = {"integration": name, "stage": "19"}
        rules += [
            {
                "alert": "APIReliabilityLow",
                "expr": f'100 * sum(rate(integration_requests_total{{{sel},outcome="success"}}[1h])) / {total} '
                f"< {reliability:g}",
                "for": RELIABILITY_FOR,
                "labels": {**labels, "severity": "page", "trigger": "INTEGRATION-002"},
                "annotations": {
                    "summary": f"{name}: API reliability under {reliability:g}%",
                    "description": "Share of calls answered 2xx over the last hour is {{ $value | humanize }}%.",
                },
            },
            {
                "alert": "APIErrorRateHigh",
                "expr": f'100 * sum(rate(integration_requests_total{{{sel},outcome="error"}}[1h])) / {total} '
                f"> {error_rate:g}",
                "for": ERROR_RATE_FOR,
                "labels": {**labels, "severity": "warning"},
                "annotations": {
                    "summary": f"{name}: API error rate over {error_rate:g}%",
                    "description": "4xx/5xx and transport failures: {{ $value | humanize }}% of calls.",
                },
            },
            {
                "alert": "LatencyP95High",
                "expr": "1000 * histogram_quantile(0.95, sum by (le) "
                f"(rate(integration_request_duration_seconds_bucket{{{sel}}}[5m]))) > {latency_ms:g}",
                "for": LATENCY_FOR,
                "labels": {**labels, "severity": "warning", "trigger": "INTEGRATION-003"},
                "annotations": {
                    "summary": f"{name}: p95 latency over {latency_ms:g} ms",
                    "description": "p95 over 5 minutes is {{ $value | humanize }} ms.",
                },
            },
            {
                "alert": "CircuitBreakerOpen",
                "expr": f"max(integration_circuit_breaker_open{{{sel}}}) == 1",
                "for": "0m",
                "labels": {**labels, "severity": "warning", "trigger": "INTEGRATION-004"},
                "annotations": {
                    "summary": f"{name}: circuit breaker open, the cached fallback is serving",
                    "description": "Calls are rejected fast until a trial call succeeds.",
                },
            },
            {
                "alert": "CircuitBreakerFlapping",
                "expr": f"sum(increase(integration_circuit_breaker_activations_total{{{sel}}}[24h])) "
                f"> {BREAKER_ACTIVATIONS_ALERT}",
                "for": "0m",
                "labels": {**labels, "severity": "page"},
                "annotations": {
                    "summary": f"{name}: breaker opened more than {BREAKER_ACTIVATIONS_ALERT} times in 24h",
                    "description": "Repeated openings: re-run stage 19.3 or look for a defect (stage 14).",
                },
            },
        ]
    document = {"groups": [{"name": "venturegate-stage19-integrations", "rules": rules}]}
    return str(yaml.safe_dump(document, sort_keys=False, width=200, allow_unicode=True))


def render_grafana_panel(integrations: Mapping[str, IntegrationFallback], config: Mapping[str, Any]) -> dict[str, Any]:
    """A Grafana time-series panel of API reliability per integration, banded red / yellow / green."""
    reliability = float(_get(config, RELIABILITY_LEVEL) or 99.0)
    scrape = str(_get(config, "monitoring.prometheus_scrape_interval") or "15s")
    targets = [
        {
            "refId": chr(ord("A") + i % 26) + (str(i // 26) if i >= 26 else ""),
            "datasource": {"type": "prometheus", "uid": "${DS_PROMETHEUS}"},
            "expr": f'100 * sum(rate(integration_requests_total{{{_selector(name)},outcome="success"}}[5m])) '
            f"/ sum(rate(integration_requests_total{{{_selector(name)}}}[5m]))",
            "legendFormat": name,
        }
        for i, name in enumerate(integrations)
    ]
    return {
        "type": "timeseries",
        "title": "API health: reliability per integration",
        "description": f"Share of calls answered 2xx; the stage-19 gate needs {reliability:g}%.",
        "datasource": {"type": "prometheus", "uid": "${DS_PROMETHEUS}"},
        "interval": scrape,
        "gridPos": {"h": 8, "w": 12, "x": 0, "y": 0},
        "targets": targets,
        "fieldConfig": {
            "defaults": {
                "unit": "percent",
                "min": 0,
                "max": 100,
                "thresholds": {
                    "mode": "absolute",
                    "steps": [
                        {"color": "red", "value": None},
                        {"color": "yellow", "value": 95},
                        {"color": "green", "value": reliability},
                    ],
                },
                "custom": {"thresholdsStyle": {"mode": "line+area"}},
            },
            "overrides": [],
        },
        "options": {"legend": {"displayMode": "table", "placement": "bottom", "calcs": ["min", "mean", "last"]}},
    }


@dataclass(frozen=True)
class ProofEvent:
    """One step of a breaker proof, `at` seconds after it started."""

    at: float
    event: str
    state: str
    detail: str = ""


@dataclass(frozen=True)
class BreakerProof:
    """What the breaker did under injected faults, in order."""

    expected_failures: int
    opened_after: int | None
    """Consecutive injected failures after which the breaker was open (None: it never opened)."""
    rejected_fast: bool
    """While open, a call failed with CircuitOpenError without reaching the proxy."""
    reject_ms: float | None
    closed_after_recovery: bool
    activations: int
    open_seconds: float
    healthy_before: bool
    timeline: tuple[ProofEvent, ...] = field(default=())

    @property
    def passed(self) -> bool:
        """Opened after exactly the configured failures, rejected fast, and closed again after recovery."""
        return (
            self.healthy_before
            and self.opened_after == self.expected_failures
            and self.rejected_fast
            and self.closed_after_recovery
        )

    def as_dict(self) -> dict[str, Any]:
        """A JSON-ready dict, `passed` included."""
        return {**asdict(self), "passed": self.passed}


class _UpstreamFailure(Exception):
    def __init__(self, status: int) -> None:
        super().__init__(f"HTTP {status}")
        self.status = status


# Short enough to keep the proof quick, long enough to see rejections; the real `open_seconds` is
# not what is being proven (it is a clock comparison, covered by the fake-clock tests).
PROOF_OPEN_SECONDS = 0.2


def prove_breaker(
    target_url: str,
    breaker_config: BreakerConfig,
    *,
    failures_to_open: int = 5,
    fault: Literal["fail", "close"] = "fail",
    open_seconds: float = PROOF_OPEN_SECONDS,
    timeout: float = 5.0,
) -> BreakerProof:
    """Prove a breaker against a loopback target behind a fault proxy (sync; see `prove_breaker_async`)."""
    return asyncio.run(
        prove_breaker_async(
            target_url,
            breaker_config,
            failures_to_open=failures_to_open,
            fault=fault,
            open_seconds=open_seconds,
            timeout=timeout,
        )
    )


async def prove_breaker_async(
    target_url: str,
    breaker_config: BreakerConfig,
    *,
    failures_to_open: int = 5,
    fault: Literal["fail", "close"] = "fail",
    open_seconds: float = PROOF_OPEN_SECONDS,
    timeout: float = 5.0,
) -> BreakerProof:
    """Healthy calls pass; under `fault` the breaker must open after its threshold (≤ `failures_to_open`),
    reject without calling, and after `open_seconds` close on a successful trial call.

    The failure-rate window is switched off so that the consecutive-failure rule is what is proven.
    """
    ensure_loopback(target_url)
    parts = urlsplit(target_url)
    path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    config = replace(breaker_config, open_seconds=open_seconds, failure_rate_percent=None)
    started = time.monotonic()
    timeline: list[ProofEvent] = []
    breaker: CircuitBreaker

    def note(event: str, detail: str = "") -> None:
        timeline.append(ProofEvent(round(time.monotonic() - started, 4), event, breaker.state.value, detail))

    def moved(t: Transition) -> None:
        timeline.append(
            ProofEvent(
                round(time.monotonic() - started, 4), "transition", t.target.value, f"{t.source.value}: {t.reason}"
            )
        )

    breaker = CircuitBreaker(config, name="proof", on_transition=moved)
    with FaultProxy(f"{parts.scheme}://{parts.netloc}") as proxy:
        async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=timeout)) as session:

            async def hit() -> int:
                async with session.get(proxy.url(path), allow_redirects=False) as response:
                    await response.read()
                    if response.status >= 500:
                        raise _UpstreamFailure(response.status)
                    return response.status

            async def attempt(label: str) -> bool:
                try:
                    status = await breaker.call(hit)
                except CircuitOpenError:
                    note(label, "rejected: breaker open")
                    return False
                except (_UpstreamFailure, aiohttp.ClientError, TimeoutError) as exc:
                    note(label, f"failed: {type(exc).__name__} {exc}".strip())
                    return False
                note(label, f"ok: HTTP {status}")
                return True

            healthy = [await attempt("healthy call") for _ in range(3)]
            proxy.set_mode(fault)
            note("fault injected", fault)
            opened_after: int | None = None
            for n in range(1, failures_to_open + 3):
                await attempt(f"faulty call {n}")
                if breaker.state.value == "open":
                    opened_after = n
                    break
            received = proxy.counts["received"]
            clock = time.perf_counter()
            rejected = opened_after is not None and not await attempt("call while open")
            reject_ms = round((time.perf_counter() - clock) * 1000, 3) if rejected else None
            rejected_fast = rejected and proxy.counts["received"] == received
            proxy.set_mode("pass")
            note("fault removed")
            closed = False
            if opened_after is not None:
                await asyncio.sleep(open_seconds * 1.1)
                closed = await attempt("trial call") and breaker.state.value == "closed"
    return BreakerProof(
        expected_failures=min(breaker_config.failure_threshold, failures_to_open),
        opened_after=opened_after,
        rejected_fast=rejected_fast,
        reject_ms=reject_ms,
        closed_after_recovery=closed,
        activations=breaker.activations,
        open_seconds=open_seconds,
        healthy_before=all(healthy),
        timeline=tuple(timeline),
    )
