"""PostDeploymentVerifier (30.3): smoke suite on loopback, monitoring files, test alert, rehearsal on HAProxy."""

from __future__ import annotations

import copy
import json
import sys
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml

from venturegate.crews.stage30.demo_service import command
from venturegate.crews.stage30.haproxy import LocalDriver
from venturegate.crews.stage30.monitoring import (
    MonitoringSetupError,
    Thresholds,
    check_dashboard,
    check_rules,
    fire_test_alert,
    monitoring_setup,
)
from venturegate.crews.stage30.verifier import SmokeCheck, SmokeTestFailure, rehearse_rollback, run_smoke

STAGE30 = Path(__file__).resolve().parents[2] / "src/venturegate/definitions/bundled/stages/stage-30.yaml"
T0 = datetime(2026, 11, 2, 9, 0, tzinfo=UTC)
FAST: dict[str, Any] = {"retry_delay": 30.0}


class App:
    """A loopback app: /login and /items answer 200 with a body, /broken 500, /flaky 503 once then 200."""

    def __init__(self) -> None:
        self.hits: dict[str, int] = {}
        hits, lock = self.hits, threading.Lock()

        class Handler(BaseHTTPRequestHandler):
            def _answer(self) -> None:
                with lock:
                    n = hits[self.path] = hits.get(self.path, 0) + 1
                status, body = {
                    "/login": (200, "welcome"),
                    "/items": (200, '[{"id": 1}]'),
                    "/broken": (500, "oops"),
                    "/flaky": (503 if n == 1 else 200, "warming up" if n == 1 else "ready"),
                    "/old": (302, ""),
                }.get(self.path, (404, "not found"))
                data = body.encode()
                self.send_response(status)
                if status == 302:
                    self.send_header("Location", "/login")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            do_GET = do_POST = _answer

            def log_message(self, format: str, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.05})


@pytest.fixture
def app() -> Iterator[App]:
    a = App()
    a.thread.start()
    yield a
    a.server.shutdown()
    a.server.server_close()
    a.thread.join(timeout=5)


class Sleeps(list[float]):
    def __call__(self, seconds: float) -> None:
        self.append(seconds)


# -- smoke --------------------------------------------------------------------------------------
def test_a_passing_suite_runs_once(app: App) -> None:
    checks = [
        SmokeCheck("auth", "/login", contains="welcome"),
        SmokeCheck("crud", "items", method="POST"),
        SmokeCheck("legacy redirect", "/old", expect_status=302),
    ]
    sleeps = Sleeps()
    report = run_smoke(app.url, checks, **FAST, sleep=sleeps)
    assert report.ok and (report.total, report.passed, report.attempts, report.pass_rate) == (3, 3, 1, 100.0)
    assert [r.status for r in report.results] == [200, 200, 302]
    assert sleeps == [] and report.error() is None
    assert report.artifact() == {"total": 3, "passed": 3, "flows": ["auth", "crud", "legacy redirect"]}


def test_a_failing_suite_is_retried_once_then_reported(app: App) -> None:
    checks = [
        SmokeCheck("auth", "/login"),
        SmokeCheck("dashboard", "/broken"),
        SmokeCheck("wrong body", "/items", contains="venture"),
    ]
    sleeps = Sleeps()
    report = run_smoke(app.url, checks, **FAST, sleep=sleeps)
    assert not report.ok and report.attempts == 2 and sleeps == [30.0]
    assert (report.total, report.passed) == (3, 1) and report.pass_rate == pytest.approx(100 / 3)
    assert app.hits["/broken"] == 2 and app.hits["/login"] == 2  # the whole suite again
    assert "answered 500, expected 200" in report.failures[0]
    assert "without 'venture' in the body" in report.failures[1]
    error = report.error()
    assert isinstance(error, SmokeTestFailure) and str(error).startswith("smoke tests failed (1/3 after 2 runs)")
    assert json.loads(json.dumps(report.as_dict()))["runs"][0][1]["status"] == 500


def test_a_suite_that_passes_on_the_retry_passes(app: App) -> None:
    report = run_smoke(app.url, [SmokeCheck("auth", "/login"), SmokeCheck("warm", "/flaky")], sleep=Sleeps())
    assert report.ok and report.attempts == 2
    assert [r.ok for r in report.runs[0]] == [True, False] and report.runs[0][1].status == 503


def test_critical_only_keeps_the_critical_flows(app: App) -> None:
    checks = [SmokeCheck("auth", "/login"), SmokeCheck("reports", "/broken", critical=False)]
    report = run_smoke(app.url, checks, critical_only=True, sleep=Sleeps())
    assert report.ok and [r.name for r in report.results] == ["auth"] and "/broken" not in app.hits
    with pytest.raises(ValueError, match="critical_only kept none"):
        run_smoke(app.url, [checks[1]], critical_only=True)


def test_command_checks_get_the_base_url_and_their_output_is_kept(app: App) -> None:
    py = sys.executable
    ok = SmokeCheck("cli", command=[py, "-c", "import sys; print('probing', sys.argv[1])", "{base_url}/login"])
    bad = SmokeCheck("migrations", command=[py, "-c", "import sys; print('2 pending'); sys.exit(3)"])
    slow = SmokeCheck("slow", command=[py, "-c", "import time; time.sleep(5)"], timeout=0.5)
    report = run_smoke(app.url, [ok, bad, slow], retries=0, sleep=Sleeps())
    first, second, third = report.results
    assert first.ok and first.output.strip() == f"probing {app.url}/login"
    assert not second.ok and "exited 3" in second.detail and "2 pending" in second.output
    assert not third.ok and "timed out after 0.5 s" in third.detail


def test_a_suite_command_is_one_more_critical_check(app: App) -> None:
    py = sys.executable
    suite = [py, "-c", "import sys; print('3 passed'); sys.exit(0)"]
    report = run_smoke(app.url, [SmokeCheck("info", "/login", critical=False)], command=suite, critical_only=True)
    assert [(r.name, r.ok, r.critical) for r in report.results] == [("command", True, True)]
    assert report.results[0].output.strip() == "3 passed"


def test_the_overall_time_limit_stops_the_suite(app: App) -> None:
    ticks = iter([0.0, 0.0, 5.0, 11.0, 11.0, 11.0])  # the clock passes 10 s after the first check
    checks = [SmokeCheck("auth", "/login"), SmokeCheck("crud", "/items"), SmokeCheck("db", "/items")]
    report = run_smoke(app.url, checks, timeout=10.0, sleep=Sleeps(), clock=lambda: next(ticks))
    assert report.timed_out and report.attempts == 1
    assert [r.ok for r in report.results] == [True, True, False]
    assert report.results[2].detail == "not run: the smoke suite's time limit of 10 s ran out"


def test_an_unreachable_base_url_fails_every_check() -> None:
    report = run_smoke("http://127.0.0.1:9", [SmokeCheck("auth", "/login")], retries=0)
    assert not report.ok and "no answer" in report.results[0].detail


# -- monitoring ---------------------------------------------------------------------------------
def _schema(name: str) -> dict[str, Any]:
    schema = yaml.safe_load(STAGE30.read_text(encoding="utf-8"))["artifacts"][name]["schema"]
    assert isinstance(schema, dict)
    return schema


def test_rules_and_dashboard_are_written_and_checked(tmp_path: Path) -> None:
    setup = monitoring_setup(
        "Acme Pay", tmp_path, job="acme-pay", channels=["slack", "pagerduty"], grafana_url="https://g.example/"
    )
    assert setup.rules_path.name == "acme-pay-alerts.yml"
    doc = yaml.safe_load(setup.rules_path.read_text())
    assert check_rules(doc) == 4
    rules = {r["alert"]: r for r in doc["groups"][0]["rules"]}
    assert rules["DeploymentErrorRateHigh"]["expr"].endswith(") > 1")
    assert 'code="5xx"' in rules["DeploymentErrorRateHigh"]["expr"]
    assert "histogram_quantile(0.95" in rules["DeploymentLatencyP95High"]["expr"]
    assert rules["DeploymentLatencyP95High"]["expr"].endswith(") > 500")
    assert rules["DatabasePoolUtilizationHigh"]["for"] == "1m"
    assert rules["ServiceCpuHigh"]["labels"] == {
        "severity": "warning",
        "service": "Acme Pay",
        "channels": "slack,pagerduty",
    }
    assert [(r["metric"], r["comparison"], r["value"]) for r in setup.alert_rules] == [
        ("deployment_error_rate", ">", 1.0),
        ("response_time_p95", ">", 500.0),
        ("db_connection_pool_utilization", ">", 80.0),
        ("cpu_utilization", ">", 70.0),
    ]
    assert setup.dashboards == [
        {"name": "venturegate · Acme Pay · production", "url": "https://g.example/d/vg-deploy-acme-pay"}
    ]
    board = json.loads(setup.dashboard_path.read_text())
    assert check_dashboard(board) == 4 and board["uid"] == "vg-deploy-acme-pay"
    steps = board["panels"][1]["fieldConfig"]["defaults"]["thresholds"]["steps"]
    assert steps == [{"color": "green", "value": None}, {"color": "red", "value": 500.0}]
    assert board["panels"][0]["targets"][0]["expr"] in rules["DeploymentErrorRateHigh"]["expr"]


def test_thresholds_are_passed_in(tmp_path: Path) -> None:
    custom = Thresholds(error_rate_percent=0.5, p95_ms=300, cpu_for="10m")
    setup = monitoring_setup("svc", tmp_path, job="svc", thresholds=custom, db_job="postgres", channels=["email"])
    doc = yaml.safe_load(setup.rules_path.read_text())
    rules = {r["alert"]: r for r in doc["groups"][0]["rules"]}
    assert rules["DeploymentErrorRateHigh"]["expr"].endswith(") > 0.5")
    assert rules["ServiceCpuHigh"]["for"] == "10m"
    assert 'pg_stat_activity_count{job="postgres"}' in rules["DatabasePoolUtilizationHigh"]["expr"]
    assert setup.dashboard_url == setup.dashboard_path.resolve().as_uri()


def test_a_bad_duration_in_the_thresholds_is_refused_before_anyone_loads_it(tmp_path: Path) -> None:
    with pytest.raises(MonitoringSetupError, match=r"rules\[0\]\.for: '2 minutes' is not a Prometheus duration"):
        monitoring_setup("svc", tmp_path, job="svc", thresholds=Thresholds(error_rate_for="2 minutes"))
    with pytest.raises(ValueError, match="alert channels"):
        monitoring_setup("svc", tmp_path, job="svc", channels=["teams"])


@pytest.mark.parametrize(
    ("mutate", "message"),
    [
        (lambda d: d.pop("groups"), r"groups: a non-empty list of groups is required"),
        (lambda d: d["groups"][0].pop("name"), r"groups\[0\]: each group needs a name"),
        (lambda d: d["groups"][0]["rules"][1].pop("expr"), r"rules\[1\]\.expr: a non-empty PromQL expression"),
        (lambda d: d["groups"][0]["rules"][0].update({"for": "5 min"}), r"rules\[0\]\.for: '5 min' is not"),
        (lambda d: d["groups"][0]["rules"][2]["labels"].pop("severity"), r"rules\[2\]\.labels: an alert needs"),
        (lambda d: d["groups"][0]["rules"][3].update({"expr": "rate(x[5m] > 1"}), r"rules\[3\]\.expr: unclosed '\('"),
        (lambda d: d["groups"][0]["rules"][3].update({"expr": "rate(x[5m)) > 1"}), r"expr: unbalanced '\)'"),
        (lambda d: d["groups"][0]["rules"][3].update({"expr": 'x{a="b} > 1'}), r"expr: unclosed '\"'"),
        (lambda d: d["groups"][0]["rules"][0].update({"alert": "has space"}), r"'has space' is not a valid"),
        (lambda d: d["groups"][0]["rules"][0].update({"record": "x"}), r"exactly one of alert and record"),
        (lambda d: d["groups"][0]["rules"][0].update({"severity": "page"}), r"unknown fields \['severity'\]"),
        (lambda d: d["groups"].append(copy.deepcopy(d["groups"][0])), r"groups\[1\]: group name .* is repeated"),
    ],
)
def test_broken_rules_are_rejected_with_where_and_why(tmp_path: Path, mutate: Any, message: str) -> None:
    setup = monitoring_setup("svc", tmp_path, job="svc")
    doc = yaml.safe_load(setup.rules_path.read_text())
    mutate(doc)
    with pytest.raises(MonitoringSetupError, match=r"^alerting rules invalid at .*" + message):
        check_rules(doc)


def test_a_broken_dashboard_is_rejected(tmp_path: Path) -> None:
    setup = monitoring_setup("svc", tmp_path, job="svc")
    board = json.loads(setup.dashboard_path.read_text())
    cases: list[tuple[Callable[[dict[str, Any]], object], str]] = [
        (lambda d: d.update({"uid": "x" * 41}), "uid"),
        (lambda d: d.update({"panels": []}), "no panels"),
        (lambda d: d["panels"][0].update({"targets": [{"refId": "A"}]}), r"panels\[0\]: each target needs"),
        (lambda d: d["panels"][1]["fieldConfig"]["defaults"]["thresholds"]["steps"].reverse(), "threshold steps"),
    ]
    for mutate, message in cases:
        broken = copy.deepcopy(board)
        mutate(broken)
        with pytest.raises(MonitoringSetupError, match=f"dashboard invalid.*{message}"):
            check_dashboard(broken)


def test_test_alert_falls_through_to_a_channel_that_accepts_it(tmp_path: Path) -> None:
    sent: list[dict[str, Any]] = []

    def send(payload: dict[str, Any]) -> str:
        if payload["channel"] == "slack":
            raise ConnectionError("slack webhook answered 404")
        sent.append(payload)
        return "queued as outbox #7"

    alert = fire_test_alert(send, ["slack", "email"], service="acme", now=lambda: T0)
    assert (alert.fired, alert.at, alert.channel, alert.detail) == (True, T0, "email", "queued as outbox #7")
    assert sent[0]["alert"] == "DeploymentTestAlert" and sent[0]["test"] is True and sent[0]["at"] == T0.isoformat()
    setup = monitoring_setup("acme", tmp_path)
    assert 'job="acme"' in setup.rules[0].expr
    artifact = setup.artifact(alert)
    jsonschema.validate(artifact, _schema("monitoring_setup"))
    assert artifact["test_alert"] == {"fired": True, "at": T0.isoformat(), "channel": "email"}

    def down(payload: dict[str, Any]) -> str:
        raise ConnectionError("no route")

    failed = fire_test_alert(down, ["slack", "email"], now=lambda: T0)
    assert not failed.fired and failed.detail == "test alert reached no channel - slack: no route; email: no route"
    with pytest.raises(MonitoringSetupError, match="monitoring not confirmed"):
        setup.artifact(failed)


# -- rollback rehearsal -------------------------------------------------------------------------
@dataclass
class DryRun:
    outcome: str = "dry-run"


@pytest.fixture(scope="module")
def deployed() -> Iterator[LocalDriver]:
    """Blue v1 and green v2 behind a real HAProxy, all traffic on green (just after a cutover)."""
    with LocalDriver(command()) as driver:
        driver.start_version("v1")
        driver.start_version("v2")
        driver.set_weights(0, 100)
        yield driver


def test_the_rehearsal_passes_and_moves_no_traffic(deployed: LocalDriver) -> None:
    calls: list[int] = []

    def dry_run() -> DryRun:
        calls.append(1)
        return DryRun()

    rehearsal = rehearse_rollback(deployed, "v1", "v2", engine_dry_run=dry_run, now=lambda: T0)
    assert rehearsal.ok and rehearsal.pass_rate == 100.0, rehearsal.as_dict()
    assert [s.name for s in rehearsal.steps] == [
        "switch answers",
        "blue healthy",
        "rollback weights",
        "engine dry-run",
        "traffic untouched",
    ]
    assert rehearsal.steps[3].detail == "engine rollback dry-run: dry-run" and calls == [1]
    assert deployed.weights() == {"blue": 0, "green": 100}
    assert rehearsal.artifact() == {"passed": True, "ran_at": T0.isoformat()}


def test_a_failing_engine_dry_run_fails_its_step_only(deployed: LocalDriver) -> None:
    def broken() -> object:
        raise RuntimeError("no snapshot pre-stage-30")

    rehearsal = rehearse_rollback(deployed, "v1", "v2", engine_dry_run=broken)
    assert not rehearsal.ok and rehearsal.pass_rate == 80.0
    assert rehearsal.steps[3].detail == "engine rollback dry-run failed: no snapshot pre-stage-30"
    skipped = rehearse_rollback(deployed, "v1", "v2", engine_dry_run=None)
    assert skipped.ok and "engine dry-run" not in [s.name for s in skipped.steps]
    assert deployed.weights() == {"blue": 0, "green": 100}


def test_a_stopped_blue_fails_the_rehearsal_without_touching_green() -> None:
    with LocalDriver(command()) as driver:
        driver.start_version("v1")
        driver.start_version("v2")
        driver.set_weights(0, 100)
        driver.stop("v1")
        rehearsal = rehearse_rollback(driver, "v1", "v2", engine_dry_run=DryRun)
        assert driver.weights() == {"blue": 0, "green": 100}
    failed = {s.name: s.detail for s in rehearsal.steps if not s.ok}
    assert set(failed) == {"switch answers", "blue healthy", "rollback weights", "traffic untouched"}
    assert "version 'v1' is not running" in failed["switch answers"]
    assert rehearsal.pass_rate == 20.0
    assert jsonschema.Draft202012Validator(_schema("production_deployment")).is_valid(
        {
            "release_version": "v2",
            "deployed_at": T0.isoformat(),
            "production_url": "http://127.0.0.1:1",
            "traffic_on_green_percent": 100,
            "canary_log": [{"percent": 100, "error_rate_percent": 0, "p95_ms": 10, "passed": True}],
            "downtime_minutes": 0,
            "smoke_tests": {"total": 1, "passed": 1},
            "rollback_dry_run": rehearsal.artifact(),
        }
    )
