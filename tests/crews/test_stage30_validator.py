"""PreDeploymentValidator (30.1) against loopback HTTP servers and the real PostgreSQL (pg_dump/pg_restore)."""

from __future__ import annotations

import json
import os
import socket
import sys
import threading
import urllib.parse
import uuid
from collections.abc import Iterator, Mapping, Sequence
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import psycopg
import pytest
from psycopg import sql

from venturegate.crews.stage30.backup import (
    BackupVerificationError,
    libpq_url,
    manifest_path,
    redact,
    restore_backup,
    take_backup,
    verify_backup,
)
from venturegate.crews.stage30.validator import (
    Dependency,
    DependencyCheckError,
    HealthCheck,
    HealthCheckError,
    ValidationPlan,
    check_dependency,
    check_health,
    validate,
)

pytestmark = pytest.mark.slow  # pg_dump backups restored into scratch databases

DEFAULT_PG = "postgresql+psycopg://postgres@127.0.0.1:5432/venturegate_test"
PG_URL = os.environ.get("VENTUREGATE_TEST_POSTGRES_URL") or DEFAULT_PG


# -- loopback HTTP ------------------------------------------------------------------------------
class Loopback:
    """An HTTP server on a free loopback port; each path answers its statuses in order, the last one repeating."""

    def __init__(self, routes: Mapping[str, Sequence[int]]) -> None:
        self.hits: dict[str, int] = {}
        hits, lock = self.hits, threading.Lock()

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                with lock:
                    n = hits[self.path] = hits.get(self.path, 0) + 1
                statuses = routes.get(self.path, [404])
                status = statuses[min(n, len(statuses)) - 1]
                body = f"status {status}".encode()
                self.send_response(status)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, format: str, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.thread = threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.05})

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}{path}"

    def __enter__(self) -> Loopback:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(timeout=5)


@pytest.fixture
def web() -> Iterator[Loopback]:
    routes = {"/ok": [200], "/boom": [500], "/flaky": [503, 200], "/missing": [404], "/down": [503]}
    with Loopback(routes) as server:
        yield server


def refused_url() -> str:
    """A loopback URL nothing listens on."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    return f"http://127.0.0.1:{port}/health"


class Sleeps(list[float]):
    def __call__(self, seconds: float) -> None:
        self.append(seconds)


# -- PostgreSQL ---------------------------------------------------------------------------------
def _with_db(url: str, dbname: str) -> str:
    parts = urllib.parse.urlsplit(url)
    return urllib.parse.urlunsplit(parts._replace(path=f"/{dbname}"))


def _admin() -> psycopg.Connection[tuple[object, ...]]:
    return psycopg.connect(libpq_url(PG_URL), autocommit=True, connect_timeout=3)


@pytest.fixture(scope="module")
def pg() -> str:
    """The test server's URL; unreachable is a skip locally and a failure in CI."""
    try:
        with _admin() as conn:
            conn.execute("select 1")
    except psycopg.Error as e:
        if os.environ.get("CI"):
            pytest.fail(f"PostgreSQL is required in CI but {redact(PG_URL)} is not reachable: {e}")
        pytest.skip(f"PostgreSQL not reachable at {redact(PG_URL)} (set VENTUREGATE_TEST_POSTGRES_URL)")
    return PG_URL


def _db_exists(name: str) -> bool:
    with _admin() as conn:
        return conn.execute("select 1 from pg_database where datname = %s", (name,)).fetchone() is not None


@pytest.fixture
def source(pg: str) -> Iterator[str]:
    """A scratch source database: public.items (2000 rows), sales.orders (5), public.empty (0); dropped after."""
    name = f"vg_src_{uuid.uuid4().hex[:10]}"
    with _admin() as conn:
        conn.execute(sql.SQL("create database {}").format(sql.Identifier(name)))
    url = _with_db(pg, name)
    try:
        with psycopg.connect(libpq_url(url)) as conn:
            conn.execute("create table items (id int primary key, label text not null)")
            conn.execute("insert into items select i, 'item ' || i from generate_series(1, 2000) i")
            conn.execute("create schema sales")
            conn.execute("create table sales.orders (id serial primary key, item int references items, qty int)")
            conn.execute("insert into sales.orders (item, qty) select i, i * 2 from generate_series(1, 5) i")
            conn.execute("create table empty (x int)")
        yield url
    finally:
        with _admin() as conn:
            conn.execute(sql.SQL("drop database if exists {} with (force)").format(sql.Identifier(name)))


def _counts(url: str) -> tuple[int, int]:
    with psycopg.connect(libpq_url(url)) as conn:
        items = conn.execute("select count(*) from items").fetchone()
        orders = conn.execute("select count(*) from sales.orders").fetchone()
    assert items is not None and orders is not None
    return int(items[0]), int(orders[0])


# -- health checks ------------------------------------------------------------------------------
def test_a_200_passes_at_the_first_attempt(web: Loopback) -> None:
    sleeps = Sleeps()
    result = check_health(HealthCheck("api", web.url("/ok")), sleep=sleeps)
    assert (result.ok, result.attempts, result.detail) == (True, 1, "HTTP 200")
    assert sleeps == [] and web.hits["/ok"] == 1


def test_a_500_fails_after_every_attempt_ten_seconds_apart(web: Loopback) -> None:
    sleeps = Sleeps()
    result = check_health(HealthCheck("api", web.url("/boom")), retries=3, interval=10.0, sleep=sleeps)
    assert not result.ok and result.attempts == 3
    assert "health check failed after 3 attempts" in result.detail and "HTTP 500, not 200" in result.detail
    assert sleeps == [10.0, 10.0] and web.hits["/boom"] == 3


def test_a_non_200_success_code_is_not_healthy(web: Loopback) -> None:
    result = check_health(HealthCheck("external", web.url("/missing")), retries=1, sleep=Sleeps())
    assert not result.ok and "HTTP 404" in result.detail


def test_connection_refused_fails_with_the_reason() -> None:
    result = check_health(HealthCheck("external", refused_url()), retries=2, interval=10.0, sleep=Sleeps())
    assert not result.ok and result.attempts == 2
    assert "refused" in result.detail.lower()


def test_a_server_that_recovers_on_the_second_attempt_passes(web: Loopback) -> None:
    sleeps = Sleeps()
    result = check_health(HealthCheck("api", web.url("/flaky")), retries=3, interval=10.0, sleep=sleeps)
    assert (result.ok, result.attempts) == (True, 2)
    assert sleeps == [10.0] and web.hits["/flaky"] == 2


def test_database_health_runs_select_1(pg: str) -> None:
    assert check_health(HealthCheck("database", pg), sleep=Sleeps()).detail == "select 1 ok"
    bad = "postgresql://postgres:s3cret@127.0.0.1:1/nope"
    result = check_health(HealthCheck("database", bad), retries=1, timeout=2, sleep=Sleeps())
    assert not result.ok and "s3cret" not in result.detail and "***" in result.detail


def test_names_and_kinds_are_checked() -> None:
    with pytest.raises(ValueError, match="health check name"):
        HealthCheck("cache", "http://x")
    with pytest.raises(ValueError, match="dependency kind"):
        Dependency("x", "dns")
    with pytest.raises(ValueError, match="needs a backup_dir"):
        ValidationPlan([HealthCheck("api", "http://x")], database_url="postgresql://h/db")


# -- dependencies -------------------------------------------------------------------------------
def test_env_vars_and_secrets_never_show_their_values(tmp_path: Path) -> None:
    env = {"DATABASE_URL": "postgres://x", "EMPTY": "", "STRIPE_KEY": "sk_live_TOPSECRET"}
    (tmp_path / "vault").write_text("TOPSECRET-FILE")
    (tmp_path / "blank").write_text("")
    deps = [
        Dependency("DATABASE_URL", "env_var"),
        Dependency("empty", "env_var", "EMPTY"),
        Dependency("unset", "env_var", "NOT_THERE"),
        Dependency("stripe", "secret", "STRIPE_KEY"),
        Dependency("vault", "secret", f"file:{tmp_path / 'vault'}"),
        Dependency("blank", "secret", f"file:{tmp_path / 'blank'}"),
        Dependency("gone", "secret", "NO_SUCH_SECRET"),
    ]
    results = {d.name: check_dependency(d, env) for d in deps}
    assert {n: r.ok for n, r in results.items()} == {
        "DATABASE_URL": True,
        "empty": False,
        "unset": False,
        "stripe": True,
        "vault": True,
        "blank": False,
        "gone": False,
    }
    assert "environment variable NOT_THERE is not set" in results["unset"].detail
    assert "secret file" in results["blank"].detail and "missing or empty" in results["blank"].detail
    assert "TOPSECRET" not in json.dumps([r.detail for r in results.values()])


def test_external_services_count_as_up_below_500(web: Loopback) -> None:
    ok = check_dependency(Dependency("crm", "external_service", web.url("/missing")), {})
    down = check_dependency(Dependency("mail", "external_service", web.url("/down")), {})
    gone = check_dependency(Dependency("pay", "external_service", refused_url()), {})
    assert ok.ok and ok.detail == "answered HTTP 404"
    assert not down.ok and "HTTP 503" in down.detail
    assert not gone.ok and "unreachable" in gone.detail


def test_migrations_by_path_or_command(tmp_path: Path) -> None:
    (tmp_path / "versions").mkdir()
    py = sys.executable
    results = [
        check_dependency(Dependency("dir", "migration", str(tmp_path / "versions")), {}),
        check_dependency(Dependency("none", "migration", str(tmp_path / "nope")), {}),
        check_dependency(Dependency("cmd", "migration", f"cmd:{py} -c 'raise SystemExit(0)'"), {}),
        check_dependency(Dependency("bad", "migration", f"cmd:{py} -c 'import sys; sys.exit(\"head behind\")'"), {}),
    ]
    assert [r.ok for r in results] == [True, False, True, False]
    assert "does not exist" in results[1].detail
    assert "exited 1" in results[3].detail and "head behind" in results[3].detail


def test_a_non_critical_failure_is_reported_but_does_not_fail(web: Loopback) -> None:
    plan = ValidationPlan(
        (HealthCheck("api", web.url("/ok")),),
        (Dependency("HOME_ENV", "env_var", "SET"), Dependency("nice", "env_var", "UNSET", critical=False)),
        environ={"SET": "1"},
    )
    report = validate(plan, sleep=Sleeps())
    assert report.ok and report.dependency_check_pass_rate == 100.0
    assert [d.ok for d in report.dependencies] == [True, False]
    assert report.backup_verification_pass_rate == 100.0 and report.backup_note == "no database backup in the plan"


# -- backups ------------------------------------------------------------------------------------
def test_backup_is_taken_and_verified_by_exact_counts(source: str, tmp_path: Path) -> None:
    dump = take_backup(source, tmp_path / "backups", timeout=60)
    assert dump.is_file() and dump.suffix == ".dump"
    manifest = json.loads(manifest_path(dump).read_text())
    assert manifest["tables"] == {"public.empty": 0, "public.items": 2000, "sales.orders": 5}
    result = verify_backup(dump, source, timeout=60)
    assert result.ok, result.detail
    assert [s.name for s in result.steps] == ["archive readable", "restored to scratch", "row counts equal"]
    assert {t.table: (t.source, t.restored) for t in result.tables} == {
        "public.empty": (0, 0),
        "public.items": (2000, 2000),
        "sales.orders": (5, 5),
    }
    assert result.counted_against == "snapshot" and result.cleanup == ""
    assert result.scratch_database.startswith("vg_verify_") and not _db_exists(result.scratch_database)


def test_without_a_manifest_counts_are_compared_with_the_live_source(source: str, tmp_path: Path) -> None:
    dump = take_backup(source, tmp_path, timeout=60)
    manifest_path(dump).unlink()
    with psycopg.connect(libpq_url(source)) as conn:
        conn.execute("delete from sales.orders where id > 3")
    result = verify_backup(dump, source, timeout=60)
    assert not result.ok and result.counted_against == "live source"
    assert [(t.table, t.source, t.restored) for t in result.mismatches] == [("sales.orders", 3, 5)]
    assert "backup row counts differ: sales.orders source 3 vs restored 5" in result.detail
    assert not _db_exists(result.scratch_database)


def test_a_garbage_file_fails_verification_clearly(source: str, tmp_path: Path) -> None:
    garbage = tmp_path / "garbage.dump"
    garbage.write_bytes(b"this is not a pg_dump archive\n" * 10)
    result = verify_backup(garbage, source, timeout=30)
    assert not result.ok
    assert result.detail.startswith("archive readable: backup garbage.dump is not a readable pg_dump archive")
    assert not _db_exists(result.scratch_database)


def test_a_truncated_dump_fails_and_its_scratch_database_is_dropped(source: str, tmp_path: Path) -> None:
    dump = take_backup(source, tmp_path, timeout=60)
    data = dump.read_bytes()
    dump.write_bytes(data[: len(data) - 64])
    result = verify_backup(dump, source, timeout=60)
    assert not result.ok and "backup" in result.detail
    assert not any(s.name == "row counts equal" and s.ok for s in result.steps)
    assert not _db_exists(result.scratch_database)


def test_restore_brings_the_rows_back(source: str, tmp_path: Path) -> None:
    dump = take_backup(source, tmp_path, timeout=60)
    with psycopg.connect(libpq_url(source)) as conn:
        conn.execute("delete from sales.orders")
        conn.execute("delete from items where id > 10")
        conn.execute("insert into sales.orders (item, qty) values (1, 99)")
    assert _counts(source) == (10, 1)
    message = restore_backup(dump, source, timeout=60)
    assert message.startswith(f"restored backup {dump.name} into vg_src_")
    assert _counts(source) == (2000, 5)


def test_restore_and_take_failures_raise_typed_errors(source: str, tmp_path: Path) -> None:
    garbage = tmp_path / "garbage.dump"
    garbage.write_bytes(b"nope")
    with pytest.raises(BackupVerificationError, match=r"restore of backup garbage.dump .* failed"):
        restore_backup(garbage, source, timeout=30)
    with pytest.raises(BackupVerificationError, match="does not exist"):
        restore_backup(tmp_path / "missing.dump", source)
    dump = take_backup(source, tmp_path, timeout=60)
    dump.write_bytes(dump.read_bytes()[:-64])
    with psycopg.connect(libpq_url(source)) as conn:
        conn.execute("delete from items where id > 100")
    with pytest.raises(BackupVerificationError, match="end of file"):
        restore_backup(dump, source, timeout=60)
    assert _counts(source) == (100, 5)  # one transaction: the failed restore changed nothing
    with pytest.raises(BackupVerificationError, match="backup of no_such_db_"):
        take_backup(_with_db(source, f"no_such_db_{uuid.uuid4().hex[:6]}"), tmp_path / "out", timeout=10)
    assert list((tmp_path / "out").iterdir()) == []


# -- the whole validation -----------------------------------------------------------------------
def test_validate_all_green_with_a_verified_backup(web: Loopback, source: str, tmp_path: Path) -> None:
    plan = ValidationPlan.from_config(
        {"deployment.health_check_retries": 2, "deployment.backup_verification_timeout": 10},
        health_checks=[HealthCheck("api", web.url("/flaky")), HealthCheck("database", source)],
        dependencies=[Dependency("APP_ENV", "env_var")],
        database_url=source,
        backup_dir=tmp_path,
        environ={"APP_ENV": "prod"},
    )
    assert (plan.retries, plan.backup_timeout, plan.interval) == (2, 600.0, 10.0)
    checkpoints: list[int] = []
    report = validate(plan, sleep=Sleeps(), checkpoint=lambda: checkpoints.append(1))
    assert report.ok, report.failures
    assert (report.health_check_pass_rate, report.dependency_check_pass_rate) == (100.0, 100.0)
    assert report.backup_verification_pass_rate == 100.0 and report.error() is None
    assert report.backup is not None and report.backup.steps[0].name == "backup taken"
    assert len(checkpoints) == 4
    doc = json.loads(json.dumps(report.as_dict()))
    assert doc["health"][0]["attempts"] == 2 and doc["backup"]["ok"] is True and doc["backup"]["mismatches"] == []


def test_a_failed_health_check_skips_the_backup_and_reports_everything(web: Loopback, tmp_path: Path) -> None:
    plan = ValidationPlan(
        (HealthCheck("api", web.url("/ok")), HealthCheck("external", web.url("/boom"))),
        (Dependency("missing", "env_var", "NOPE"),),
        database_url="postgresql://postgres@127.0.0.1:1/never",
        backup_dir=tmp_path / "bk",
        environ={},
        retries=2,
    )
    report = validate(plan, sleep=Sleeps())
    assert not report.ok
    assert report.health_check_pass_rate == 50.0 and report.dependency_check_pass_rate == 0.0
    assert report.backup is None and report.backup_skipped and report.backup_verification_pass_rate == 0.0
    assert not (tmp_path / "bk").exists()
    assert report.failures[0].startswith("health check external: health check failed after 2 attempts")
    assert report.failures[1] == "dependency missing (env_var): environment variable NOPE is not set or empty"
    assert report.failures[2] == "backup skipped: the health checks did not all pass, so no backup was taken"
    assert isinstance(report.error(), HealthCheckError)


def test_the_error_follows_the_failing_part(web: Loopback, source: str, tmp_path: Path) -> None:
    dep_fail = validate(
        ValidationPlan((HealthCheck("api", web.url("/ok")),), (Dependency("X", "env_var"),), environ={})
    )
    assert isinstance(dep_fail.error(), DependencyCheckError)
    assert "environment variable X" in str(dep_fail.error())
    bad_backup = ValidationPlan(
        (HealthCheck("api", web.url("/ok")),),
        database_url=_with_db(source, "no_such_db_at_all"),
        backup_dir=tmp_path,
        backup_timeout=10,
    )
    report = validate(bad_backup)
    assert report.backup is not None and report.backup_verification_pass_rate == 0.0
    assert isinstance(report.error(), BackupVerificationError) and "backup" in str(report.error())


def test_a_plan_without_health_checks_fails() -> None:
    report = validate(ValidationPlan([]))
    assert not report.ok and report.health_check_pass_rate == 0.0
    assert report.failures == ["health check: the plan has none, so nothing shows production is healthy"]
    assert isinstance(report.error(), HealthCheckError)


def test_redaction_and_url_forms() -> None:
    assert redact("postgresql+psycopg://u:pw@h:5/db") == "postgresql+psycopg://u:***@h:5/db"
    assert redact("http://h/x") == "http://h/x"
    assert libpq_url("postgresql+psycopg://u@h/db?x=1") == "postgresql://u@h/db?x=1"
    with pytest.raises(ValueError, match="not a PostgreSQL URL"):
        libpq_url("mysql://h/db")
