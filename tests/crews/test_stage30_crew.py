"""The stage-30 crew end to end through the engine: validation, Chairman approval, cutover, verification, advance.

Production is the demo service behind a real HAProxy; the database the deployment backs up (and
restores after a rollback with migrations) is a scratch PostgreSQL database.
"""

from __future__ import annotations

import os
import sys
import threading
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import psycopg
import pytest

from venturegate.crews import Cancelled, CancelToken, CrewContext
from venturegate.crews.stage30 import crew, demo
from venturegate.engine import Actor, Engine
from venturegate.engine.rollbacks import RollbackRecord

pytestmark = pytest.mark.slow  # real deployments behind HAProxy under load

LEAD = Actor("lee", "lead")
CHAIR = Actor("cho", "chairman")
PG = os.environ.get("VENTUREGATE_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/venturegate_test")
FAST = {
    "soak_seconds": 0.8,
    "window_seconds": 1.0,
    "sample_interval": 0.05,
    "probe_interval": 0.05,
    "load_rate": 150,
    "health_check_interval": 0.05,
    "production": "run",
}


@pytest.fixture(autouse=True)
def workspace(tmp_path: Any, monkeypatch: pytest.MonkeyPatch) -> Any:
    """Production lives under the test's own workspace; the crew's handlers find it there."""
    monkeypatch.setenv("VENTUREGATE_WORKSPACE", str(tmp_path))
    monkeypatch.setenv("VENTUREGATE_CREW_ROOT", str(tmp_path))
    return tmp_path


def _libpq(url: str) -> str:
    return url.replace("postgresql+psycopg://", "postgresql://")


@pytest.fixture
def target_db() -> Iterator[str]:
    """A scratch PostgreSQL database standing in for the venture's production database."""
    name = f"vg_deploy_{uuid.uuid4().hex[:10]}"
    admin = _libpq(PG)
    try:
        with psycopg.connect(admin, autocommit=True, connect_timeout=3) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
    except psycopg.OperationalError:
        if os.environ.get("CI"):
            raise
        pytest.skip("PostgreSQL is not reachable (make test starts it)")
    url = admin.rsplit("/", 1)[0] + "/" + name
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("CREATE TABLE customers (id int primary key, name text)")
        conn.execute("INSERT INTO customers SELECT g, 'c' || g FROM generate_series(1, 50) g")
    yield url
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture
def external() -> Iterator[str]:
    """An external service that answers 200 on every path."""

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self.send_response(200)
            self.send_header("Content-Length", "2")
            self.end_headers()
            self.wfile.write(b"ok")

        def log_message(self, format: str, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


RELEASE = demo.release("2.0.0", "abc1234")
PLAN = {**demo.PLAN, "backups": {"database": True, "files": False}}
STRATEGY = demo.STRATEGY


def _venture(engine: Engine, name: str = "acme") -> None:
    engine.create_venture(name, "b2b_smb", 30, actor=LEAD)
    for artifact, content in (
        ("release_candidate", RELEASE),
        ("deployment_plan", PLAN),
        ("rollback_strategy", STRATEGY),
    ):
        engine.put_artifact(name, artifact, content, actor=LEAD)
    assert engine.venture(name).status == "active"
    engine.set_progression(30, "auto", actor=LEAD, venture=name)
    engine.set_config(name, "rollback.error_rate_duration", "300ms", actor=LEAD, reason="tests watch 0.3 s")


def _latest(engine: Engine, metric: str, name: str = "acme") -> list[float]:
    now = datetime.now(UTC)
    return [p.value for p in engine.samples(name, metric, since=now - timedelta(days=1), until=now + timedelta(days=1))]


def _run(engine: Engine, tmp_path: Any, **options: Any) -> Any:
    opts = {**FAST, "out_dir": str(tmp_path / "out"), **options}
    return crew.run(CrewContext(engine, "acme", 30, options=opts, output_root=tmp_path))


def _approve(engine: Engine) -> None:
    (pending,) = [a for a in engine.approvals("acme", "pending") if a.role == "chairman"]
    engine.decide_approval(pending.id, True, actor=CHAIR, reason="release 2.0 approved")


def test_a_good_release_goes_live_and_the_venture_advances(
    bundled: Engine, tmp_path: Any, target_db: str, external: str
) -> None:
    _venture(bundled)
    opts = {"database_url": target_db, "external_url": external}
    first = _run(bundled, tmp_path, **opts)
    # 30.1 passed, then the run stops for the Chairman: the request was made and notified.
    assert first.status == "waiting", first
    assert "30.1" in {s.id for s in bundled.substages("acme") if s.status == "done"}
    assert _latest(bundled, "backup_verification_pass_rate") == [100.0]
    assert [e.kind for e in bundled.events("acme", kind="approval.requested")] == ["approval.requested"]
    _approve(bundled)
    second = _run(bundled, tmp_path, **opts)
    assert second.status == "completed", second.summary
    assert second.summary["traffic"]["failed_requests"] == 0  # under load_rate req/s through HAProxy
    assert bundled.venture("acme").stage == 31
    assert _latest(bundled, "green_traffic_share")[-1] == 100.0
    assert _latest(bundled, "deployment_success_rate") == [100.0]
    assert _latest(bundled, "downtime") == [0.0]
    assert _latest(bundled, "smoke_test_pass_rate") == [100.0]
    assert _latest(bundled, "rollback_test_pass_rate") == [100.0]
    p95 = _latest(bundled, "response_time_p95")
    assert p95 and all(0 < v < 500 for v in p95)
    handoff = bundled.artifact("acme", "deployment_documentation").content
    assert handoff["next_stage"] == 31 and handoff["production_url"].startswith("http://127.0.0.1:")
    deployed = bundled.artifact("acme", "production_deployment").content
    assert [s["percent"] for s in deployed["canary_log"]] == [10, 50, 100]
    monitoring = bundled.artifact("acme", "monitoring_setup").content
    assert monitoring["test_alert"]["fired"] is True and monitoring["alert_rules"]
    assert bundled.events("acme", kind="alert")  # the test alert went through the notifications
    assert any(e.kind == "trigger.fired" and "DEPLOY-004" in e.reason for e in bundled.events("acme"))
    assert not bundled.rollbacks("acme")


def test_a_failing_release_is_rolled_back_by_deploy_002_through_the_engine(bundled: Engine, tmp_path: Any) -> None:
    _venture(bundled)
    bundled.request_approval("acme", "chairman", actor=LEAD, reason="hotfix")
    (pending,) = bundled.approvals("acme", "pending")
    bundled.bypass_approval(pending.id, actor=CHAIR, reason="outage: emergency hotfix")
    result = _run(bundled, tmp_path, green_error_rate=0.3)
    assert result.status == "recursed", result.summary
    rollback = result.summary["rollback"]
    # `/` fails 30%: green's aggregate and the route `/` both cross the line; whichever rule decides first,
    # the engine logs the rollback - DEPLOY-002 for the aggregate (fed the deciding readings), the crew's
    # own traffic_only rollback for a route.
    assert rollback["cause"] in ("error_rate", "route_error_rate"), rollback
    triggers = [r["trigger"] for r in rollback["engine_rollbacks"]]
    causes = [r["cause"] for r in rollback["engine_rollbacks"]]
    assert "DEPLOY-002" in triggers if rollback["cause"] == "error_rate" else "traffic_only" in causes, rollback
    assert rollback["weights_after"] == {"blue": 100, "green": 0}
    assert _latest(bundled, "deployment_success_rate") == [0.0]
    (minutes,) = _latest(bundled, "rollback_time")
    assert 0 < minutes < 1 / 60  # under a second
    traffic = result.summary["traffic"]
    assert traffic["requests_after_rollback"] > 0 and traffic["failed_after_rollback"] == 0, traffic
    assert bundled.venture("acme").stage == 30
    assert bundled.events("acme", kind="rollback.completed")


MIGRATION = (
    "import psycopg; c = psycopg.connect({url!r}, autocommit=True); "
    "c.execute('ALTER TABLE customers ADD COLUMN tier int'); c.execute('DELETE FROM customers WHERE id > 10')"
)
"""The release's migration: a column added and 40 of the 50 customers deleted (what the restore must undo)."""


def _migration(target_db: str) -> str:
    return f'{sys.executable} -c "{MIGRATION.format(url=target_db)}"'


def _assert_restored(engine: Engine, summary: dict[str, Any], cause: str, target_db: str) -> RollbackRecord:
    """One engine rollback, of `cause`, restored 30.1's backup, the run says so, and the database is as it was
    before the migration."""
    assert any(h.startswith("database: database restored from") for h in summary["rollback"]["handlers"]), summary
    assert summary["rollback"]["database"]["restored"] is True, summary["rollback"]
    assert "database restored from" in summary["outcome"], summary["outcome"]
    return _assert_undone(engine, cause, target_db)


def _assert_undone(engine: Engine, cause: str, target_db: str) -> RollbackRecord:
    """One engine rollback, of `cause`, restored 30.1's backup, and the database is as it was before the migration."""

    def restores(r: RollbackRecord) -> bool:
        return any(h.scope == "database" and h.detail.startswith("database restored from") for h in r.handlers)

    restored = [r for r in engine.rollbacks("acme") if restores(r)]
    assert [(r.cause, r.outcome) for r in restored] == [(cause, "completed")], engine.rollbacks("acme")
    assert "database" in restored[0].scope
    assert _customers(target_db) == (50, False)
    return restored[0]


def _customers(target_db: str) -> tuple[int, bool]:
    """How many customers the database holds, and whether the migration's column is there."""
    with psycopg.connect(target_db) as conn:
        row = conn.execute("SELECT count(*) FROM customers").fetchone()
        columns = [r[0] for r in conn.execute("SELECT column_name FROM information_schema.columns "
                                              "WHERE table_name = 'customers'")]  # fmt: skip
    assert row is not None
    return int(row[0]), "tier" in columns


def test_migrations_are_undone_from_the_backup_when_the_release_rolls_back(
    bundled: Engine, tmp_path: Any, target_db: str
) -> None:
    _venture(bundled)
    bundled.request_approval("acme", "chairman", actor=LEAD, reason="release")
    _approve(bundled)
    result = _run(
        bundled, tmp_path, database_url=target_db, migrate_command=_migration(target_db), green_error_rate=0.1
    )
    assert result.status == "recursed", result.summary
    assert result.summary["migration"]["exit"] == 0
    rollback = result.summary["rollback"]
    # `/` fails 10 %: a rule (green's error rate, route `/`) decides, or DEPLOY-002 moves the weight first
    # (`ordered`) - or, under load, HAProxy's health check marks green down before either (`green_down`).
    # Whichever it is, the migrations are undone: `schema_changed` restores the database and moves traffic;
    # green going down takes the decision tree's full branch, `green_unrecoverable`, which restores it too.
    rules = ("error_rate", "route_error_rate", "latency", "route_latency")
    assert rollback["cause"] in (*rules, "ordered", "green_down"), rollback
    expected = "green_unrecoverable" if rollback["cause"] == "green_down" else "schema_changed"
    assert expected in [r["cause"] for r in rollback["engine_rollbacks"]], rollback
    _assert_restored(bundled, result.summary, expected, target_db)


def test_migrations_are_undone_when_green_goes_down_during_the_cutover(
    sqlite_engine: Engine, tmp_path: Any, target_db: str
) -> None:
    eng = sqlite_engine
    _venture(eng)
    # As in the flapping test below: HAProxy's health check marks green down before a 2 s rule could decide.
    eng.set_config("acme", "rollback.error_rate_duration", "2s", actor=LEAD, reason="the health check decides")
    eng.request_approval("acme", "chairman", actor=LEAD, reason="release")
    _approve(eng)
    flapping = "--flap-period 2.0 --flap-down 0.6 --flap-routes 1"
    result = _run(eng, tmp_path, database_url=target_db, migrate_command=_migration(target_db),
                  green_faults=flapping, soak_seconds=2.0)  # fmt: skip
    assert result.status == "recursed", result.summary
    assert result.summary["migration"]["exit"] == 0
    rollback = result.summary["rollback"]
    # Green may already be in its down phase when the cutover checks it, after the migration: no traffic moved
    # then, and the migration is undone all the same (the next test makes that case certain).
    assert rollback["cause"] in ("green_down", "green_unhealthy"), rollback
    assert "DEPLOY-RB-GREEN" in [r["trigger"] for r in rollback["engine_rollbacks"]], rollback
    _assert_restored(eng, result.summary, "green_unrecoverable", target_db)


def test_migrations_are_undone_when_green_fails_its_health_check_before_traffic_moves(
    sqlite_engine: Engine, tmp_path: Any, target_db: str
) -> None:
    eng = sqlite_engine
    _venture(eng)
    eng.request_approval("acme", "chairman", actor=LEAD, reason="release")
    _approve(eng)
    # The migration runs, then green dies (its process killed, found from production's state file): the
    # cutover's health check fails before any traffic moves.
    script = tmp_path / "migrate_then_kill_green.py"
    script.write_text(
        MIGRATION.format(url=target_db) + "\n"
        "import glob, json, os, signal\n"
        "(state,) = glob.glob(os.path.join(os.environ['VENTUREGATE_WORKSPACE'], '.venturegate/deploy/v*/state.json'))\n"
        "with open(state) as f:\n"
        "    (pid,) = [s['pid'] for s in json.load(f)['slots'].values() if s['version'] == '2.0.0']\n"
        "os.kill(pid, signal.SIGKILL)\n"
    )
    result = _run(eng, tmp_path, database_url=target_db, migrate_command=f"{sys.executable} {script}")
    assert result.status == "recursed", result.summary
    assert result.summary["migration"]["exit"] == 0
    assert "before any traffic moved" in result.summary["outcome"], result.summary
    rollback = result.summary["rollback"]
    assert rollback["cause"] == "green_unhealthy", rollback
    _assert_restored(eng, result.summary, "green_unrecoverable", target_db)
    assert _latest(eng, "green_traffic_share") == []  # no canary step was taken


def _approved(engine: Engine) -> None:
    _venture(engine)
    engine.request_approval("acme", "chairman", actor=LEAD, reason="release")
    _approve(engine)


def _run_cancelled(engine: Engine, tmp_path: Any, **options: Any) -> str:
    """Run the crew and cancel the job once the first canary step ended; the message it was cancelled with."""
    token = CancelToken()

    def sink(step: str, done: int, total: int, message: str) -> None:
        if message.endswith("% on green"):  # the cutover's own check moves traffic back at its next reading
            token.cancel()

    opts = {**FAST, "out_dir": str(tmp_path / "out"), **options}
    with pytest.raises(Cancelled) as exc:
        crew.run(CrewContext(engine, "acme", 30, options=opts, output_root=tmp_path, sink=sink, cancel=token))
    assert "during the cutover; traffic is back on blue" in str(exc.value), exc.value
    return str(exc.value)


FAILS = f"{sys.executable} -c 'raise SystemExit(1)'"
"""A smoke-test command that fails."""


def test_a_failed_migration_that_changed_part_of_the_schema_is_undone(
    sqlite_engine: Engine, tmp_path: Any, target_db: str
) -> None:
    eng = sqlite_engine
    _approved(eng)
    # The migration adds the column and deletes the rows, then fails on its next statement.
    failing = MIGRATION.format(url=target_db) + "; c.execute('ALTER TABLE no_such_table ADD COLUMN x int')"
    result = _run(eng, tmp_path, database_url=target_db, migrate_command=f'{sys.executable} -c "{failing}"')
    assert result.status == "recursed", result.summary
    assert result.summary["migration"]["exit"] == 1
    assert result.summary["outcome"].startswith("aborted before any traffic moved: migration failed (exit 1")
    rollback = result.summary["rollback"]
    assert rollback["cause"] == "migration_failed" and "no_such_table" in rollback["reason"], rollback
    record = _assert_restored(eng, result.summary, "schema_changed", target_db)
    assert "no_such_table" in record.reason
    assert _latest(eng, "green_traffic_share") == []  # no canary step was taken


def test_a_cancelled_cutover_has_its_migrations_undone(sqlite_engine: Engine, tmp_path: Any, target_db: str) -> None:
    eng = sqlite_engine
    _approved(eng)
    message = _run_cancelled(eng, tmp_path, database_url=target_db, migrate_command=_migration(target_db))
    assert "database restored from" in message, message
    record = _assert_undone(eng, "schema_changed", target_db)
    assert record.reason.startswith("the job was cancelled"), record.reason


def test_a_held_cutover_without_a_decision_has_its_migrations_undone(
    sqlite_engine: Engine, tmp_path: Any, target_db: str
) -> None:
    eng = sqlite_engine
    _venture(eng)
    # Green answers 800 ms late: above the 500 ms target, far under a 2 s rollback line - the first step is held.
    eng.set_config("acme", "rollback.response_time_threshold", 2000, actor=LEAD, reason="a hold, not a rollback")
    eng.request_approval("acme", "chairman", actor=LEAD, reason="release")
    _approve(eng)
    result = _run(eng, tmp_path, database_url=target_db, migrate_command=_migration(target_db), green_latency_ms=800)
    assert result.status == "waiting", result.summary
    assert result.summary["held"]["at_percent"] == 10, result.summary
    rollback = result.summary["rollback"]
    assert rollback["cause"] == "held" and "no decision yet" in rollback["reason"], rollback
    assert [r["cause"] for r in rollback["engine_rollbacks"]] == ["schema_changed"], rollback  # not traffic_only
    _assert_restored(eng, result.summary, "schema_changed", target_db)
    assert eng.approvals("acme", "pending")  # the Chairman is still asked; the next run migrates again


def test_failed_smoke_tests_have_the_migrations_undone(sqlite_engine: Engine, tmp_path: Any, target_db: str) -> None:
    eng = sqlite_engine
    _approved(eng)
    result = _run(eng, tmp_path, database_url=target_db, migrate_command=_migration(target_db), smoke_command=FAILS)
    assert result.status == "recursed", result.summary
    assert result.summary["outcome"].startswith("rolled back: smoke tests"), result.summary["outcome"]
    rollback = result.summary["rollback"]
    assert rollback["cause"] == "smoke" and rollback["weights_after"] == {"blue": 100, "green": 0}, rollback
    triggers = {r["trigger"] for r in rollback["engine_rollbacks"]}
    assert "DEPLOY-002-SMOKE" in triggers, rollback  # traffic, by the trigger; then the database, by the crew
    _assert_restored(eng, result.summary, "schema_changed", target_db)


def test_a_restore_that_fails_is_reported_as_a_failure(sqlite_engine: Engine, tmp_path: Any, target_db: str) -> None:
    eng = sqlite_engine
    _approved(eng)
    # The migration deletes 30.1's backup (found from production's deployment.json) before it changes anything.
    script = tmp_path / "migrate_and_lose_the_backup.py"
    script.write_text(
        "import glob, json, os\n"
        "folder = os.path.join(os.environ['VENTUREGATE_WORKSPACE'], '.venturegate', 'deploy')\n"
        "(dep,) = glob.glob(os.path.join(folder, 'v*', 'deployment.json'))\n"
        "with open(dep) as f:\n"
        "    os.remove(json.load(f)['backup'])\n" + MIGRATION.format(url=target_db) + "\nraise SystemExit(2)\n"
    )
    result = _run(eng, tmp_path, database_url=target_db, migrate_command=f"{sys.executable} {script}")
    assert result.status == "failed", result.summary
    assert "database NOT restored" in result.summary["outcome"], result.summary["outcome"]
    database = result.summary["rollback"]["database"]
    assert database["restored"] is False and "does not exist" in database["detail"], database
    (record,) = [r for r in eng.rollbacks("acme") if "database" in r.scope]
    assert (record.cause, record.outcome) == ("schema_changed", "escalated") and record.escalation, record
    assert [h.ok for h in record.handlers if h.scope == "database"] == [False]
    assert _customers(target_db) == (10, True)  # still migrated, and said so


@pytest.mark.parametrize("path", ["cancelled", "smoke"])
def test_without_a_migration_nothing_is_restored(
    sqlite_engine: Engine, tmp_path: Any, target_db: str, path: str
) -> None:
    eng = sqlite_engine
    _venture(eng)
    first = _run(eng, tmp_path, database_url=target_db)  # 30.1 takes the backup, then the Chairman is asked
    assert first.status == "waiting", first.summary
    with psycopg.connect(target_db, autocommit=True) as conn:  # blue's writes since the backup: a restore loses them
        conn.execute("INSERT INTO customers VALUES (51, 'after the backup')")
    _approve(eng)
    if path == "cancelled":
        message = _run_cancelled(eng, tmp_path, database_url=target_db)
        assert "database" not in message, message
        assert not eng.rollbacks("acme")
    else:
        result = _run(eng, tmp_path, database_url=target_db, smoke_command=FAILS)
        assert result.status == "recursed", result.summary
        rollback = result.summary["rollback"]
        assert "database" not in rollback and "database" not in result.summary["outcome"], result.summary
        assert [r["trigger"] for r in rollback["engine_rollbacks"]] == ["DEPLOY-002-SMOKE"], rollback
    assert all("database" not in r.scope for r in eng.rollbacks("acme"))
    assert _customers(target_db) == (51, False)


def test_a_failed_health_check_aborts_with_deploy_001_and_changes_nothing(bundled: Engine, tmp_path: Any) -> None:
    _venture(bundled)
    result = _run(bundled, tmp_path, external_url="http://127.0.0.1:9/unreachable")
    assert result.status == "failed"
    assert "DEPLOY-001" in result.summary["outcome"]
    assert _latest(bundled, "health_check_pass_rate")[-1] < 100.0
    assert any(f.startswith("DEPLOY-001") for f in result.fired)
    alerts = bundled.events("acme", kind="alert")
    assert alerts and alerts[-1].data is not None and alerts[-1].data["incident"] is True
    assert "30.1" not in {s.id for s in bundled.substages("acme") if s.status == "done"}
    assert not bundled.approvals("acme")  # nothing asked of the Chairman


def test_a_rejected_release_stops_the_run(bundled: Engine, tmp_path: Any) -> None:
    _venture(bundled)
    bundled.request_approval("acme", "chairman", actor=LEAD, reason="release")
    (pending,) = bundled.approvals("acme", "pending")
    bundled.decide_approval(pending.id, False, actor=CHAIR, reason="not this week")
    result = _run(bundled, tmp_path)
    assert result.status == "failed" and "rejected" in result.summary["outcome"]


def test_a_slow_release_is_rolled_back_on_p95(bundled: Engine, tmp_path: Any) -> None:
    _venture(bundled)
    bundled.set_config("acme", "rollback.response_time_threshold", 200, actor=LEAD, reason="tight latency line")
    bundled.request_approval("acme", "chairman", actor=LEAD, reason="release")
    _approve(bundled)
    result = _run(bundled, tmp_path, green_latency_ms=300, soak_seconds=1.5)
    assert result.status == "recursed", result.summary
    rollback = result.summary["rollback"]
    assert rollback["cause"] == "latency", rollback
    assert "DEPLOY-RB-LATENCY" in [r["trigger"] for r in rollback["engine_rollbacks"]], rollback
    assert max(_latest(bundled, "response_time_p95")) >= 300


def test_an_expired_approval_blocks_and_a_new_one_is_asked_for(bundled: Engine, tmp_path: Any) -> None:
    _venture(bundled)
    first = _run(bundled, tmp_path)
    assert first.status == "waiting"
    (request,) = bundled.approvals("acme", "pending")
    assert request.expires_at is not None
    assert request.expires_at - request.requested_at == timedelta(hours=24)  # chairman.approval_timeout
    bundled.tick(now=request.expires_at + timedelta(seconds=1))
    assert [a.status for a in bundled.approvals("acme")] == ["expired"]
    assert bundled.events("acme", kind="approval.expired")
    second = _run(bundled, tmp_path)
    assert second.status == "waiting", second.summary
    assert "30.2" not in {s.id for s in bundled.substages("acme") if s.status == "done"}
    assert [a.status for a in bundled.approvals("acme")] == ["pending", "expired"]


def test_production_outlives_the_run_and_every_new_release_is_approved_again(
    sqlite_engine: Engine, tmp_path: Any
) -> None:
    import json
    import urllib.request

    from venturegate.crews.stage30.haproxy import LocalDriver
    from venturegate.crews.stage30.live import production_dir

    eng = sqlite_engine
    _venture(eng)
    eng.set_progression(30, "manual", actor=LEAD, venture="acme")  # the stage stays at 30 once done
    eng.request_approval("acme", "chairman", actor=LEAD, reason="2.0.0", payload={"release": "2.0.0"})
    _approve(eng)
    first = _run(eng, tmp_path, production="persistent")
    assert first.status == "completed" and first.summary["outcome"] == "completed: awaiting advance", first.summary
    url = eng.artifact("acme", "deployment_documentation").content["production_url"]
    assert url == first.summary["production_url"]

    def serving() -> str:  # the test's own traffic through the front end the handoff names
        with urllib.request.urlopen(url + "/", timeout=5) as r:
            return str(json.loads(r.read())["version"])

    assert serving() == "2.0.0"  # still up after the run
    eng.put_artifact("acme", "release_candidate", demo.release("2.0.1", "def5678"), actor=LEAD)
    eng.put_artifact("acme", "deployment_plan", {**PLAN, "release_version": "2.0.1"}, actor=LEAD)
    asked = _run(eng, tmp_path, production="persistent")
    assert asked.status == "waiting", asked.summary
    assert asked.summary["reopened"] == ["30.1", "30.2", "30.3"]
    assert len(eng.events("acme", kind="substage.reopened")) == 3
    (pending,) = eng.approvals("acme", "pending")
    assert (pending.payload or {})["release"] == "2.0.1"
    assert (
        f"venturegate approval approve {pending.id}" in asked.summary["outcome"] and "2.0.1" in asked.summary["outcome"]
    )
    assert serving() == "2.0.0"  # nothing moved without the Chairman
    _approve(eng)
    second = _run(eng, tmp_path, production="persistent")
    assert second.status == "completed", second.summary
    assert second.summary["production_url"] == url and serving() == "2.0.1"
    assert second.summary["traffic"]["failed_requests"] == 0
    again = _run(eng, tmp_path, production="persistent")  # the same release once more: nothing to do, no traceback
    assert again.status == "completed" and "already serves" in again.summary["outcome"], again.summary
    LocalDriver.attach(production_dir(tmp_path, eng.venture("acme").id)).close()


def test_mistakes_are_refused_with_what_and_how_to_fix(bundled: Engine, tmp_path: Any) -> None:
    _venture(bundled)
    unknown = _run(bundled, tmp_path, soak_secs=5)
    assert unknown.status == "failed" and "unknown option(s) soak_secs" in unknown.summary["outcome"]
    assert "soak_seconds" in unknown.summary["outcome"]  # the known ones are listed
    slow = {**PLAN, "canary": {"steps": [10, 100], "monitor_seconds_per_step": 60}}
    bundled.put_artifact("acme", "deployment_plan", slow, actor=LEAD)
    clash = _run(bundled, tmp_path)
    assert clash.status == "failed" and "monitor_seconds_per_step=60" in clash.summary["outcome"], clash.summary
    bundled.put_artifact("acme", "deployment_plan", {**PLAN, "release_version": "1.0.0"}, actor=LEAD)
    other = _run(bundled, tmp_path)
    assert other.status == "failed" and "deployment_plan is for release '1.0.0'" in other.summary["outcome"]
    # The plan is untrusted: its OpenAPI document is a path on the service, never another host (or a file here).
    bundled.put_artifact("acme", "deployment_plan", {**PLAN, "openapi": "http://169.254.169.254/x"}, actor=LEAD)
    assert "name a path on the service" in _run(bundled, tmp_path).summary["outcome"]
    assert not bundled.approvals("acme") and not bundled.rollbacks("acme")  # nothing changed by the refusals


def test_a_release_failing_on_one_route_of_its_openapi_document_is_rolled_back(
    sqlite_engine: Engine, tmp_path: Any
) -> None:
    eng = sqlite_engine
    _venture(eng)
    eng.put_artifact("acme", "deployment_plan", {**PLAN, "openapi": "/openapi.json"}, actor=LEAD)
    eng.request_approval("acme", "chairman", actor=LEAD, reason="2.0.0", payload={"release": "2.0.0"})
    _approve(eng)
    result = _run(eng, tmp_path, green_faults="--fail-route /orders --fail-rate 0.15", probe_interval=0.02)
    assert result.status == "recursed", result.summary
    assert result.summary["routes"]["judged"] == ["/", "/items/{id}", "/orders", "/health"]
    assert result.summary["rollback"]["cause"] == "route_error_rate", result.summary["rollback"]
    assert "route /orders" in result.summary["rollback"]["reason"]
    traffic = result.summary["traffic"]
    assert traffic["failed_requests"] == result.summary["cutover"]["client_failed"]
    assert eng.venture("acme").stage == 30


def test_a_flapping_green_is_rolled_back_by_deploy_rb_green_with_its_failures_counted(
    sqlite_engine: Engine, tmp_path: Any
) -> None:
    eng = sqlite_engine
    _venture(eng)
    # Green's routes fail while it is down, 0.6 s of every 2 s: in the 1 s window its error rate stays above the
    # line 1.6 s at most, so a 2 s error-rate rule cannot decide before HAProxy's health check (fall 2, 50 ms
    # apart) marks green down, however loaded the machine (with 0.3 s the rate won that race under load).
    eng.set_config("acme", "rollback.error_rate_duration", "2s", actor=LEAD, reason="the health check decides")
    eng.request_approval("acme", "chairman", actor=LEAD, reason="2.0.0", payload={"release": "2.0.0"})
    _approve(eng)
    flapping = "--flap-period 2.0 --flap-down 0.6 --flap-routes 1"
    result = _run(eng, tmp_path, green_faults=flapping, soak_seconds=2.0)
    assert result.status == "recursed", result.summary
    rollback = result.summary.get("rollback") or {}
    assert rollback.get("cause") == "green_down" or "not healthy" in result.summary["outcome"], result.summary
    if rollback.get("cause") == "green_down":
        assert "DEPLOY-RB-GREEN" in [r["trigger"] for r in rollback["engine_rollbacks"]], rollback
        assert "green_unrecoverable" in [r["cause"] for r in rollback["engine_rollbacks"]], rollback
        cut = result.summary["cutover"]
        assert cut["green_down_transitions"] >= 1
        # The failures clients saw before HAProxy marked green down are in the figures, from HAProxy's counters.
        assert result.summary["traffic"]["failed_requests"] == cut["client_failed"]
    assert _latest(eng, "green_health_check_pass_rate")[-1] == 0.0
