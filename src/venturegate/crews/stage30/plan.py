"""The stage-30 run's inputs: options (checked against the known ones), the deployment plan, the release.

Mistakes are refused, never ignored: an unknown option (with the list of known ones), a deployment plan
for another release than the release candidate, a plan step duration that disagrees with the
`soak_seconds` option, routes that are not absolute paths. Each refusal is a `PlanError` whose message
says what, where and how to fix it; nothing has changed when it is raised.
"""

from __future__ import annotations

import shlex
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from venturegate.crews.stage30 import demo_service, validator, verifier
from venturegate.crews.stage30.demo_service import Faults
from venturegate.crews.stage30.haproxy import HealthCheck
from venturegate.crews.stage30.orchestrator import CanaryConfig
from venturegate.crews.stage30.routes import RouteError, Routes, load_openapi, routes_from_openapi, routes_from_paths

OPTIONS: dict[str, str] = {
    "out_dir": "folder for the run's report files (default: the run's folder under the workspace)",
    "blue_version": "the serving version's name when production is started by this run (default blue)",
    "green_version": "the release to deploy when there is no release_candidate artifact",
    "command": "command template that starts a version: {port}, {version}, {python} are filled in",
    "openapi": "the service's OpenAPI document: a file, a URL, or a path on blue such as /openapi.json",
    "routes": "comma-separated GET routes to exercise and judge (templates such as /items/{id} allowed)",
    "production": "persistent (default: production outlives the run) or run (stopped when the run ends)",
    "load_rate": "requests per second the crew sends through the front end during the cutover (default 0)",
    "soak_seconds": "seconds each canary step is watched (default: the plan's monitor_seconds_per_step, "
    "else traffic.canary_monitoring_duration)",
    "window_seconds": "rolling window of the error-rate and p95 rules (default 10)",
    "sample_interval": "seconds between two readings of HAProxy (default 1)",
    "probe_interval": "seconds between two probes straight to green (default 0.1)",
    "check_inter_ms": "HAProxy health-check interval in ms (default 250; fall 2, rise 2)",
    "approval_wait": "seconds to wait for the Chairman's decision before ending the run as waiting (default 0)",
    "hold_wait": "seconds a held step waits for the Chairman before traffic goes back to blue (default 0)",
    "database_url": "the production database (health check, backed up in 30.1 and before a migration, restored on "
    "rollback)",
    "api_url": "an extra API health check URL",
    "external_url": "an external service health check URL",
    "health_check_interval": "seconds between 30.1 health-check retries (default 10)",
    "migrate_command": "run after green is healthy and before any traffic moves (the database is backed up first)",
    "migrate_timeout": "seconds the migration command may run before it is killed and undone "
    "(default: deployment.backup_verification_timeout)",
    "smoke_paths": "comma-separated smoke-test paths (default: every route)",
    "smoke_command": "a smoke-test command (exit 0 = pass), run with PRODUCTION_URL set",
    "green_error_rate": "demo service only: share of / requests green fails",
    "green_latency_ms": "demo service only: extra latency of green",
    "green_faults": "demo service only: green's faults as demo-service options, e.g. '--fail-route /orders "
    "--fail-rate 0.15'",
}
"""Every option the crew reads, with what it does (`-o KEY=VALUE`)."""


class PlanError(ValueError):
    """The run's inputs are inconsistent or unknown; the message says what and how to fix it."""


def check_options(options: Mapping[str, Any]) -> None:
    """Refuse options the crew does not know, listing the known ones."""
    unknown = sorted(k for k in options if k not in OPTIONS)
    if unknown:
        raise PlanError(
            f"unknown option(s) {', '.join(unknown)}; the stage-30 crew knows: {', '.join(sorted(OPTIONS))}"
        )


def _float(options: Mapping[str, Any], key: str, default: float) -> float:
    raw = options.get(key, default)
    try:
        return float(raw)
    except (TypeError, ValueError):
        raise PlanError(f"option {key}={raw!r} is not a number (e.g. {key}={default})") from None


def _openapi_source(option: str, stored: object) -> str | None:
    """Where the OpenAPI document may come from: a path on the service, a loopback URL, or (an operator's
    option only) a file inside the workspace. A deployment plan is untrusted: it may only name a path on
    the service, never a file of the server or another host."""
    from urllib.parse import urlsplit

    from venturegate.crews.paths import confined
    from venturegate.crews.stage30.live import default_workspace

    if stored is not None and not option:
        if not isinstance(stored, str) or not stored.startswith("/") or stored.startswith("//"):
            raise PlanError(f"deployment_plan openapi {stored!r}: name a path on the service, such as /openapi.json")
        return stored
    if not option:
        return None
    if option.startswith("/") and not Path(option).exists():
        return option
    if option.startswith(("http://", "https://")):
        if urlsplit(option).hostname not in ("127.0.0.1", "localhost", "::1"):
            raise PlanError(f"option openapi={option!r}: only a loopback URL (the service runs here) is fetched")
        return option
    try:
        return str(confined(default_workspace(), option, where="option openapi"))
    except Exception as exc:
        raise PlanError(f"option openapi={option!r}: {exc}") from None


@dataclass
class Plan:
    """Everything the run needs to know, read once at its start."""

    blue: str
    green: str
    command: list[str]
    overrides: dict[str, list[str]]
    canary: CanaryConfig
    check: HealthCheck
    health_checks: list[validator.HealthCheck]
    dependencies: list[validator.Dependency]
    database_url: str | None
    retries: int
    interval: float
    backup_timeout: float
    migrate: list[str]
    smoke_paths: list[str] | None
    smoke_command: list[str] | None
    smoke_timeout: float
    critical_only: bool
    load_rate: float
    persistent: bool
    approval_wait: float
    hold_wait: float
    openapi: str | None
    route_paths: list[str] | None
    sleep: Callable[[float], None] = time.sleep
    migrate_timeout: float = 1800.0

    @classmethod
    def read(
        cls,
        options: Mapping[str, Any],
        settings: Mapping[str, Any],
        stored: Mapping[str, Any] | None,
        release: Mapping[str, Any] | None,
    ) -> Plan:
        """From the options, the venture's stage-30 settings, the deployment plan and the release candidate."""
        check_options(options)
        o = options
        green = str(release["version"]) if release else str(o.get("green_version", "green"))
        if stored and release and str(stored.get("release_version")) != green:
            raise PlanError(
                f"the deployment_plan is for release {stored.get('release_version')!r} but the release candidate is "
                f"{green!r}; store a deployment plan for {green!r} (`venturegate artifact put VENTURE deployment_plan`)"
            )
        overrides = {k: _float(o, k, 0.0) for k in ("soak_seconds", "window_seconds", "sample_interval",
                                                      "probe_interval") if k in o}  # fmt: skip
        plan_soak = (stored or {}).get("canary", {}).get("monitor_seconds_per_step")
        if plan_soak is not None:
            if "soak_seconds" in overrides and overrides["soak_seconds"] != float(plan_soak):
                raise PlanError(
                    f"option soak_seconds={overrides['soak_seconds']:g} disagrees with the deployment plan's "
                    f"monitor_seconds_per_step={plan_soak}; drop the option or change the plan"
                )
            overrides["soak_seconds"] = float(plan_soak)
        steps = (stored or {}).get("canary", {}).get("steps")
        base = {**settings, **({"traffic.canary_steps": steps} if steps else {})}
        try:  # the hold targets are the stage's metric targets (1 %, 500 ms): CanaryConfig's defaults
            canary = CanaryConfig.from_config(base, **overrides)
            check = HealthCheck(inter_ms=int(_float(o, "check_inter_ms", 250)))
        except ValueError as exc:
            raise PlanError(str(exc)) from None
        template = str(o.get("command", ""))
        command = shlex.split(template) if template else demo_service.command()
        demo: dict[str, list[str]] = {}
        if not template:
            faults = Faults(
                error_rate=_float(o, "green_error_rate", 0.0), latency_ms=_float(o, "green_latency_ms", 0.0)
            )
            extra = shlex.split(str(o.get("green_faults", "")))
            demo = {green: [*demo_service.command(faults=faults), *extra]}
        elif "green_faults" in o or "green_error_rate" in o or "green_latency_ms" in o:
            raise PlanError("green_faults, green_error_rate and green_latency_ms apply to the demo service only "
                            "(without -o command=...)")  # fmt: skip
        health = [validator.HealthCheck(h["name"], h["url"]) for h in (stored or {}).get("health_checks", [])]
        for name in ("api", "external", "database"):
            url = str(o.get(f"{name}_url", ""))
            if url:
                health.append(validator.HealthCheck(name, url))
        deps = [
            validator.Dependency(d["name"], d["kind"], str(d.get("target", d["name"])), bool(d.get("critical", True)))
            for d in (stored or {}).get("dependencies", [])
        ]
        interval = _float(o, "health_check_interval", 10.0)
        smoke = str(o.get("smoke_paths", ""))
        smoke_cmd = str(o.get("smoke_command", ""))
        production = str(o.get("production", "persistent"))
        if production not in ("persistent", "run"):
            raise PlanError(f"option production={production!r}: use persistent or run")
        routes_opt = str(o.get("routes", ""))
        backup_timeout = 60.0 * float(settings.get("deployment.backup_verification_timeout", 30))
        migrate_timeout = _float(o, "migrate_timeout", backup_timeout)
        if migrate_timeout <= 0:
            raise PlanError(f"option migrate_timeout={migrate_timeout:g}: give the seconds the migration may take")
        route_paths = [p.strip() for p in routes_opt.split(",") if p.strip()] or (stored or {}).get("routes")
        return cls(
            blue=str(o.get("blue_version", "blue")),
            green=green,
            command=command,
            overrides=demo,
            canary=canary,
            check=check,
            health_checks=health,
            dependencies=deps,
            database_url=str(o.get("database_url", "")) or None,
            retries=int(settings.get("deployment.health_check_retries", 3)),
            interval=interval,
            backup_timeout=backup_timeout,
            migrate=shlex.split(str(o.get("migrate_command", ""))),
            smoke_paths=[p.strip() for p in smoke.split(",") if p.strip()] or None,
            smoke_command=shlex.split(smoke_cmd) if smoke_cmd else None,
            smoke_timeout=60.0 * float(settings.get("smoke_tests.timeout", 30)),
            critical_only=bool(settings.get("smoke_tests.critical_flows_only", False)),
            load_rate=_float(o, "load_rate", 0.0),
            persistent=production == "persistent",
            approval_wait=_float(o, "approval_wait", 0.0),
            hold_wait=_float(o, "hold_wait", 0.0),
            openapi=_openapi_source(str(o.get("openapi", "")), (stored or {}).get("openapi")),
            route_paths=route_paths,
            sleep=time.sleep if interval > 0 else (lambda _s: None),
            migrate_timeout=migrate_timeout,
        )

    def routes(self, blue_url: str) -> Routes:
        """The routes to exercise: the OpenAPI document's GET routes, else the listed ones, else `/`."""
        try:
            if self.openapi:
                return routes_from_openapi(load_openapi(self.openapi, blue_url), health=self.check.path)
            if self.route_paths:
                return routes_from_paths(self.route_paths, health=self.check.path)
        except RouteError as exc:
            raise PlanError(f"routes: {exc}") from None
        return routes_from_paths(["/"], health=self.check.path, source="default")

    def smoke_checks(self, routes: Routes) -> list[verifier.SmokeCheck]:
        """Smoke tests: the listed paths, else every route's concrete path."""
        paths = self.smoke_paths or [r.path for r in routes.routes]
        return [verifier.SmokeCheck(p.strip("/") or "home", p) for p in paths]

    def validation(self, production_url: str, backup_dir: Path) -> validator.ValidationPlan:
        """What 30.1 checks: the plan's health checks, or by default production's health path (and its database)."""
        checks = [
            validator.HealthCheck(c.name, c.url.replace("{production}", production_url)) for c in self.health_checks
        ]
        if not any(c.name == "api" for c in checks):
            checks.insert(0, validator.HealthCheck("api", production_url + self.check.path))
        if self.database_url and not any(c.name == "database" for c in checks):
            checks.append(validator.HealthCheck("database", self.database_url))
        return validator.ValidationPlan(
            health_checks=checks,
            dependencies=self.dependencies,
            database_url=self.database_url,
            backup_dir=backup_dir,
            retries=self.retries,
            interval=self.interval,
            backup_timeout=self.backup_timeout,
        )
