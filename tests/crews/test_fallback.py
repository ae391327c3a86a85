"""19.3 fallbacks: chosen from measurements and configuration, rendered, imported and exercised, proven."""

from __future__ import annotations

import ast
import asyncio
import importlib.util
import json
import re
import sys
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

import jsonschema
import pytest
import yaml
from aiohttp import web

from venturegate.crews.stage19.breaker import BreakerConfig, RetryPolicy
from venturegate.crews.stage19.fallback import (
    PROOF_OPEN_SECONDS,
    FallbackBundle,
    generate,
    prove_breaker,
    retry_policy_for,
    stage19_defaults,
)
from venturegate.crews.stage19.faultproxy import FaultProxy, ServedApp, serve_app
from venturegate.crews.stage19.loadgen import LoadProfile, LoadResult, RateLimitInfo, run_profile_sync
from venturegate.definitions.loader import load_workflow


def measured(
    *,
    errors: dict[str, int] | None = None,
    requests: int = 1000,
    p99_ms: float = 180.0,
    limit: RateLimitInfo | None = None,
) -> LoadResult:
    """A LoadResult as a 19.2 run would produce it."""
    errors = errors or {}
    failed = sum(errors.values())
    return LoadResult(
        url="http://127.0.0.1:9/",
        profile="ramp",
        requests=requests,
        responses=requests - errors.get("timeout", 0),
        duration_s=10.0,
        throughput=100.0,
        send_rate=100.0,
        p50_ms=40.0,
        p95_ms=120.0,
        p99_ms=p99_ms,
        max_ms=300.0,
        send_p50_ms=40.0,
        send_p95_ms=120.0,
        send_p99_ms=p99_ms,
        send_max_ms=300.0,
        lag_p99_ms=1.0,
        errors_by_status=errors,
        status_counts={"200": requests - failed, **errors},
        api_error_rate=100.0 * failed / requests,
        api_reliability=100.0 * (requests - failed) / requests,
        rate_limit=limit,
    )


@pytest.fixture(scope="module")
def bundle() -> FallbackBundle:
    return generate({"stripe": measured(), "auth0": measured(), "crm": measured()}, {})


def _import(path: Path, name: str) -> ModuleType:
    spec = importlib.util.spec_from_file_location(name, path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module  # dataclasses look their module up while the class is built
    try:
        spec.loader.exec_module(module)
    finally:
        del sys.modules[name]
    return module


def test_policies_come_from_the_stage_configuration(bundle: FallbackBundle) -> None:
    stripe, auth0, crm = (bundle.integrations[n] for n in ("stripe", "auth0", "crm"))
    assert stripe.retry == RetryPolicy(max_retries=3, base_delay=1.0, multiplier=2.0, max_delay=30.0)
    assert (auth0.retry.max_retries, auth0.retry.base_delay, auth0.retry.max_delay) == (2, 0.5, 10.0)
    assert crm.retry == RetryPolicy(max_retries=3, base_delay=1.0)  # retry_logic.default.*
    assert (stripe.breaker.open_seconds, stripe.breaker.failure_rate_percent) == (60.0, 50.0)
    assert (auth0.breaker.open_seconds, auth0.breaker.failure_rate_percent) == (30.0, 30.0)
    assert stripe.breaker.call_timeout == 5.0 and auth0.breaker.call_timeout == 3.0
    assert crm.breaker.call_timeout == 2.0  # no configured timeout: the p99 SLA beats 2 x 180 ms
    assert all(f.breaker.failure_threshold == 5 for f in bundle.integrations.values())
    assert crm.cache_ttl_seconds == 300.0
    assert stage19_defaults()["retry_logic.default.base_delay"] == "1s"


def test_venture_configuration_overrides_defaults() -> None:
    config = {"retry_logic.default.max_retries": 5, "retry_logic.default.base_delay": "2s", "fallback.cache_ttl": 60}
    assert retry_policy_for("crm", config) == RetryPolicy(max_retries=5, base_delay=2.0)
    crm = generate({"crm": measured()}, {**config, "circuit_breakers.test_consecutive_failures": 3}).integrations["crm"]
    assert crm.breaker.failure_threshold == 3 and crm.cache_ttl_seconds == 60.0
    with pytest.raises(ValueError, match=r"retry_logic\.default\.base_delay"):
        retry_policy_for("crm", {"retry_logic.default.base_delay": [1]})


def test_measurements_shape_the_policy() -> None:
    limit = RateLimitInfo(
        first_429_rate=150,
        first_429_after_s=2.0,
        count_429=40,
        retry_after_s=90.0,
        retry_after_header="90",
        highest_clean_rate=100,
        sustainable_rate=110.0,
    )
    chosen = generate(
        {
            "limited": measured(errors={"429": 40}, limit=limit),
            "flaky": measured(errors={"503": 300}),
            "slow": measured(p99_ms=4000),
        },
        {},
    ).integrations
    assert chosen["limited"].retry.base_delay == 90.0 and chosen["limited"].breaker.open_seconds == 90.0
    assert chosen["limited"].breaker.failure_rate_percent == 50.0  # 429s do not count against health
    assert any("110 req/s" in r for r in chosen["limited"].rationale)
    assert chosen["flaky"].breaker.failure_rate_percent == 60.0  # 30% baseline failures x 2
    assert any("raised from 50% to 60%" in r for r in chosen["flaky"].rationale)
    assert chosen["slow"].breaker.call_timeout == 8.0


def test_generated_module_is_self_contained_and_works(bundle: FallbackBundle, tmp_path: Path) -> None:
    paths = bundle.write(tmp_path)
    text = paths["module"].read_text()
    imported = {
        alias.name.split(".")[0]
        for node in ast.walk(ast.parse(text))
        if isinstance(node, ast.Import | ast.ImportFrom)
        for alias in (node.names if isinstance(node, ast.Import) else [ast.alias(node.module or "")])
    }
    assert imported and imported <= set(sys.stdlib_module_names) | {"__future__"}
    module = _import(paths["module"], "venture_resilience")
    assert set(module.POLICIES) == {"stripe", "auth0", "crm"}
    assert repr(module.POLICIES["auth0"][0]) == repr(bundle.integrations["auth0"].retry)

    now = [0.0]
    transitions: list[tuple[str, str]] = []
    guards = module.build_guards(
        clock=lambda: now[0], on_transition=lambda n, t: transitions.append((n, t.target.value))
    )
    caches = module.build_caches(clock=lambda: now[0])
    guard = guards["stripe"]
    guard.retrier = module.Retrier(module.POLICIES["stripe"][0], sleep=_no_sleep)
    calls = 0
    failing = False

    async def charge() -> str:
        nonlocal calls
        calls += 1
        if failing:
            raise ConnectionError("stripe down")
        return "charged"

    async def scenario() -> list[str]:
        nonlocal failing
        out = [await caches["stripe"].call("quote", guard.call, charge)]
        failing = True
        for _ in range(2):  # 4 attempts each (3 retries): the fifth failure opens, then rejections
            out.append(await caches["stripe"].call("quote", guard.call, charge))
        return out

    assert asyncio.run(scenario()) == ["charged", "charged", "charged"]  # the cache stood in
    assert calls == 1 + 5 and guard.breaker.state.value == "open"
    now[0] += 60.0
    failing = False
    assert asyncio.run(guard.call(charge)) == "charged"
    assert guard.breaker.state.value == "closed"
    assert transitions == [("stripe", "open"), ("stripe", "half_open"), ("stripe", "closed")]


async def _no_sleep(seconds: float) -> None:
    return None


def test_alert_rules_have_prometheus_structure() -> None:
    rules_yaml = generate({"stripe": measured()}, {"level.api_reliability.threshold": 99.9}).alert_rules_yaml
    document = yaml.safe_load(rules_yaml)
    assert list(document) == ["groups"]
    (group,) = document["groups"]
    assert set(group) == {"name", "rules"} and group["name"]
    names = [r["alert"] for r in group["rules"]]
    assert names == [
        "APIReliabilityLow",
        "APIErrorRateHigh",
        "LatencyP95High",
        "CircuitBreakerOpen",
        "CircuitBreakerFlapping",
    ]
    for rule in group["rules"]:
        assert set(rule) == {"alert", "expr", "for", "labels", "annotations"}
        assert re.fullmatch(r"\d+[smhdw]", rule["for"])
        assert rule["labels"]["integration"] == "stripe" and rule["labels"]["severity"] in {"page", "warning"}
        assert {"summary", "description"} <= set(rule["annotations"])
        assert 'integration="stripe"' in rule["expr"] and rule["expr"].count("(") == rule["expr"].count(")")
    by_name = {r["alert"]: r for r in group["rules"]}
    assert by_name["APIReliabilityLow"]["expr"].endswith("< 99.9") and by_name["APIReliabilityLow"]["for"] == "15m"
    assert by_name["LatencyP95High"]["expr"].endswith("> 1000") and by_name["LatencyP95High"]["for"] == "10m"
    assert by_name["CircuitBreakerFlapping"]["expr"].endswith("> 3")


def test_grafana_panel(bundle: FallbackBundle) -> None:
    panel = json.loads(bundle.grafana_panel_json())
    assert panel["type"] == "timeseries" and panel["fieldConfig"]["defaults"]["unit"] == "percent"
    assert [t["legendFormat"] for t in panel["targets"]] == ["auth0", "crm", "stripe"]
    assert len({t["refId"] for t in panel["targets"]}) == 3
    steps = panel["fieldConfig"]["defaults"]["thresholds"]["steps"]
    assert [s["color"] for s in steps] == ["red", "yellow", "green"] and steps[-1]["value"] == 99.0


@pytest.fixture
def healthy_target() -> Iterator[ServedApp]:
    async def ok(request: web.Request) -> web.Response:
        return web.Response(text="ok")

    app = web.Application()
    app.router.add_get("/health", ok)
    with serve_app(app) as served:
        yield served


def test_prove_breaker_opens_after_five_and_closes_after_recovery(healthy_target: ServedApp) -> None:
    proof = prove_breaker(healthy_target.base_url + "/health", BreakerConfig(open_seconds=60))
    assert proof.passed, proof.timeline
    assert proof.opened_after == 5 and proof.expected_failures == 5
    assert proof.rejected_fast and proof.reject_ms is not None and proof.reject_ms < 50
    assert proof.closed_after_recovery and proof.activations == 1
    assert proof.open_seconds == PROOF_OPEN_SECONDS
    events = [e.event for e in proof.timeline]
    assert events.count("healthy call") == 3 and "call while open" in events
    assert [e.state for e in proof.timeline if e.event == "transition"] == ["open", "half_open", "closed"]
    assert (proof.timeline[-1].event, proof.timeline[-1].state) == ("trial call", "closed")
    assert proof.as_dict()["passed"] is True


def test_prove_breaker_fails_a_breaker_that_opens_too_late(healthy_target: ServedApp) -> None:
    proof = prove_breaker(healthy_target.base_url + "/health", BreakerConfig(failure_threshold=7), fault="close")
    assert proof.opened_after == 7 and proof.expected_failures == 5
    assert not proof.passed


def test_prove_breaker_needs_a_healthy_target() -> None:
    async def broken(request: web.Request) -> web.Response:
        return web.Response(status=500)

    app = web.Application()
    app.router.add_get("/", broken)
    with serve_app(app) as served:
        proof = prove_breaker(served.base_url + "/", BreakerConfig())
    assert not proof.healthy_before and not proof.passed


def test_artifact_entries_match_the_stage_schemas(healthy_target: ServedApp) -> None:
    with FaultProxy(healthy_target.base_url) as proxy:
        proxy.set_mode("rate_limit", rate=40.0, burst=2, retry_after_s=2)
        result = run_profile_sync(proxy.url("/health"), LoadProfile.ramp([20, 80], 0.5))
    fallback = generate({"crm": result}, {}).integrations["crm"]
    assert fallback.retry.base_delay == 2.0
    proof = prove_breaker(healthy_target.base_url + "/health", fallback.breaker)
    assert proof.passed
    stage = next(s for s in load_workflow().workflow.stages if s.id == 19)
    schemas: dict[str, Any] = {name: a.json_schema for name, a in stage.artifacts.items()}
    jsonschema.validate({"integrations": [fallback.strategy_artifact(proof)]}, schemas["fallback_strategies"])
    entry = {"name": "crm", "base_url": "http://127.0.0.1:9", "timeout_ms": 2000, "retry": fallback.retry_artifact()}
    jsonschema.validate({"snapshot": "api_config_v1", "integrations": [entry]}, schemas["api_configurations"])
