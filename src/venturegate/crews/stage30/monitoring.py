"""Monitoring for a deployed service (30.3): Prometheus alert rules, a Grafana dashboard, a test alert.

`monitoring_setup` writes a Prometheus alerting-rules file with the studio's four post-deployment
alerts and a Grafana dashboard, both read back and checked structurally (`check_rules`,
`check_dashboard`: fields, types, durations, bracket balance - not a PromQL parser; promtool is not
used). The expressions assume conventional exporters:
error rate - HAProxy's built-in exporter, 5xx answers plus connection and response errors over all
requests of the backend (the cutover's own definition of a failed request);
p95 - the service's `http_request_duration_seconds` histogram;
database pool - postgres_exporter, open connections over `max_connections`;
CPU - `process_cpu_seconds_total` of each service instance (percent of one core).
Each exporter's `job` label is a parameter (default: the service's name as a slug).

`fire_test_alert` hands a test payload to the crew's `send` (the engine's notifications), channel by
channel until one accepts it. `MonitoringSetup.artifact(test_alert)` is the `monitoring_setup` artifact.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import yaml

from venturegate.crews.stage30.haproxy import BACKEND
from venturegate.observability import promql
from venturegate.observability.grafana import DATASOURCE, SCHEMA_VERSION

CHANNELS = ("slack", "email", "pagerduty", "sms")
Now = Callable[[], datetime]


def _utcnow() -> datetime:
    return datetime.now(UTC)


class MonitoringSetupError(RuntimeError):
    """Alerting rules, a dashboard or the test alert could not be set up or confirmed (E30-MONITORING)."""


# -- monitoring -------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Thresholds:
    """The studio's post-deployment alert lines and how long each must hold before the alert fires."""

    error_rate_percent: float = 1.0
    p95_ms: float = 500.0
    db_pool_percent: float = 80.0
    cpu_percent: float = 70.0
    error_rate_for: str = "2m"
    p95_for: str = "2m"
    db_pool_for: str = "1m"
    cpu_for: str = "5m"


@dataclass(frozen=True)
class AlertRule:
    """One alert: the Prometheus rule and its `monitoring_setup.alert_rules` item."""

    alert: str
    metric: str
    comparison: str
    value: float
    channels: tuple[str, ...]
    expr: str
    """The PromQL value (without the comparison); the rule's `expr` is `(<expr>) <comparison> <value>`."""
    for_: str
    severity: str
    unit: str
    summary: str

    def rule(self, service: str) -> dict[str, Any]:
        """The Prometheus rule."""
        return {
            "alert": self.alert,
            "expr": f"({self.expr}) {self.comparison} {self.value:g}",
            "for": self.for_,
            "labels": {"severity": self.severity, "service": service, "channels": ",".join(self.channels)},
            "annotations": {
                "summary": f"{promql.template_text(service)}: {self.summary}",
                "description": f'{self.metric} is {{{{ $value | printf "%.2f" }}}} {self.unit} '
                f"({self.comparison} {self.value:g} for {self.for_}).",
            },
        }

    def artifact(self) -> dict[str, Any]:
        """The `alert_rules` item of the `monitoring_setup` artifact."""
        return {
            "metric": self.metric,
            "comparison": self.comparison,
            "value": self.value,
            "channels": list(self.channels),
        }


@dataclass(frozen=True)
class TestAlert:
    """Whether a test alert reached a channel, when and through which."""

    __test__ = False  # not a pytest class

    fired: bool
    at: datetime
    """When the alert was sent (tried, when no channel took it)."""
    channel: str | None
    detail: str

    def artifact(self) -> dict[str, Any]:
        """The `test_alert` part of the `monitoring_setup` artifact (only a fired alert has one)."""
        if not self.fired:
            raise MonitoringSetupError(f"monitoring not confirmed: the test alert did not fire ({self.detail})")
        return {"fired": True, "at": self.at.isoformat(), "channel": self.channel}


@dataclass(frozen=True)
class MonitoringSetup:
    """The files written and what they contain."""

    service: str
    rules_path: Path
    dashboard_path: Path
    dashboard_uid: str
    dashboard_title: str
    dashboard_url: str
    """`<grafana_url>/d/<uid>` when Grafana's address was given, else the file's URI."""
    rules: tuple[AlertRule, ...]

    @property
    def alert_rules(self) -> list[dict[str, Any]]:
        """The `alert_rules` of the `monitoring_setup` artifact."""
        return [r.artifact() for r in self.rules]

    @property
    def dashboards(self) -> list[dict[str, str]]:
        """The `dashboards` of the `monitoring_setup` artifact."""
        return [{"name": self.dashboard_title, "url": self.dashboard_url}]

    def artifact(self, test_alert: TestAlert) -> dict[str, Any]:
        """The `monitoring_setup` artifact; raises `MonitoringSetupError` unless the test alert fired."""
        return {
            "tools": ["prometheus", "grafana"],
            "dashboards": self.dashboards,
            "alert_rules": self.alert_rules,
            "test_alert": test_alert.artifact(),
        }


def _sel(**labels: str) -> str:
    return promql.selector(**labels)  # values are string literals: a job name cannot change the expression


def alert_rules(
    *,
    job: str,
    thresholds: Thresholds,
    channels: Sequence[str],
    haproxy_job: str | None = None,
    db_job: str | None = None,
    backend: str = BACKEND,
) -> tuple[AlertRule, ...]:
    """The four post-deployment alerts over conventional metric names (see the module docstring)."""
    bad = [c for c in channels if c not in CHANNELS]
    if not channels or bad:
        raise ValueError(f"alert channels must be a non-empty subset of {CHANNELS} (got {list(channels)})")
    chans, t = tuple(channels), thresholds
    hp = _sel(job=haproxy_job or job, proxy=backend)
    hp5 = _sel(job=haproxy_job or job, proxy=backend, code="5xx")
    svc, db = _sel(job=job), _sel(job=db_job or job)
    # A failed request, as in the cutover: a 5xx answer or no answer at all (connection/response error).
    errors = " + ".join(f"sum(rate(haproxy_backend_{m}_errors_total{hp}[5m]))" for m in ("connection", "response"))
    failed = f"sum(rate(haproxy_backend_http_responses_total{hp5}[5m])) + {errors}"
    total = f"sum(rate(haproxy_backend_http_responses_total{hp}[5m])) + {errors}"
    return (
        AlertRule(
            "DeploymentErrorRateHigh", "deployment_error_rate", ">", t.error_rate_percent, chans,
            f"100 * ({failed}) / clamp_min({total}, 1e-9)", t.error_rate_for, "critical", "%",
            "error rate above the post-deployment line",
        ),
        AlertRule(
            "DeploymentLatencyP95High", "response_time_p95", ">", t.p95_ms, chans,
            f"1000 * histogram_quantile(0.95, sum by (le) (rate(http_request_duration_seconds_bucket{svc}[5m])))",
            t.p95_for, "warning", "ms", "p95 response time above the post-deployment line",
        ),
        AlertRule(
            "DatabasePoolUtilizationHigh", "db_connection_pool_utilization", ">", t.db_pool_percent, chans,
            f"100 * sum(pg_stat_activity_count{db}) / max(pg_settings_max_connections{db})",
            t.db_pool_for, "warning", "%", "database connections close to the limit",
        ),
        AlertRule(
            "ServiceCpuHigh", "cpu_utilization", ">", t.cpu_percent, chans,
            f"100 * rate(process_cpu_seconds_total{svc}[5m])", t.cpu_for, "warning", "%",
            "CPU of an instance above the post-deployment line",
        ),
    )  # fmt: skip


_UNITS = {"%": "percent", "ms": "ms"}


def service_dashboard(service: str, uid: str, rules: Sequence[AlertRule], job: str) -> dict[str, Any]:
    """The dashboard JSON model: one time-series panel per alert, its line drawn as a red threshold."""
    panels = []
    for i, r in enumerate(rules, start=1):
        steps = [{"color": "green", "value": None}, {"color": "red", "value": r.value}]
        panels.append(
            {
                "id": i,
                "type": "timeseries",
                "title": r.summary.capitalize(),
                "description": f"{r.metric}: alert `{r.alert}` when {r.comparison} {r.value:g} {r.unit} for {r.for_}.",
                "gridPos": {"h": 8, "w": 12, "x": 12 * ((i - 1) % 2), "y": 8 * ((i - 1) // 2)},
                "datasource": DATASOURCE,
                "targets": [{"refId": "A", "datasource": DATASOURCE, "expr": r.expr, "legendFormat": r.metric}],
                "fieldConfig": {
                    "defaults": {
                        "unit": _UNITS.get(r.unit, "none"),
                        "thresholds": {"mode": "absolute", "steps": steps},
                        "custom": {"drawStyle": "line", "lineWidth": 2, "thresholdsStyle": {"mode": "line"}},
                    },
                    "overrides": [],
                },
            }
        )
    return {
        "uid": uid,
        "title": f"venturegate · {service} · production",
        "description": f"Post-deployment health of {service} (Prometheus job {job}); the lines are the alert levels.",
        "tags": ["venturegate", "stage-30", "deployment"],
        "schemaVersion": SCHEMA_VERSION,
        "version": 1,
        "editable": True,
        "timezone": "utc",
        "refresh": "30s",
        "time": {"from": "now-6h", "to": "now"},
        "templating": {
            "list": [{"name": "datasource", "label": "Prometheus", "type": "datasource", "query": "prometheus"}]
        },
        "panels": panels,
    }


def monitoring_setup(
    service: str,
    out_dir: Path,
    *,
    job: str | None = None,
    thresholds: Thresholds = Thresholds(),
    channels: Sequence[str] = ("slack", "email"),
    haproxy_job: str | None = None,
    db_job: str | None = None,
    grafana_url: str | None = None,
) -> MonitoringSetup:
    """Write `<service>-alerts.yml` and `<service>-dashboard.json` into `out_dir`, read both back and check them."""
    slug = re.sub(r"[^a-z0-9]+", "-", service.lower()).strip("-")
    if not slug:
        raise ValueError(f"service name {service!r} has no letters or digits")
    job = job or slug
    rules = alert_rules(job=job, thresholds=thresholds, channels=channels, haproxy_job=haproxy_job, db_job=db_job)
    out_dir.mkdir(parents=True, exist_ok=True)
    rules_path, board_path = out_dir / f"{slug}-alerts.yml", out_dir / f"{slug}-dashboard.json"
    doc = {"groups": [{"name": f"venturegate-deploy-{slug}", "rules": [r.rule(service) for r in rules]}]}
    rules_path.write_text(yaml.safe_dump(doc, sort_keys=False, allow_unicode=True, width=1000), encoding="utf-8")
    uid = f"vg-deploy-{slug}"[:40]
    board = service_dashboard(service, uid, rules, job)
    board_path.write_text(json.dumps(board, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    check_rules(yaml.safe_load(rules_path.read_text(encoding="utf-8")))
    check_dashboard(json.loads(board_path.read_text(encoding="utf-8")))
    url = f"{grafana_url.rstrip('/')}/d/{uid}" if grafana_url else board_path.resolve().as_uri()
    return MonitoringSetup(service, rules_path, board_path, uid, board["title"], url, rules)


_DURATION = re.compile(r"^(\d+y)?(\d+w)?(\d+d)?(\d+h)?(\d+m)?(\d+s)?(\d+ms)?$")
_NAME = re.compile(r"^[a-zA-Z_][a-zA-Z0-9_]*$")
_RULE_KEYS = {"alert", "record", "expr", "for", "keep_firing_for", "labels", "annotations"}


def _balanced(expr: str) -> str | None:
    """Why the brackets or quotes of `expr` do not balance, or None."""
    pairs, stack, quote, escaped = {")": "(", "]": "[", "}": "{"}, [], "", False
    for ch in expr:
        if quote:
            if escaped:  # PromQL strings take Go's backslash escapes (`\"` stays inside the string)
                escaped = False
            elif ch == "\\" and quote != "`":
                escaped = True
            elif ch == quote:
                quote = ""
        elif ch in "\"'`":
            quote = ch
        elif ch in "([{":
            stack.append(ch)
        elif ch in pairs and (not stack or stack.pop() != pairs[ch]):
            return f"unbalanced {ch!r}"
    return f"unclosed {quote!r}" if quote else (f"unclosed {stack[-1]!r}" if stack else None)


def check_rules(doc: object) -> int:
    """Check a Prometheus rules document's structure; return how many rules it has, else raise."""

    def fail(where: str, why: str) -> MonitoringSetupError:
        return MonitoringSetupError(f"alerting rules invalid at {where}: {why}")

    groups = doc.get("groups") if isinstance(doc, dict) else None
    if not isinstance(groups, list) or not groups:
        raise fail("groups", "a non-empty list of groups is required")
    count, names = 0, set()
    for g, group in enumerate(groups):
        where = f"groups[{g}]"
        if not isinstance(group, dict) or not isinstance(group.get("name"), str) or not group["name"]:
            raise fail(where, "each group needs a name")
        if group["name"] in names:
            raise fail(where, f"group name {group['name']!r} is repeated")
        names.add(group["name"])
        if not isinstance(group.get("rules"), list) or not group["rules"]:
            raise fail(where, "each group needs a non-empty list of rules")
        for r, rule in enumerate(group["rules"]):
            _check_rule(f"{where}.rules[{r}]", rule, fail)
            count += 1
    return count


def _check_rule(where: str, rule: object, fail: Callable[[str, str], MonitoringSetupError]) -> None:
    if not isinstance(rule, dict):
        raise fail(where, "a rule must be a mapping")
    if unknown := set(rule) - _RULE_KEYS:
        raise fail(where, f"unknown fields {sorted(unknown)}")
    if ("alert" in rule) == ("record" in rule):
        raise fail(where, "a rule needs exactly one of alert and record")
    name = rule.get("alert", rule.get("record"))
    if not isinstance(name, str) or not _NAME.match(name):
        raise fail(where, f"{name!r} is not a valid alert/record name")
    expr = rule.get("expr")
    if not isinstance(expr, str) or not expr.strip():
        raise fail(f"{where}.expr", "a non-empty PromQL expression is required")
    if why := _balanced(expr):
        raise fail(f"{where}.expr", why)
    for key in ("for", "keep_firing_for"):
        if key in rule and not (isinstance(rule[key], str) and rule[key] and _DURATION.match(rule[key])):
            raise fail(f"{where}.{key}", f"{rule[key]!r} is not a Prometheus duration (e.g. 30s, 5m, 1h30m)")
    for key in ("labels", "annotations"):
        value = rule.get(key, {})
        if not isinstance(value, dict) or not all(isinstance(k, str) and isinstance(v, str) for k, v in value.items()):
            raise fail(f"{where}.{key}", "must map strings to strings")
        if key == "labels" and not all(_NAME.match(k) for k in value):
            raise fail(f"{where}.labels", "label names must match [a-zA-Z_][a-zA-Z0-9_]*")
    if "alert" in rule and "severity" not in rule.get("labels", {}):
        raise fail(f"{where}.labels", "an alert needs a severity label (the studio routes on it)")


def check_dashboard(doc: object) -> int:
    """Check a Grafana dashboard model's structure; return how many panels it has, else raise."""
    if not isinstance(doc, dict):
        raise MonitoringSetupError("dashboard invalid: the model must be a JSON object")
    uid = doc.get("uid")
    if not isinstance(uid, str) or not re.fullmatch(r"[A-Za-z0-9_-]{1,40}", uid):
        raise MonitoringSetupError(f"dashboard invalid: uid {uid!r} must be 1-40 letters, digits, - or _")
    if not isinstance(doc.get("title"), str) or not doc["title"]:
        raise MonitoringSetupError("dashboard invalid: a title is required")
    panels = doc.get("panels")
    if not isinstance(panels, list) or not panels:
        raise MonitoringSetupError("dashboard invalid: no panels")
    for p, panel in enumerate(panels):
        where = f"dashboard invalid at panels[{p}]"
        targets = panel.get("targets") if isinstance(panel, dict) else None
        if not isinstance(targets, list) or not targets:
            raise MonitoringSetupError(f"{where}: a panel needs targets")
        for target in targets:
            if not isinstance(target, dict) or not target.get("refId") or not isinstance(target.get("expr"), str):
                raise MonitoringSetupError(f"{where}: each target needs a refId and an expr")
            if why := _balanced(target["expr"]):
                raise MonitoringSetupError(f"{where}: expr {why}")
        steps = panel.get("fieldConfig", {}).get("defaults", {}).get("thresholds", {}).get("steps", [])
        values = [s.get("value") for s in steps]
        if steps and (values[0] is not None or values[1:] != sorted(v for v in values[1:] if v is not None)):
            raise MonitoringSetupError(f"{where}: threshold steps must start with null and rise")
    return len(panels)


def fire_test_alert(
    send: Callable[[dict[str, Any]], str],
    channels: Sequence[str],
    *,
    service: str = "",
    now: Now = _utcnow,
) -> TestAlert:
    """Send a test alert to the first channel that accepts it; `send` returns a delivery note or raises."""
    if not channels:
        raise ValueError("no alert channel to test")
    problems: list[str] = []
    at = now()
    for channel in channels:
        payload = {
            "alert": "DeploymentTestAlert",
            "test": True,
            "severity": "info",
            "service": service,
            "channel": channel,
            "at": at.isoformat(),
            "summary": f"Test alert for {service or 'the deployment'}: monitoring is wired to {channel}.",
        }
        try:
            note = send(payload)
        except Exception as e:
            problems.append(f"{channel}: {e}")
            continue
        return TestAlert(True, at, channel, note)
    return TestAlert(False, at, None, "test alert reached no channel - " + "; ".join(problems))
