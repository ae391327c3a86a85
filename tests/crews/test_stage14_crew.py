"""The stage-14 crew end to end through the engine, on real PostgreSQL and Redis.

One venture goes the whole way: a plan whose Dockerfile hadolint rejects is sent back to 14.1 by the
error policy; the fixed plan's environments are provisioned (databases, Redis databases, logins, the
service) and verified; 14.2 waits for EXEC's attestation, 14.3 for the team's RACI approvals (given
through the onboarding API); the readiness score follows the facts. Bad input — an unknown stack, a
dependency cycle, more work than capacity, a service that never starts — is a classified error that
leaves nothing half-provisioned.
"""

from __future__ import annotations

import csv
import io
import json
import uuid
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psycopg
import pytest
import redis
from typer.testing import CliRunner

from venturegate.crews import CrewContext
from venturegate.crews.stage14 import crew, demo, onboarding
from venturegate.crews.stage14.provision import (
    OWNER_KEY,
    EnvironmentRequest,
    LocalDriver,
    teardown_owned,
    workspace_tag,
)
from venturegate.engine import Actor, Engine

with warnings.catch_warnings():
    # Starlette asks for httpx2 instead of httpx (tests/api/conftest.py does the same); the client works the same.
    warnings.filterwarnings("ignore", message="Using `httpx` with `starlette.testclient` is deprecated")
    from starlette.testclient import TestClient

EXEC = Actor("eve", "exec")
ADMIN = "postgresql://postgres@127.0.0.1:5432/postgres"


@pytest.fixture
def prefix() -> Iterator[str]:
    """A namespace of this test's databases; everything under it (in any workspace) is removed afterwards."""
    name = "t" + uuid.uuid4().hex[:8]
    yield name
    with psycopg.connect(ADMIN) as conn:
        marks = [
            str(r[0])
            for r in conn.execute(
                "SELECT shobj_description(oid, 'pg_database') FROM pg_database WHERE datname LIKE %s", (name + "%",)
            ).fetchall()
            if str(r[0]).startswith(f"venturegate:{name}:")
        ]
    teardown_owned(sorted(set(marks)))
    driver = LocalDriver()
    for vid in (1, 3):  # what a run left half-made (roles, Redis) without a database to find it by
        for env in ("dev", "staging"):
            driver.teardown(EnvironmentRequest(vid, env, 0, prefix=name))


def _run(engine: Engine, tmp_path: Path, prefix: str, venture: str = "acme", **options: Any) -> Any:
    opts = {"resource_prefix": prefix, "probe_seconds": 0.6, "probe_interval": 0.2, "solver_seconds": 0.5,
            "retry_backoff": 0.01, "trials": 2000, **options}  # fmt: skip
    return crew.run(CrewContext(engine, venture, 14, options=opts, output_root=tmp_path / "crews"))


def _databases(prefix: str) -> list[str]:
    with psycopg.connect(ADMIN) as conn:
        rows = conn.execute("SELECT datname FROM pg_database WHERE datname LIKE %s", (prefix + "%",)).fetchall()
    return sorted(r[0] for r in rows)


def _owned_redis(prefix: str) -> list[int]:
    found = []
    for db in range(1, 16):
        client = redis.Redis(db=db)
        owner = client.get(OWNER_KEY)
        client.close()
        if isinstance(owner, bytes) and owner.decode().startswith(f"venturegate:{prefix}:"):
            found.append(db)
    return found


def _errors(engine: Engine) -> list[tuple[str, str]]:
    return [(e.rule_id, e.status) for e in engine.error_records()]


@pytest.mark.timeout(
    300
)  # four crew runs with real provisioning and checkov: about 60 s, 2-3x that on a loaded machine
def test_full_stage14_run(sqlite_engine: Engine, tmp_path: Path, prefix: str) -> None:
    engine = sqlite_engine
    ws = workspace_tag(engine.db.url)
    demo.enter(engine, "acme", base_image="python:latest")
    assert engine.venture("acme").status == "active"
    # 1. hadolint rejects the Dockerfile: cicd-config-invalid sends the venture back to 14.1, nothing provisioned.
    first = _run(engine, tmp_path, prefix, checkov=False)  # checkov runs on the fixed plan (run 2)
    assert first.status == "recursed" and "cicd-config-invalid" in first.summary["outcome"]
    blocking = [f for f in first.summary["environment"]["verification"]["findings"] if f["blocking"]]
    assert {(f["tool"], f["rule"]) for f in blocking} == {("hadolint", "DL3007")}
    assert ("cicd-config-invalid", "recursed") in _errors(engine)
    assert _databases(prefix) == [] and engine.venture("acme").stage == 14
    # 2. The fixed plan: generated, verified, provisioned; 14.2 waits for EXEC.
    engine.put_artifact("acme", "technical_plan", demo.plan("acme"), actor=demo.LEAD)
    second = _run(engine, tmp_path, prefix)
    assert second.summary["environment"]["verification"]["checks"]["failed"] == 0  # checkov: every policy passes
    assert second.status == "waiting" and "14.2 waits for: CI/CD pipeline reviewed" in second.summary["outcome"]
    assert _databases(prefix) == [f"{prefix}_{ws}_v1_dev", f"{prefix}_{ws}_v1_staging"]
    assert len(_owned_redis(prefix)) == 2
    env = second.summary["environment"]
    assert all(e["logins_verified"] == 5 for e in env["environments"]) and env["stability"] == 100.0
    dev_env = engine.artifact("acme", "development_environment")
    assert sorted(dev_env.derived_from) == ["resource_requirements@1", "technical_plan@2", "timeline@1"]
    assert {e["name"]: e["status"] for e in dev_env.content["environments"]} == {"dev": "ready", "staging": "ready"}
    team = engine.artifact("acme", "team_structure")
    assert team.content["raci_rules"]["violations"] == []
    assert any(d.startswith("development_environment@") for d in team.derived_from)
    plan = engine.artifact("acme", "sprint_plan")
    assert plan.content["first_sprint"]["story_ids"] and any(d.startswith("team_structure@") for d in plan.derived_from)
    out = Path(second.summary["out_dir"])
    rows = list(csv.DictReader(io.StringIO((out / "backlog-jira.csv").read_text())))
    assert len(rows) == len(plan.content["backlog"]) and rows[0]["Sprint"] == "Sprint 1"
    assert len(json.loads((out / "backlog-github-issues.json").read_text())) == len(rows)
    assert "<svg" in (out / "forecast.svg").read_text() and "P85" in (out / "forecast.svg").read_text()
    assert "Readiness score" in (out / "report.md").read_text()
    before = second.summary["readiness"]["score"]
    assert second.summary["readiness"]["sections"]["team"] < 100  # nobody onboarded or approved yet
    alerts = [e for e in engine.events("acme", kind="alert") if (e.data or {}).get("kind") == "onboarding"]
    assert len(alerts) == 5
    # 3. EXEC attests: 14.2 completes, 14.3 waits for the team's RACI approvals.
    engine.attest("acme", "CI/CD pipeline reviewed and operational", actor=EXEC)
    third = _run(engine, tmp_path, prefix)
    assert third.status == "waiting" and "14.3 waits for: RACI approved" in third.summary["outcome"]
    assert _databases(prefix) == [f"{prefix}_{ws}_v1_dev", f"{prefix}_{ws}_v1_staging"]  # 14.1 is not redone
    # 4. The members approve through the API; EXEC attests; the run completes 14.3.
    from venturegate.api.app import create_app

    members = [m["id"] for m in onboarding.show(engine, "acme")["members"]]
    _, secret = engine.create_token("lead-token", "lead", actor=demo.LEAD)
    with TestClient(create_app(engine)) as client:
        headers = {"Authorization": f"Bearer {secret}"}
        for m in members:
            got = client.post(
                "/api/ventures/acme/onboarding", json={"member": m, "approve_raci": True}, headers=headers
            )
            assert got.status_code == 200, got.text
        assert got.json()["raci_approval_rate"] == 100.0
        bad = client.post("/api/ventures/acme/onboarding", json={"member": "nobody", "item": "repo"}, headers=headers)
        assert bad.status_code == 404 and "no team member" in bad.text  # a name the venture does not have
    engine.attest("acme", "RACI matrix reviewed with the team lead", actor=EXEC)
    fourth = _run(engine, tmp_path, prefix)
    assert fourth.status == "completed", fourth.summary["outcome"]
    assert {s.id for s in engine.substages("acme") if s.status == "done"} == {"14.1", "14.2", "14.3"}
    # 5. Onboarding through the CLI raises the readiness score.
    from venturegate.cli.app import app

    item = onboarding.show(engine, "acme")["members"][0]["items"][0]["id"]
    cli = ["--db", engine.db.url.render_as_string(hide_password=False), "--as", "ana:lead"]
    result = CliRunner().invoke(app, [*cli, "onboarding", "check", "acme", members[0], item, "--json"])
    assert result.exit_code == 0, result.output
    assert json.loads(result.output)["readiness_score"] >= before
    checks = {c.name: c.verdict for c in engine.check_gate("acme", "exit").checks}
    assert checks["Roles filled"] == "pass" and checks["RACI approved"] == "pass"
    assert checks["Onboarding complete"] == "fail"  # 0 of 5 finished their checklist
    # 6. A rollback of the `environments` scope tears down what this workspace's runs provisioned, and only
    # that: another workspace's venture 1, under the same prefix, keeps its environment.
    marks = engine.setting("acme", "environments.provisioned").value
    assert marks == [f"venturegate:{prefix}:{ws}:v1:dev", f"venturegate:{prefix}:{ws}:v1:staging"]
    other_ws = workspace_tag(f"sqlite:///{tmp_path / 'other' / 'vg.db'}")
    other = EnvironmentRequest(1, "dev", 1, prefix=prefix, workspace=other_ws)
    assert other_ws != ws and other.database not in _databases(prefix)
    driver = LocalDriver()
    driver.provision(other)
    try:
        record = engine.rollback("acme", "pre-stage-14", actor=demo.LEAD, scope=["environments"], reason="test")
        (handler,) = [h for h in record.handlers if h.scope == "environments"]
        assert handler.ok and f"database {prefix}_{ws}_v1_dev" in handler.detail, handler.detail
        assert _databases(prefix) == [other.database] and len(_owned_redis(prefix)) == 1
        assert engine.setting("acme", "environments.provisioned").value == []
    finally:
        driver.teardown(other)


def test_unknown_stack_is_classified_and_changes_nothing(sqlite_engine: Engine, tmp_path: Path, prefix: str) -> None:
    demo.enter(sqlite_engine, "acme")
    bad = {**demo.plan("acme"), "tech_stack": ["cobol", "postgresql"]}
    sqlite_engine.put_artifact("acme", "technical_plan", bad, actor=demo.LEAD)
    result = _run(sqlite_engine, tmp_path, prefix)
    assert result.status == "failed" and "unsupported stack: 'cobol'" in json.dumps(
        sqlite_engine.error_records()[0].message
    )
    assert _errors(sqlite_engine) == [("tool-incompatible", "escalated")]
    assert _databases(prefix) == [] and not [s for s in sqlite_engine.substages("acme") if s.status == "done"]
    assert result.artifacts == ()


def test_service_that_never_starts_is_retried_counted_and_torn_down(
    sqlite_engine: Engine, tmp_path: Path, prefix: str
) -> None:
    demo.enter(sqlite_engine, "acme")
    sqlite_engine.set_config("acme", "infrastructure_failure_max_attempts", 2, actor=demo.LEAD, reason="test")
    result = _run(sqlite_engine, tmp_path, prefix, checkov=False, service_command="false", start_timeout=2)
    attempts = result.summary["environment"]["attempts"]
    assert len(attempts) == 2 and all("exited with 1" in a for a in attempts)  # the configured attempts
    assert result.status == "failed" and ("cloud-provisioning-failed", "escalated") in _errors(sqlite_engine)
    assert any(f.startswith("DEV-RB-1") for f in result.fired), result.fired  # proposed to the Chairman
    assert _databases(prefix) == [] and _owned_redis(prefix) == []  # every attempt was torn down
    with psycopg.connect(ADMIN) as conn:
        roles = conn.execute("SELECT rolname FROM pg_roles WHERE rolname LIKE %s", (prefix + "%",)).fetchall()
    assert roles == []


def test_a_database_not_made_by_venturegate_is_left_alone(tmp_path: Path, prefix: str) -> None:
    name = f"{prefix}_v3_dev"
    with psycopg.connect(ADMIN, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    try:
        driver = LocalDriver()
        with pytest.raises(Exception, match="was not made by venturegate"):
            driver.provision(EnvironmentRequest(3, "dev", 1, prefix=prefix))
        assert _databases(prefix) == [name]
    finally:
        with psycopg.connect(ADMIN, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}"')


def test_a_dependency_cycle_is_a_planning_error(sqlite_engine: Engine, tmp_path: Path, prefix: str) -> None:
    engine = sqlite_engine
    cyclic = [{"id": "a", "title": "A", "priority": "must", "stories": [
        {"id": "a1", "title": "Alpha", "points": 2, "depends_on": ["a2"], "acceptance_criteria": ["Alpha for 5 users"]},
        {"id": "a2", "title": "Beta", "points": 2, "depends_on": ["a1"], "acceptance_criteria": ["Beta for 5 users"]},
    ]}]  # fmt: skip
    demo.enter(engine, "acme", epics=cyclic)
    engine.complete_substage("acme", "14.1", actor=EXEC)  # done by hand: the run goes straight to 14.2 and 14.3
    result = _run(engine, tmp_path, prefix)
    assert result.status == "failed" and _errors(engine) == [("plan-dependency-cycle", "escalated")]
    message = engine.error_records()[0].message
    assert "a1 -> a2 -> a1" in message or "a2 -> a1 -> a2" in message
    assert not any(a.startswith("sprint_plan@") for a in result.artifacts)
    assert _databases(prefix) == []


def test_more_work_than_capacity_is_a_planning_error_from_the_cli(
    sqlite_engine: Engine, tmp_path: Path, prefix: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    from venturegate.cli.app import app

    engine = sqlite_engine
    demo.enter(engine, "acme")
    engine.put_artifact("acme", "timeline", demo.timeline("acme", launch_weeks=4), actor=demo.LEAD)
    engine.complete_substage("acme", "14.1", actor=EXEC)
    monkeypatch.setenv("VENTUREGATE_CREW_ROOT", str(tmp_path / "crews"))
    db = engine.db.url.render_as_string(hide_password=False)
    opts = [x for k in ("resource_prefix=" + prefix, "solver_seconds=2", "trials=2000") for x in ("-o", k)]
    got = CliRunner().invoke(app, ["--db", db, "--as", "lee:lead", "run", "acme", "--stage", "14", *opts, "--json"])
    job = json.loads(got.output)
    assert job["status"] == "failed" and job["result"]["status"] == "failed", got.output  # the crew failed it
    assert _errors(engine) == [("plan-over-capacity", "escalated")]
    assert "more work than capacity before the deadline" in engine.error_records()[0].message
    assert job["result"]["summary"]["sprint"]["forecast"]["on_time_probability"] == 0.0
    assert any(f.startswith("DEV-003") for f in job["result"]["fired"])  # velocity below what the timeline needs


def test_an_unfillable_critical_role_proposes_dev002(sqlite_engine: Engine, tmp_path: Path, prefix: str) -> None:
    engine = sqlite_engine
    demo.enter(engine, "acme")
    resources = demo.resources("acme")
    resources["roles"].append({"role": "security", "count": 1, "critical": True, "skills": ["security"]})
    engine.put_artifact("acme", "resource_requirements", resources, actor=demo.LEAD)
    engine.complete_substage("acme", "14.1", actor=EXEC)
    result = _run(engine, tmp_path, prefix)
    assert result.status == "waiting" and "DEV-002" in result.summary["outcome"], result.summary["outcome"]
    assert result.summary["team"]["unavailable_skills"] == ["security"]
    assert result.summary["team"]["unfilled"] == ["security #1"]
    pending = [a for a in engine.approvals("acme", "pending") if (a.payload or {}).get("trigger") == "DEV-002"]
    assert len(pending) == 1 and pending[0].role == "chairman"


def test_api_and_dashboard_start_the_crew_as_jobs(
    sqlite_engine: Engine, tmp_path: Path, prefix: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The generic job path runs the real stage-14 crew: from the API with options (hadolint rejects the plan's
    Dockerfile and the error policy sends the venture back to 14.1), from the dashboard without (a plan naming an
    unknown stack fails classified); each job shows the crew's outcome and nothing is provisioned."""
    from tests.web.conftest import csrf_of, login
    from venturegate.api.app import create_app
    from venturegate.crews.runner import run_job

    monkeypatch.setenv("VENTUREGATE_QUEUE_URL", f"sqlite:///{tmp_path / 'queue.db'}")
    monkeypatch.setenv("VENTUREGATE_CREW_ROOT", str(tmp_path / "crews"))
    engine = sqlite_engine
    demo.enter(engine, "acme", base_image="python:latest")
    demo.enter(engine, "cobol")
    engine.put_artifact("cobol", "technical_plan", {**demo.plan("cobol"), "tech_stack": ["cobol"]}, actor=demo.LEAD)
    secret = engine.create_token("agent-1", "agent", actor=demo.LEAD)[1]
    with TestClient(create_app(engine)) as client:
        options = {"resource_prefix": prefix, "checkov": False}
        started = client.post(
            "/api/ventures/acme/jobs", json={"options": options}, headers={"Authorization": f"Bearer {secret}"}
        )
        assert started.status_code == 202, started.text
        assert (started.json()["crew"], started.json()["stage"]) == ("stage14", 14)
        api_job = run_job(engine, started.json()["id"])  # what the worker does with the queued job
        login(client, secret)
        page = client.get("/ventures/cobol").text
        assert "Run crew stage14" in page
        answer = client.post("/ventures/cobol/jobs", data={"csrf": csrf_of(page)}, follow_redirects=False)
        assert answer.status_code == 303
        web_job = run_job(engine, engine.jobs("cobol")[0].id)
        shown = client.get(f"/api/jobs/{web_job.id}", headers={"Authorization": f"Bearer {secret}"}).json()
    assert api_job.status == "succeeded", api_job.error
    assert (
        api_job.result is not None
        and api_job.result["status"] == "recursed"
        and "cicd-config-invalid" in api_job.result["summary"]["outcome"]
    )
    assert web_job.status == "failed" and web_job.options == {}  # the crew's run failed: so does its job
    assert shown["result"]["status"] == "failed" and "tool-incompatible" in shown["result"]["summary"]["outcome"]
    assert sorted(_errors(engine)) == [("cicd-config-invalid", "recursed"), ("tool-incompatible", "escalated")]
    assert _databases(prefix) == [] and engine.venture("acme").stage == 14
