"""The demo's ventures and the artifacts they store: realistic, schema-valid content (the demo and benchmarks)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

JSON = dict[str, Any]


@dataclass(frozen=True)
class Spec:
    """A demo venture: who it is and where it starts."""

    name: str
    segment: str
    stage: int
    pitch: str


KEYSTONE = Spec("keystone-ledger", "b2b_enterprise", 14, "procurement ledger for hospital groups")
TALLY = Spec("tally-books", "b2b_smb", 19, "bookkeeping for cafés and small shops")
CARTWHEEL = Spec("cartwheel", "b2c_mass", 19, "second-hand kids' gear marketplace")
LUMEN = Spec("lumen-atelier", "b2c_premium", 28, "made-to-measure lighting studio")
QUARRY = Spec("quarry-analytics", "b2b_enterprise", 28, "site analytics for aggregate quarries")
FERRY = Spec("ferryway", "b2c_mass", 30, "ferry tickets and boarding passes for island routes")
VENTURES = (KEYSTONE, TALLY, CARTWHEEL, LUMEN, QUARRY, FERRY)


def iso(t: datetime) -> str:
    """RFC 3339 in UTC with a Z."""
    return t.strftime("%Y-%m-%dT%H:%M:%SZ")


def day(t: datetime, days: int = 0) -> str:
    """An RFC 3339 date `days` after `t`."""
    return (t + timedelta(days=days)).strftime("%Y-%m-%d")


# -- stage 14 ----------------------------------------------------------------------------------


def technical_plan(t0: datetime) -> JSON:
    """The approved plan Keystone enters stage 14 with."""
    return {
        "venture_id": KEYSTONE.name,
        "version": "2.1",
        "architecture": {
            "summary": "Multi-tenant ledger API with an event-sourced audit trail and a React back office.",
            "components": [
                {"name": "ledger-api", "responsibility": "Purchase orders, invoices and three-way matching"},
                {"name": "audit-log", "responsibility": "Append-only event store for every ledger change"},
                {
                    "name": "back-office",
                    "responsibility": "Buyer and approver screens",
                    "depends_on": ["ledger-api"],
                },
                {
                    "name": "erp-sync",
                    "responsibility": "Nightly export to the hospitals' ERP systems",
                    "depends_on": ["ledger-api", "audit-log"],
                },
            ],
        },
        "tech_stack": ["python", "fastapi", "postgresql", "react", "terraform"],
        "cloud_provider": "aws",
        "constraints": ["HIPAA-eligible services only", "data stays in eu-central-1"],
        "approval": {"status": "approved", "approved_by": "chairman", "approved_at": iso(t0 - timedelta(days=3))},
    }


def resource_requirements() -> JSON:
    """Budget, people and infrastructure Keystone's build needs."""
    return {
        "venture_id": KEYSTONE.name,
        "budget": {
            "required_usd_monthly": 98000,
            "allocated_usd_monthly": 90000,
            "infrastructure_usd_monthly": 7500,
        },
        "roles": [
            {"role": "tech lead", "count": 1, "critical": True, "skills": ["python", "postgresql"], "allocated": 1},
            {"role": "backend engineer", "count": 3, "critical": True, "skills": ["fastapi"], "allocated": 2},
            {"role": "frontend engineer", "count": 2, "critical": False, "skills": ["react"], "allocated": 2},
            {"role": "devops engineer", "count": 1, "critical": True, "skills": ["terraform", "aws"], "allocated": 1},
            {"role": "qa engineer", "count": 1, "critical": False, "allocated": 0},
        ],
        "infrastructure": {
            "environments": ["dev", "staging", "production"],
            "capacity_notes": "Two m7g.large app nodes per environment; RDS Multi-AZ in production only.",
        },
        "allocation_percent": 92,
    }


def timeline(t0: datetime) -> JSON:
    """Keystone's milestones."""
    return {
        "venture_id": KEYSTONE.name,
        "development_start": day(t0, 7),
        "sprint_1_start": day(t0, 14),
        "target_launch": day(t0, 120),
        "required_velocity_points": 24,
        "milestones": [
            {"name": "Environments and pipeline ready", "due": day(t0, 7)},
            {"name": "Sprint 1 committed", "due": day(t0, 14), "depends_on": ["Environments and pipeline ready"]},
            {"name": "Pilot with St. Aldhelm's", "due": day(t0, 90), "depends_on": ["Sprint 1 committed"]},
        ],
    }


def development_environment(t: datetime) -> JSON:
    """What 14.1 provisioned."""
    base = "https://keystone-ledger.internal"
    return {
        "venture_id": KEYSTONE.name,
        "environments": [
            {
                "name": "dev",
                "status": "ready",
                "url": f"{base}/dev",
                "database": "postgresql-16",
                "iac_ref": "infra/envs/dev",
                "provisioned_at": iso(t - timedelta(hours=4)),
            },
            {
                "name": "staging",
                "status": "ready",
                "url": f"{base}/staging",
                "database": "postgresql-16",
                "iac_ref": "infra/envs/staging",
                "provisioned_at": iso(t - timedelta(hours=2)),
            },
        ],
        "ci_cd": {
            "provider": "github-actions",
            "pipeline_url": "https://github.com/keystone-ledger/app/actions",
            "stages": ["lint", "build", "test", "deploy"],
            "coverage_percent": 84.5,
            "last_run_status": "passed",
            "secrets_ref": "vault:kv/keystone/ci",
        },
        "tools": [
            {"name": "Linear", "category": "project_management", "sso": True, "reachable": True},
            {"name": "Slack", "category": "chat", "sso": True, "reachable": True},
            {"name": "Notion", "category": "docs", "sso": True, "reachable": True},
            {"name": "GitHub", "category": "code_review", "sso": True, "reachable": True},
            {"name": "Datadog", "category": "apm", "sso": False, "reachable": True},
        ],
        "monitoring": {"enabled": True, "dashboard_url": "https://app.datadoghq.eu/dashboard/keystone"},
        "access": {"developers_total": 6, "developers_with_access": 6},
    }


# -- stage 19 ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Integration:
    """One third-party integration of a stage-19 venture, and how its sandbox tests went."""

    name: str
    provider: str
    criticality: str
    base_url: str
    auth: str
    rate_limit: float
    timeout_ms: int
    version: str
    tests: int
    passed: int


Row = tuple[str, str, str, str, str, float, int, str, int, int]


def _integrations(*rows: Row) -> tuple[Integration, ...]:
    return tuple(Integration(*row) for row in rows)


# name, provider, criticality, base URL, auth, rate limit (req/s), timeout (ms), API version, tests, passed
TALLY_INTEGRATIONS = _integrations(
    ("payments", "Stripe", "critical", "https://api.stripe.com/v1", "bearer", 100, 8000, "2024-06-20", 28, 28),
    ("bank-feeds", "Plaid", "critical", "https://sandbox.plaid.com", "api_key", 50, 10000, "2020-09-14", 22, 21),
    ("receipts-email", "Postmark", "medium", "https://api.postmarkapp.com", "api_key", 300, 5000, "v1", 13, 12),
)
CARTWHEEL_INTEGRATIONS = _integrations(
    ("checkout", "Adyen", "critical", "https://checkout-test.adyen.com/v71", "api_key", 200, 8000, "v71", 17, 17),
    ("shipping-labels", "Shippo", "high", "https://api.goshippo.com", "bearer", 25, 6000, "2018-02-08", 12, 9),
    ("transactional-email", "SendGrid", "medium", "https://api.sendgrid.com/v3", "bearer", 600, 5000, "v3", 10, 10),
)


def _env(venture: str, integration: str) -> str:
    return f"{venture}_{integration}_KEY".upper().replace("-", "_")


def env_grant(venture: str) -> str:
    """The `secrets.allowed_env` entry granting a venture its sandbox keys (`VENTURE_*`)."""
    return _env(venture, "")[: -len("_KEY")] + "*"


def integration_requirements(integrations: tuple[Integration, ...]) -> JSON:
    """The integrations a stage-19 venture relies on."""
    return {
        "integrations": [
            {
                "name": i.name,
                "provider": i.provider,
                "criticality": i.criticality,
                "api_version": i.version,
                "base_url": i.base_url,
                "openapi_spec": f"docs/api/{i.name}.yaml",
                "auth": {"type": i.auth, **({"header": "Authorization"} if i.auth == "bearer" else {})},
                "rate_limit_req_sec": i.rate_limit,
                "timeout_ms": i.timeout_ms,
            }
            for i in integrations
        ]
    }


def api_documentation(integrations: tuple[Integration, ...]) -> JSON:
    """Where each integration's OpenAPI document lives."""
    return {
        "specs": [
            {
                "integration": i.name,
                "format": "openapi-3.0",
                "location": f"docs/api/{i.name}.yaml",
                "version": i.version,
            }
            for i in integrations
        ]
    }


def test_accounts(venture: str, integrations: tuple[Integration, ...]) -> JSON:
    """Sandbox accounts; credentials only as environment-variable references."""
    return {
        "accounts": [
            {
                "integration": i.name,
                "environment": "sandbox",
                "account_id": f"{venture}-{i.name}-sbx",
                "credentials": {"api_key": {"env": _env(venture, i.name)}},
            }
            for i in integrations
        ]
    }


def integration_test_results(
    run_id: str,
    at: datetime,
    integrations: tuple[Integration, ...],
    latency_p95: float | None = None,
    throughput: float | None = None,
) -> JSON:
    """What a 19.1 test run (and, when given, the 19.2 load test) found."""
    total = sum(i.tests for i in integrations)
    passed = sum(i.passed for i in integrations)
    rows = []
    for i in integrations:
        row: JSON = {
            "name": i.name,
            "tests_total": i.tests,
            "tests_passed": i.passed,
            "data_flows_verified": i.passed == i.tests,
            "error_handling": {
                "unauthorized_401": "pass",
                "rate_limited_429": "pass" if i.passed == i.tests else "fail",
                "timeout": "pass",
            },
            "reports": [f"reports/{run_id}/{i.name}.xml"],
        }
        if latency_p95 is not None and throughput is not None:
            row["performance"] = {
                "latency_p95_ms": latency_p95,
                "latency_p99_ms": round(latency_p95 * 1.9),
                "throughput_req_sec": throughput,
                "rate_limit_observed_req_sec": i.rate_limit,
            }
        rows.append(row)
    return {
        "run_id": run_id,
        "executed_at": iso(at),
        "summary": {
            "tests_total": total,
            "tests_passed": passed,
            "success_rate": round(100 * passed / total, 1),
            "endpoint_coverage": 88.0,
        },
        "integrations": rows,
    }


def _retry(i: Integration) -> JSON:
    return {"max_retries": 3, "base_delay_ms": 200, "multiplier": 2, "max_delay_ms": min(i.timeout_ms, 4000)}


def api_configurations(integrations: tuple[Integration, ...]) -> JSON:
    """The verified client settings, as a snapshot a rollback can restore."""
    return {
        "snapshot": "api_config_v1.0",
        "integrations": [
            {
                "name": i.name,
                "base_url": i.base_url,
                "api_version": i.version,
                "timeout_ms": i.timeout_ms,
                "rate_limit_req_sec": i.rate_limit,
                "limits_doc": "docs/api-limits.md",
                "retry": _retry(i),
            }
            for i in integrations
        ],
    }


def fallback_strategies(integrations: tuple[Integration, ...]) -> JSON:
    """Retry, circuit breaker, cached fallback and monitoring per integration."""
    return {
        "integrations": [
            {
                "name": i.name,
                "retry": _retry(i),
                "circuit_breaker": {
                    "library": "pybreaker",
                    "timeout_ms": i.timeout_ms,
                    "error_threshold_percent": 50,
                    "reset_timeout_ms": 30000,
                    "verified": {"opened_after_failures": 5, "auto_reset": True},
                },
                "cache_fallback": {"enabled": i.criticality != "critical", "ttl_seconds": 300},
                "monitoring": {"dashboard": f"grafana/d/{i.name}", "alert_rules": [f"{i.name}-error-rate"]},
            }
            for i in integrations
        ]
    }


# -- stage 28 ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Perf:
    """The before and after numbers of a stage-28 venture."""

    p50: float
    p95: float
    p99: float
    cache: float
    cpu: float
    memory: float
    page_load: float
    slow_queries: int


LUMEN_BEFORE = Perf(95, 610, 1450, 31, 74, 81, 2300, 4)
LUMEN_AFTER = Perf(42, 185, 420, 77, 52, 63, 880, 0)
QUARRY_BEFORE = Perf(120, 540, 1900, 22, 81, 77, 1900, 7)
QUARRY_AFTER = Perf(38, 165, 380, 84, 49, 61, 720, 0)

HOT_PATHS = {
    LUMEN.name: [
        ("GET /api/catalogue/{collection}", "database", 182000, 240.0, "N+1 query over fixtures and finishes"),
        ("GET /api/configurator/price", "api", 96000, 310.0, "price recomputed from the bill of materials"),
        ("render ProductGallery", "frontend", 140000, 95.0, "full-size images decoded on the main thread"),
    ],
    QUARRY.name: [
        ("GET /api/sites/{id}/tonnage", "database", 64000, 410.0, "sequential scan on weighbridge_readings"),
        ("POST /api/reports/daily", "api", 3100, 5200.0, "report rebuilt from raw readings each time"),
        ("GET /api/sites", "api", 88000, 120.0, "permissions checked per row"),
    ],
}

SLOW_QUERIES: dict[str, JSON] = {
    LUMEN.name: {"fingerprint": "SELECT … FROM fixtures WHERE collection_id = $1", "avg_ms": 1210, "calls": 182000},
    QUARRY.name: {
        "fingerprint": "SELECT … FROM weighbridge_readings WHERE site_id = $1 ORDER BY at",
        "avg_ms": 1840,
        "calls": 6400,
        "missing_index": True,
    },
}


def performance_baseline(venture: str, before: Perf, at: datetime) -> JSON:
    """Every layer measured before any optimisation."""
    return {
        "measured_at": iso(at),
        "environment": "production",
        "source": "Datadog APM, pg_stat_statements, Lighthouse CI",
        "window_minutes": 1440,
        "api": {
            "p50_ms": before.p50,
            "p95_ms": before.p95,
            "p99_ms": before.p99,
            "requests_per_second": 140,
            "endpoints": [
                {
                    "method": "GET" if name.startswith("GET") else "POST",
                    "route": name.split(" ", 1)[1],
                    "p95_ms": avg * 2.2,
                }
                for name, layer, _, avg, _ in HOT_PATHS[venture]
                if layer != "frontend"
            ],
        },
        "frontend": {"tti_p75_ms": before.page_load, "fcp_p75_ms": round(before.page_load * 0.45), "bundle_kb": 910},
        "database": {"avg_query_ms": 38, "slow_query_count": before.slow_queries, "connection_pool_usage_percent": 71},
        "infrastructure": {
            "cpu_percent_avg": before.cpu,
            "cpu_percent_peak": min(100, before.cpu + 17),
            "memory_percent_avg": before.memory,
            "memory_percent_peak": min(100, before.memory + 9),
            "disk_percent": 58,
        },
    }


def bottleneck_analysis(venture: str, at: datetime) -> JSON:
    """Hot paths ranked by executions × average time."""
    paths = sorted(HOT_PATHS[venture], key=lambda p: -p[2] * p[3])
    return {
        "generated_at": iso(at),
        "hot_paths": [
            {
                "rank": n,
                "name": name,
                "layer": layer,
                "executions": execs,
                "avg_ms": avg,
                "impact_score": execs * avg,
                "suspected_cause": cause,
            }
            for n, (name, layer, execs, avg, cause) in enumerate(paths, 1)
        ],
        "slow_queries": [SLOW_QUERIES[venture]],
    }


def cache_requirements(venture: str) -> JSON:
    """Which reads deserve a cache."""
    if venture == LUMEN.name:
        candidates = [
            {
                "name": "catalogue pages",
                "layer": "application",
                "read_write_ratio": 400,
                "max_staleness_seconds": 300,
                "approx_size_kb": 48,
            },
            {
                "name": "configurator prices",
                "layer": "application",
                "read_write_ratio": 120,
                "max_staleness_seconds": 60,
                "approx_size_kb": 2,
            },
            {
                "name": "product images",
                "layer": "http",
                "read_write_ratio": 5000,
                "max_staleness_seconds": 86400,
                "approx_size_kb": 350,
            },
        ]
    else:
        candidates = [
            {
                "name": "site tonnage summaries",
                "layer": "database",
                "read_write_ratio": 60,
                "max_staleness_seconds": 600,
                "approx_size_kb": 12,
            },
            {
                "name": "site list per user",
                "layer": "application",
                "read_write_ratio": 900,
                "max_staleness_seconds": 300,
                "approx_size_kb": 4,
                "personalised": True,
            },
        ]
    return {"memory_budget_mb": 512, "candidates": candidates}


CACHE_DESIGNS: dict[str, list[JSON]] = {
    # Lumen's cache as first built, then as reworked after each PERF-002 recursion and the escalation.
    LUMEN.name: [
        {
            "technology": "redis",
            "key_namespace": "lumen:cat:v1",
            "ttl_seconds": 3600,
            "invalidation": "scheduled",
            "note": "catalogue pages cached for an hour, rebuilt nightly",
        },
        {
            "technology": "redis",
            "key_namespace": "lumen:cat:{revision}",
            "ttl_seconds": 1800,
            "invalidation": "event-driven",
            "note": "keys versioned by catalogue revision",
        },
        {
            "technology": "redis",
            "key_namespace": "lumen:cat:{revision}",
            "ttl_seconds": 1800,
            "invalidation": "event-driven",
            "note": "TTL jitter and a warm-up job after each import",
        },
        {
            "technology": "valkey",
            "key_namespace": "lumen:cat:{revision}",
            "ttl_seconds": 3600,
            "invalidation": "event-driven",
            "note": "Valkey with LFU eviction and a dedicated catalogue pool",
        },
    ],
    QUARRY.name: [
        {
            "technology": "redis",
            "key_namespace": "quarry:sites",
            "ttl_seconds": 600,
            "invalidation": "write-through",
            "note": "tonnage summaries written through on each weighbridge reading",
        },
    ],
}


def cache_layer(venture: str, version: int) -> JSON:
    """The cache as built in 28.2 (version counts from 1)."""
    d = CACHE_DESIGNS[venture][version - 1]
    return {
        "layers": [
            {
                "layer": "application",
                "technology": d["technology"],
                "pattern": "cache-aside",
                "key_namespace": d["key_namespace"],
                "ttl_seconds": d["ttl_seconds"],
                "max_memory_mb": 384,
            },
            {
                "layer": "http",
                "technology": "cdn",
                "pattern": "http-headers",
                "ttl_seconds": 86400,
                "cache_control": "public, max-age=86400, stale-while-revalidate=600",
                "etag": True,
            },
        ],
        "invalidation": {
            "strategy": d["invalidation"],
            "delay_ms": 0,
            "events": ["catalogue.imported", "price.changed"] if venture == LUMEN.name else ["reading.recorded"],
        },
    }


def cache_note(venture: str, version: int) -> str:
    """One line about a cache design."""
    return str(CACHE_DESIGNS[venture][version - 1]["note"])


def optimized_code(venture: str, before: Perf, after: Perf) -> JSON:
    """The committed changes of 28.3."""
    paths = HOT_PATHS[venture]
    techniques = (
        ["n_plus_one_fix", "memoization", "lazy_loading"]
        if venture == LUMEN.name
        else ["index", "batching", "data_structure"]
    )
    return {
        "repository": f"github.com/{venture}/app",
        "commits": [{"sha": "4be1f07c", "message": "Fix N+1 on hot paths"}, {"sha": "9d02e5aa", "message": "Batch"}],
        "changes": [
            {
                "hot_path": name,
                "technique": technique,
                "complexity_before": "O(n^2)" if n == 0 else "O(n)",
                "complexity_after": "O(n)" if n == 0 else "O(1)",
                "before_ms": avg,
                "after_ms": round(avg * after.p95 / before.p95, 1),
            }
            for n, ((name, _, _, avg, _), technique) in enumerate(zip(paths, techniques, strict=True))
        ],
        "lint_passed": True,
        "regression_tests_passed": True,
    }


def _snapshot(p: Perf) -> JSON:
    return {
        "api_p50_ms": p.p50,
        "api_p95_ms": p.p95,
        "api_p99_ms": p.p99,
        "page_load_p75_ms": p.page_load,
        "cache_hit_rate_percent": p.cache,
        "cpu_percent_avg": p.cpu,
        "memory_percent_avg": p.memory,
        "slow_query_count": p.slow_queries,
    }


def performance_report(before: Perf, after: Perf, at: datetime) -> JSON:
    """The before/after comparison that closes stage 28."""
    return {
        "generated_at": iso(at),
        "before": _snapshot(before),
        "after": _snapshot(after),
        "targets": {
            "api_p50_ms": 50,
            "api_p95_ms": 200,
            "api_p99_ms": 500,
            "page_load_p75_ms": 1000,
            "cache_hit_rate_percent": 70,
        },
        "load_test": {"tool": "k6", "virtual_users": 400, "duration_seconds": 1800, "error_rate_percent": 0.2},
        "verdict": "pass",
        "recommendations": ["Move image resizing to the CDN edge", "Review pool size after the next traffic peak"],
    }


# -- stage 30 ----------------------------------------------------------------------------------

FERRY_RELEASE = "3.2.0"
FERRY_CANARY_STEPS = [10, 50, 100]
"""The canary schedule of Ferryway's deployment plan: the stage's default `traffic.canary_steps`."""
FERRY_CUTOVER_ERRORS = (0.6, 2.8, 6.1, 7.4, 8.2, 7.9, 8.6, 8.1, 7.7, 8.4, 8.0, 7.6, 8.3, 8.1, 7.9)
"""Ferryway's cutover error rate (percent), one reading every 10 s from the moment half the traffic is on green."""
FERRY_BLUE_ERRORS = (1.9, 0.5, 0.4, 0.4, 0.3, 0.4)
"""The error rate, every 10 s, once traffic is back on blue."""


def release_candidate(t0: datetime) -> JSON:
    """The build Ferryway enters stage 30 with: approved, tested, no database migration."""
    return {
        "version": FERRY_RELEASE,
        "commit": "4f9c2e71ab",
        "build_ref": f"registry.ferryway.internal/app:{FERRY_RELEASE}",
        "changelog": "Seat maps for the island routes; boarding passes in the wallet apps.",
        "approval": {"approved_by": "ada", "role": "chairman", "approved_at": iso(t0 - timedelta(days=1))},
        "tests_passed": True,
        "security_baseline": {"passed": True, "report": "https://ci.ferryway.internal/security/3.2.0"},
        "migrations": [],
    }


def deployment_plan(t0: datetime) -> JSON:
    """How 3.2.0 goes out: Kubernetes, three health endpoints, backups, the 10/50/100 canary."""
    base = "https://ferryway.internal"
    return {
        "release_version": FERRY_RELEASE,
        "platform": "kubernetes",
        "scheduled_for": iso(t0 + timedelta(days=1, hours=6)),
        "maintenance_window": "none (blue-green, zero downtime)",
        "health_checks": [
            {"name": "database", "url": f"{base}/healthz/db"},
            {"name": "api", "url": f"{base}/healthz"},
            {"name": "external", "url": f"{base}/healthz/payments"},
        ],
        "dependencies": [
            {"name": "Adyen payments", "kind": "external_service", "critical": True},
            {"name": "SEAT_MAP_TILES_URL", "kind": "env_var", "critical": True},
            {"name": "vault:kv/ferryway/wallet-passes", "kind": "secret", "critical": False},
        ],
        "backups": {"database": True, "files": True, "restore_test_environment": "staging"},
        "canary": {"steps": FERRY_CANARY_STEPS, "monitor_seconds_per_step": 300},
    }


def rollback_strategy() -> JSON:
    """Back to blue: a traffic rollback in under a minute, or a full one in five."""
    return {
        "blue_environment": "ferryway-blue (3.1.4)",
        "backup_ref": "rds-snapshot:ferryway-prod-pre-3-2-0",
        "types": [
            {"type": "traffic", "max_minutes": 1, "expected_downtime_minutes": 0, "data_loss_possible": False},
            {"type": "full", "max_minutes": 5, "expected_downtime_minutes": 2, "data_loss_possible": True},
        ],
        "triggers": [
            "cutover error rate above rollback.error_rate_threshold for rollback.error_rate_duration",
            "p95 above rollback.response_time_threshold for the same window",
            "any smoke test failing after the switch",
        ],
        "dry_run_command": "venturegate rollback ferryway --to pre-stage-30 --dry-run",
    }


class ProviderError(Exception):
    """An HTTP error from a provider's API, with its status (as aiohttp's and httpx's errors carry one)."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


@dataclass
class ShippoSandbox:
    """Shippo's sandbox as Cartwheel's crew meets it: throttled (429) for the first `throttled` calls."""

    throttled: int = 2
    calls: int = 0

    def buy_label(self) -> JSON:
        """Buy a test shipping label."""
        self.calls += 1
        if self.calls <= self.throttled:
            raise ProviderError(429, "429 Too Many Requests: rate limit of 25 requests/s exceeded")
        return {"object_id": "lbl_7d41c0e2", "status": "SUCCESS", "tracking_number": "SHIPPO_DELIVERED"}
