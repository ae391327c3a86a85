"""A lost PostgreSQL connection is the engine's `StoreUnavailable`, retried once where nothing had committed.

The server ends the backend (`pg_terminate_backend`, from another connection) between operations, inside one
(before its commit) or while it commits. Between operations the pool replaces the dead connection unseen.
Inside one, the transaction rolled back whole: the engine raises `StoreUnavailable` (nothing changed), and the
CLI and the API run the command or request once more; a second loss is reported (CLI: one line, exit 1; API:
503 with `Retry-After`). During the commit the outcome is unknown: it is reported as such and never retried.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Connection, create_engine, func, select, text
from typer.testing import CliRunner

from tests.conftest import AGENT, CHAIR, MINI, PG_URL, T0
from venturegate.api.app import create_app
from venturegate.cli.app import app as cli
from venturegate.definitions.loader import load_workflow
from venturegate.engine import Engine, StoreUnavailable
from venturegate.store.database import connect, ensure_schema
from venturegate.store.schema import events
from venturegate.store.transactions import retry_lost

pytestmark = pytest.mark.parametrize("db_url", ["postgresql"], indirect=True)  # SQLite has no connection to lose


def _pid(conn: Connection) -> int:
    return int(conn.execute(text("SELECT pg_backend_pid()")).scalar_one())


def _terminate(conn: Connection | int) -> None:
    """End the backend serving `conn` (or the one with that pid), from another connection (as a restart or an
    administrator would)."""
    pid = conn if isinstance(conn, int) else _pid(conn)
    admin = create_engine(PG_URL, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as other:
            assert other.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": pid}).scalar_one()
            # The backend ends on its own time (it sends its FATAL error, then exits): wait until it has.
            gone = text("SELECT count(*) = 0 FROM pg_stat_activity WHERE pid = :pid")
            deadline = time.monotonic() + 10
            while not other.execute(gone, {"pid": pid}).scalar_one():
                assert time.monotonic() < deadline, f"backend {pid} still there 10 s after it was terminated"
                time.sleep(0.005)
    finally:
        admin.dispose()


class Killer:
    """Ends the backend at the start of the next `times` engine transactions (before anything in them ran)."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch, times: int) -> None:
        self.left = times
        tx = Engine.tx

        @contextmanager
        def killing(engine: Engine) -> Iterator[Connection]:
            with tx(engine) as conn:
                if self.left:
                    self.left -= 1
                    _terminate(conn)  # the body's first statement finds the connection gone
                yield conn

        monkeypatch.setattr(Engine, "tx", killing)


@pytest.fixture
def eng(db_url: str) -> Iterator[Engine]:
    db = connect(db_url)
    ensure_schema(db)
    engine = Engine(db, load_workflow(MINI), clock=lambda: T0)
    yield engine
    db.dispose()


def _samples(eng: Engine, v: int) -> list[float]:
    since, until = T0 - timedelta(days=1), T0 + timedelta(days=1)
    return [s.value for s in eng.samples(v, "latency_ms", since=since, until=until)]


def _events(eng: Engine) -> int:
    with eng.tx() as conn:
        return int(conn.execute(select(func.count()).select_from(events)).scalar_one())


def test_a_connection_lost_between_operations_is_replaced_unseen(eng: Engine) -> None:
    v = eng.create_venture("between", "b2b_smb", 2, actor=AGENT).id
    with eng.tx() as conn:
        pid = _pid(conn)
    _terminate(pid)  # the connection waits in the pool, dead
    eng.record_sample(v, "latency_ms", 10, actor=AGENT, now=T0)
    assert _samples(eng, v) == [10]


def test_a_live_pooled_connection_is_not_pinged_at_checkout(eng: Engine, monkeypatch: pytest.MonkeyPatch) -> None:
    # The dead one above is pinged (its socket holds the server's goodbye) and replaced; a live one is handed
    # out without the round trip a ping costs.
    pings: list[object] = []
    ping = eng.db.dialect.do_ping

    def counted(dbapi: object) -> bool:
        pings.append(dbapi)
        return ping(dbapi)  # type: ignore[arg-type]

    monkeypatch.setattr(eng.db.dialect, "do_ping", counted)
    v = eng.create_venture("live", "b2b_smb", 2, actor=AGENT).id
    for value in (10, 11, 12):
        eng.record_sample(v, "latency_ms", value, actor=AGENT, now=T0)
    assert pings == []
    with eng.tx() as conn:
        pid = _pid(conn)
    _terminate(pid)
    eng.record_sample(v, "latency_ms", 13, actor=AGENT, now=T0)
    assert len(pings) == 1 and _samples(eng, v) == [10, 11, 12, 13]


@pytest.mark.parametrize("statement", ["prepared", "core"])
def test_a_connection_lost_inside_a_transaction_changes_nothing(eng: Engine, statement: str) -> None:
    v = eng.create_venture("inside", "b2b_smb", 2, actor=AGENT).id
    before = _events(eng)
    with pytest.raises(StoreUnavailable, match="connection was lost; nothing was changed") as caught, eng.tx() as conn:
        eng._event(conn, v, "test.written", AGENT, T0)
        _terminate(conn)
        if statement == "prepared":  # a compiled statement on the driver's cursor: the driver's own error
            eng._event(conn, v, "test.written", AGENT, T0)
        else:
            conn.execute(select(func.count()).select_from(events))
    assert caught.value.committed is False and caught.value.__cause__ is not None
    assert _events(eng) == before  # the first event rolled back with the rest
    eng.record_sample(v, "latency_ms", 10, actor=AGENT, now=T0)  # the engine carries on with a new connection
    assert _samples(eng, v) == [10]


def test_a_connection_lost_during_the_commit_is_reported_as_unknown_and_not_retried(
    eng: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    v = eng.create_venture("commit", "b2b_smb", 2, actor=AGENT).id
    runs = []

    def ended(conn: Connection) -> None:  # the last thing before COMMIT is sent
        _terminate(conn)

    def operation() -> None:
        runs.append(1)
        with eng.tx() as conn:
            eng._event(conn, v, "test.written", AGENT, T0)
            monkeypatch.setattr(eng._transactions, "ended", ended)

    with pytest.raises(StoreUnavailable, match="may or may not have been saved") as caught:
        retry_lost(operation)
    assert caught.value.committed is None and runs == [1]


def test_an_operation_is_run_again_once_and_stored_once(eng: Engine, monkeypatch: pytest.MonkeyPatch) -> None:
    v = eng.create_venture("again", "b2b_smb", 2, actor=AGENT).id
    killer = Killer(monkeypatch, times=1)
    retry_lost(lambda: eng.record_sample(v, "latency_ms", 1500, actor=AGENT, key="k1", now=T0))
    assert killer.left == 0 and _samples(eng, v) == [1500]
    killer = Killer(monkeypatch, times=2)  # lost again on the second run: reported
    with pytest.raises(StoreUnavailable):
        retry_lost(lambda: eng.record_sample(v, "latency_ms", 1600, actor=AGENT, key="k2", now=T0))
    assert killer.left == 0 and _samples(eng, v) == [1500]


def test_an_operation_is_not_run_again_after_one_of_its_transactions_committed(
    eng: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    v = eng.create_venture("partial", "b2b_smb", 2, actor=AGENT).id
    runs = []

    def two_steps() -> None:
        runs.append(1)
        with eng.tx() as conn:
            eng._event(conn, v, "test.first", AGENT, T0)
        Killer(monkeypatch, times=1)
        with eng.tx() as conn:
            eng._event(conn, v, "test.second", AGENT, T0)

    with pytest.raises(StoreUnavailable):
        retry_lost(two_steps)
    assert runs == [1]  # the first step had committed: running it again would do it twice


def _client(eng: Engine) -> Iterator[TestClient]:
    secret = eng.create_token("writer", "agent", actor=CHAIR)[1]
    with TestClient(create_app(eng)) as client:
        client.headers["Authorization"] = f"Bearer {secret}"
        assert client.get("/api/ventures").is_success  # the token is read (and cached) before the loss
        yield client


@pytest.fixture
def client(eng: Engine) -> Iterator[TestClient]:
    yield from _client(eng)


def test_the_api_runs_the_request_again_then_answers_503(
    eng: Engine, client: TestClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    v = eng.create_venture("api", "b2b_smb", 2, actor=AGENT).id
    body: dict[str, Any] = {"venture": str(v), "metric": "latency_ms", "value": 1500, "key": "a1"}
    killer = Killer(monkeypatch, times=1)
    got = client.post("/api/metrics", json=body)
    assert got.status_code == 201 or got.is_success, got.text
    assert killer.left == 0 and _samples(eng, v) == [1500]
    Killer(monkeypatch, times=2)
    got = client.post("/api/metrics", json={**body, "value": 1600, "key": "a2"})
    assert got.status_code == 503, got.text
    assert got.headers["Retry-After"] == "1"
    assert got.json()["type"] == "/problems/unavailable"
    assert "nothing was changed" in got.json()["detail"]
    assert _samples(eng, v) == [1500]


def test_the_api_answers_an_unknown_commit_without_running_it_again(
    eng: Engine, client: TestClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    v = eng.create_venture("unknown", "b2b_smb", 2, actor=AGENT).id
    ends = []

    def ended(conn: Connection) -> None:
        ends.append(1)
        if len(ends) == 1:
            _terminate(conn)

    monkeypatch.setattr(eng._transactions, "ended", ended)
    got = client.post("/api/metrics", json={"venture": str(v), "metric": "latency_ms", "value": 1500})
    assert got.status_code == 503 and got.json()["type"] == "/problems/outcome-unknown", got.text
    assert "may or may not" in got.json()["detail"]
    assert len(ends) == 1  # not run again


def test_the_cli_runs_the_command_again_then_fails_on_one_line(
    eng: Engine, db_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    v = eng.create_venture("cli", "b2b_smb", 2, actor=AGENT).id
    args = ["--db", db_url, "--workflow", str(MINI), "metric", "record", str(v), "latency_ms"]
    killer = Killer(monkeypatch, times=1)
    got = CliRunner().invoke(cli, [*args, "1500", "--at", T0.isoformat()])
    assert got.exit_code == 0 and killer.left == 0, got.output
    assert _samples(eng, v) == [1500]
    Killer(monkeypatch, times=2)
    got = CliRunner().invoke(cli, [*args, "1600", "--at", T0.isoformat()])
    assert got.exit_code == 1, got.output
    assert got.output.strip() == "error: the database connection was lost; nothing was changed, retry"
    assert _samples(eng, v) == [1500]
