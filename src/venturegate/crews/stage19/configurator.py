"""19.3 FallbackConfigurator: retry policies and circuit breakers from the measured profile (the `fallback`
module), written as files the venture keeps, then each breaker proven through a fault-injecting proxy.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from venturegate.crews.stage19 import fallback
from venturegate.crews.stage19.inputs import Integration
from venturegate.crews.stage19.performance import PerfResult


@dataclass
class FallbackResult:
    """What 19.3 generated and proved."""

    bundle: fallback.FallbackBundle
    proofs: dict[str, fallback.BreakerProof]
    files: dict[str, Path]
    strategies: dict[str, Any]
    coverage: float
    proof_pass_rate: float
    activations: int


def _proof_url(integration: Integration, spec: dict[str, Any]) -> str:
    """An operation the proof can call without credentials (a health check), else the base URL."""
    top = spec.get("security")
    for path, ops in spec.get("paths", {}).items():
        get = ops.get("get")
        if get is not None and "{" not in path and not get.get("security", top):
            return integration.base_url + str(path)
    return integration.base_url + "/"


def configure(
    integrations: list[Integration],
    specs: dict[str, dict[str, Any]],
    perf: dict[str, PerfResult],
    config: dict[str, Any],
    out_dir: Path,
) -> FallbackResult:
    """Generate and prove the fallbacks of every measured integration."""
    bundle = fallback.generate({name: p.baseline for name, p in perf.items()}, config)
    files = bundle.write(out_dir / "fallbacks")
    failures = int(config.get("circuit_breakers.test_consecutive_failures", 5))
    monitoring = bool(config.get("monitoring.enabled", True))
    proofs: dict[str, fallback.BreakerProof] = {}
    items = []
    activations = 0
    for integ in integrations:
        chosen = bundle.integrations.get(integ.name)
        if chosen is None:
            continue
        proof = fallback.prove_breaker(_proof_url(integ, specs[integ.name]), chosen.breaker, failures_to_open=failures)
        proofs[integ.name] = proof
        item = chosen.strategy_artifact(proof)
        if monitoring:
            item["monitoring"] = {
                "dashboard": str(files["grafana"]),
                "alert_rules": [str(files["alerts"])],
            }
        items.append(item)
        # Openings the breaker would have had under the normal (constant) load — not the proof's, which
        # are provoked on purpose and would otherwise send every venture back to 19.3 (INTEGRATION-004).
        errors = sum(perf[integ.name].baseline.errors_by_status.values())
        activations += 1 if errors >= chosen.breaker.failure_threshold else 0
    total = len(integrations)
    covered = sum(1 for i in items if i.get("cache_fallback", {}).get("enabled") and i.get("retry"))
    passed = sum(1 for p in proofs.values() if p.passed)
    return FallbackResult(
        bundle=bundle,
        proofs=proofs,
        files=files,
        strategies={"integrations": items},
        coverage=round(100.0 * covered / total, 2) if total else 0.0,
        proof_pass_rate=round(100.0 * passed / total, 2) if total else 0.0,
        activations=activations,
    )
