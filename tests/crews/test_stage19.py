"""The stage-19 crew on the demo provider: each injected defect found, errors handled by policy, the report,
and the full run — defective (INTEGRATION-001 sends the venture back) then fixed (the gate passes, it advances).
"""

from __future__ import annotations

import json
import socket
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
import requests
import stamina
from sqlalchemy import select

from tests.crews.conftest import FAST, LEAD
from venturegate.crews.base import CrewContext
from venturegate.crews.runner import queue_job, run_job
from venturegate.crews.stage19 import crew as stage19_crew
from venturegate.crews.stage19._http import Client, Interrupted
from venturegate.crews.stage19.apitester import run_apitester
from venturegate.crews.stage19.crew import measuring
from venturegate.crews.stage19.demo import TOKEN_ENV, put_inputs
from venturegate.crews.stage19.demo_target import Defects, DemoTarget, spec
from venturegate.crews.stage19.inputs import CredentialRef, Credentials, Integration, read_inputs
from venturegate.engine import Actor, Engine
from venturegate.engine.secrets import SecretGrant, host_port
from venturegate.store.schema import metadata

pytestmark = pytest.mark.slow  # full crew runs against live providers

AGENT = Actor("stage19", "agent", "agent")
_HELD = ExitStack()
"""Credentials a test's clients hold, as a run in progress holds them (released after each test)."""


@pytest.fixture(autouse=True)
def _release_credentials() -> Iterator[None]:
    yield
    _HELD.close()


@contextmanager
def _stage19(engine: Engine, defects: Defects, name: str = "acme") -> Iterator[DemoTarget]:
    engine.create_venture(name, "b2b_smb", 19, actor=LEAD)
    with DemoTarget(defects).running() as target:
        put_inputs(engine, name, target.base_url)
        yield target


def _client(engine: Engine, target: DemoTarget, timeout_ms: int = 2000, base_url: str | None = None) -> Client:
    integ = Integration(
        "catalog", "Demo", "high", base_url or target.base_url, "spec", "bearer", None, 200.0, timeout_ms
    )
    ctx = CrewContext(engine, "acme", 19, AGENT)
    url = base_url or target.base_url
    grant = SecretGrant(env=(TOKEN_ENV,), hosts=(host_port(url),))
    creds = Credentials("catalog", {"token": CredentialRef("token", env=TOKEN_ENV)}, Path.cwd(), grant, url)
    # What the crew's declared E19-AUTH hook refreshes while a run of the venture measures.
    _HELD.enter_context(measuring(engine.venture("acme").id, [creds]))
    return Client(ctx, integ, creds)


def _tester(engine: Engine, target: DemoTarget) -> dict[str, Any]:
    client = _client(engine, target)
    try:
        return run_apitester(client, spec(), max_examples=3, checkpoint=lambda: None).as_dict()
    finally:
        client.close()


def _titles(report: dict[str, Any]) -> set[tuple[str, str, str]]:
    return {(f["method"], f["path"], f["title"]) for f in report["findings"]}


def test_a_clean_provider_passes_every_test(sqlite_engine: Engine, token: str) -> None:
    with _stage19(sqlite_engine, Defects()) as target:
        report = _tester(sqlite_engine, target)
    assert report["tests_passed"] == report["tests_total"] > 10, _titles(report)
    assert report["covered_operations"] == report["documented_operations"] == 6
    assert report["data_flow"] and all(s["ok"] for s in report["data_flow"])
    assert report["findings"] == []
    assert report["error_handling"]["unauthorized_401"] == "pass"


@pytest.mark.parametrize(
    ("defects", "expected"),
    [
        (Defects(wrong_shape=True), ("GET", "/items/{item_id}", "Response violates schema")),
        (Defects(error_500=True), ("POST", "/items", "Server error")),
    ],
)
def test_apitester_finds_each_injected_defect(
    sqlite_engine: Engine, token: str, defects: Defects, expected: tuple[str, str, str]
) -> None:
    with _stage19(sqlite_engine, defects) as target:
        report = _tester(sqlite_engine, target)
    assert expected in _titles(report)
    failing = next(f for f in report["findings"] if f["title"] == expected[2])
    assert failing["curl"].startswith("curl -X")
    assert report["tests_passed"] < report["tests_total"]
    if defects.wrong_shape:  # a read of the object the crew created shows it too
        assert not all(s["ok"] for s in report["data_flow"])


def test_expired_token_is_refreshed_through_handle_error(sqlite_engine: Engine, token: str) -> None:
    with _stage19(sqlite_engine, Defects(expire_token=True)) as target:
        client = _client(sqlite_engine, target)
        resp = client.guarded(
            lambda t: client.session.get(target.base_url + "/items", headers=client.auth_headers(), timeout=t)
        )
        client.close()
    assert resp.status_code == 200
    assert client.credentials.refreshes == 1
    (rec,) = sqlite_engine.error_records("acme")
    assert (rec.rule_id, rec.status, rec.steps[0]["action"]) == ("E19-AUTH", "resolved", "refresh_credentials")


def test_rate_limit_backs_off_and_retries(sqlite_engine: Engine, token: str) -> None:
    with _stage19(sqlite_engine, Defects(rate_limit_per_sec=2)) as target:
        client = _client(sqlite_engine, target)
        statuses = [
            client.guarded(lambda t: client.session.get(target.base_url + "/health", timeout=t)).status_code
            for _ in range(3)
        ]
        client.close()
    assert statuses == [200, 200, 200]  # the third call hit 429 and succeeded after the policy's backoff
    (rec,) = sqlite_engine.error_records("acme")
    assert (rec.rule_id, rec.status, rec.http_status) == ("E19-RATE-LIMIT", "resolved", 429)


def test_timeout_is_raised_then_recurses_to_stage_10(sqlite_engine: Engine, token: str) -> None:
    with stamina.set_testing(True, attempts=2), _stage19(sqlite_engine, Defects(latency_ms=700)) as target:
        client = _client(sqlite_engine, target, timeout_ms=400)
        url = target.base_url + "/items"
        # 0.4 s runs out; the policy retries with 0.8 s, which is enough.
        got = client.guarded(lambda t: client.session.get(url, headers=client.auth_headers(), timeout=t))
        assert got.status_code == 200
        slow = _client(sqlite_engine, target, timeout_ms=100)  # 0.2 s and 0.4 s both run out: back to stage 10
        with pytest.raises(Interrupted) as stopped:
            slow.guarded(lambda t: slow.session.get(url, headers=slow.auth_headers(), timeout=t))
        client.close()
        slow.close()
    assert stopped.value.status == "recursed" and stopped.value.rule == "E19-TIMEOUT"
    assert [r.status for r in sqlite_engine.error_records("acme")] == ["recursed", "resolved"]
    assert sqlite_engine.venture("acme").stage == 10


def test_provider_down_escalates(sqlite_engine: Engine, token: str) -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        closed = f"http://127.0.0.1:{s.getsockname()[1]}"
    with _stage19(sqlite_engine, Defects()) as target:
        client = _client(sqlite_engine, target, base_url=closed)
        with pytest.raises(Interrupted) as stopped:
            client.guarded(lambda t: client.session.get(closed + "/health", timeout=t))
        client.close()
    assert (stopped.value.status, stopped.value.rule) == ("escalated", "E19-PROVIDER-DOWN")
    assert sqlite_engine.escalations()[0].code == "SD-19-ESCALATION-1"


def test_missing_credential_is_a_test_config_error(
    sqlite_engine: Engine, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.delenv(TOKEN_ENV, raising=False)
    with _stage19(sqlite_engine, Defects()) as target:
        inputs = read_inputs(sqlite_engine, "acme")
        assert inputs.integrations[0].base_url == target.base_url
        result = stage19_crew.run(CrewContext(sqlite_engine, "acme", 19, AGENT, output_root=tmp_path))
    assert result.status == "failed"
    assert f"environment variable {TOKEN_ENV} not set" in result.summary["outcome"]  # named in the run's output
    (rec,) = sqlite_engine.error_records("acme")
    assert rec.rule_id == "E19-TEST-CONFIG" and f"{TOKEN_ENV} not set" in rec.message


def test_non_loopback_targets_are_refused(sqlite_engine: Engine, token: str) -> None:
    with _stage19(sqlite_engine, Defects()):
        sqlite_engine.put_artifact(
            "acme", "integration_requirements",
            {"integrations": [{**_requirement(), "base_url": "https://api.example.com"}]}, actor=LEAD,
        )  # fmt: skip
        with pytest.raises(Exception, match="not on loopback"):
            read_inputs(sqlite_engine, "acme")


def _requirement() -> dict[str, Any]:
    from venturegate.crews.stage19.demo import requirements

    item: dict[str, Any] = requirements("http://127.0.0.1:1")["integrations"][0]
    return item


def _run(engine: Engine, venture: str, out: Path, **options: Any) -> Any:
    job = queue_job(engine, venture, 19, {**FAST, "out_dir": str(out), **options}, actor=LEAD)
    return run_job(engine, job.id, output_root=out.parent)


@pytest.fixture
def crew_root(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Crew runs write under tmp_path."""
    monkeypatch.setenv("VENTUREGATE_CREW_ROOT", str(tmp_path))
    return tmp_path


def test_full_run_defective_then_fixed(bundled: Engine, token: str, crew_root: Path) -> None:
    engine = bundled
    tmp_path = crew_root
    engine.create_venture("acme", "b2b_smb", 19, actor=LEAD)
    with DemoTarget(Defects(wrong_shape=True, error_500=True, expire_token=True)).running() as bad:
        put_inputs(engine, "acme", bad.base_url)
        first = _run(engine, "acme", tmp_path / "bad")
    assert first.status == "succeeded", first.error
    assert first.result is not None and first.result["status"] == "recursed"
    assert first.result["summary"]["outcome"].startswith("recursed: INTEGRATION-001")
    findings = first.result["summary"]["findings"]
    assert any(f.startswith("server_error: POST /items") for f in findings), findings
    assert any(f.startswith("schema: GET /items/{item_id}") for f in findings), findings
    assert any(e.kind == "recursion" and e.substage == "19.1" for e in engine.events("acme"))
    # One run measured everything: the load and fallback figures are in although 19.1 failed.
    assert {p["name"] for p in first.result["summary"]["perf"]} == {"catalog"}
    assert first.result["summary"]["perf"][0]["endpoints"], "every safe endpoint is loaded"
    assert {a.split("@")[0] for a in first.result["artifacts"]} >= {"integration_test_results", "fallback_strategies"}
    report = (tmp_path / "bad" / "report.md").read_text()
    assert "Exit gate: not passed" in report and "INTEGRATION-001" in report and "curl -X POST" in report
    assert "seed 19" in report and "## Load settings used" in report
    with DemoTarget(Defects()).running() as good:
        put_inputs(engine, "acme", good.base_url)
        second = _run(engine, "acme", tmp_path / "good")
    assert second.status == "succeeded", second.error
    assert second.result is not None and second.result["summary"]["outcome"] == "completed"
    assert second.result["status"] == "completed"
    gate = engine.check_gate("acme", "exit")
    assert gate.passed, [c.as_dict() for c in gate.checks if c.verdict != "pass"]
    arts = {a.name for a in engine.artifacts("acme")}
    assert {"integration_test_results", "api_configurations", "fallback_strategies"} <= arts
    strategies = engine.artifact("acme", "fallback_strategies").content["integrations"][0]
    assert strategies["circuit_breaker"]["verified"] == {"opened_after_failures": 5, "auto_reset": True}
    out = tmp_path / "good"
    svg = (out / "latency.svg").read_text()
    assert "p95 SLA 2000 ms" in svg and "GET /items" in svg and "latency (ms" in svg
    assert "Exit gate: passed" in (out / "report.md").read_text()
    html = (out / "report.html").read_text()
    assert "<h2>Exit gate: passed</h2>" in html
    # The HTML report carries the same performance and fallback tables as the Markdown one.
    assert "<h2>Performance</h2>" in html and "<h2>Fallbacks</h2>" in html
    assert "<td>5</td>" in html  # the breaker opened after 5 consecutive failures
    module = (out / "test_integrations.py").read_text()
    compile(module, "test_integrations.py", "exec")
    assert TOKEN_ENV in module and token not in module
    assert (out / "fallbacks" / "resilience.py").exists() and (out / "api-limits.md").exists()
    # Once more on the completed stage (the provider is re-checked): the substages are re-opened through the
    # engine (audited), measured again, and completed again; no sequence of runs ends in a traceback.
    with DemoTarget(Defects()).running() as again:
        put_inputs(engine, "acme", again.base_url)
        third = _run(engine, "acme", tmp_path / "again", discover_limits=False)
    assert third.status == "succeeded" and third.result is not None, third.error
    assert third.result["status"] == "completed", third.result["summary"]["outcome"]
    reopened = [e for e in engine.events("acme") if e.kind == "substage.reopened"]
    assert {e.substage for e in reopened} == {"19.1", "19.2", "19.3"} and all(e.reason for e in reopened)
    assert engine.advance("acme", actor=LEAD, expected_stage=19).stage == 20
    _assert_secret_nowhere(engine, token, tmp_path)


def _assert_secret_nowhere(engine: Engine, secret: str, files: Path) -> None:
    """The credential's value is in no table (events, artifacts, errors, jobs…) and no generated file."""
    with engine.db.connect() as conn:
        for table in metadata.sorted_tables:
            for row in conn.execute(select(table)):
                assert secret not in json.dumps(list(row), default=str), table.name
    for path in files.rglob("*"):
        if path.is_file():
            assert secret.encode() not in path.read_bytes(), path


def test_requests_is_only_used_on_loopback() -> None:
    # The crew's HTTP client is requests (Schemathesis' transport); the demo target binds 127.0.0.1 only.
    with DemoTarget(replace(Defects())).running() as target:
        assert target.base_url.startswith("http://127.0.0.1:")
        assert requests.get(target.base_url + "/health", timeout=5).json() == {"status": "ok"}
