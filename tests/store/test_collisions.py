"""A collision with another transaction is the engine's `Collision` everywhere: engine, CLI and API alike.

Another connection holds the venture (PostgreSQL: its row, with `lock_timeout` at 200 ms for the engine;
SQLite: the write lock, with a 0.2 s busy timeout); recording a sample then fails with a clear conflict
error, nothing is stored, and once the lock is released the same call succeeds.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import create_engine, text
from typer.testing import CliRunner

from tests.conftest import AGENT, CHAIR, T0
from venturegate.api.app import create_app
from venturegate.cli.app import app as cli
from venturegate.definitions.loader import load_workflow
from venturegate.engine import Collision, Conflict, Engine
from venturegate.store.collisions import collision
from venturegate.store.database import BUSY_TIMEOUT_ENV, connect, ensure_schema

WORKFLOW = """\
workflow: {id: collide, version: "1"}
stages:
  - id: 1
    title: One
    metrics:
      quality: {unit: percent}
"""


def _stored(eng: Engine, v: int) -> list[float]:
    return [s.value for s in eng.samples(v, "quality", since=T0 - timedelta(days=1), until=T0 + timedelta(days=1))]


def impatient(db_url: str) -> str:
    """The URL with a short wait for locks (PostgreSQL: `lock_timeout`; SQLite's comes from the environment)."""
    if db_url.startswith("postgresql"):
        return f"{db_url}%20-clock_timeout%3D200" if "options=" in db_url else f"{db_url}?options=-clock_timeout%3D200"
    return db_url


@contextmanager
def held(db_url: str, venture_id: int) -> Iterator[None]:
    """Another connection holds the venture until the block ends."""
    if db_url.startswith("sqlite"):
        other = sqlite3.connect(db_url.split("///", 1)[1], isolation_level=None)
        other.execute("BEGIN IMMEDIATE")
        try:
            yield
        finally:
            other.rollback()
            other.close()
        return
    db = create_engine(db_url)
    try:
        with db.begin() as conn:
            conn.execute(text("SELECT id FROM ventures WHERE id = :v FOR UPDATE"), {"v": venture_id})
            yield
    finally:
        db.dispose()


@pytest.fixture
def setup(db_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[Engine, str, int]]:
    monkeypatch.setenv(BUSY_TIMEOUT_ENV, "0.2")
    path = tmp_path / "collide.yaml"
    path.write_text(WORKFLOW, encoding="utf-8")
    url = impatient(db_url)
    db = connect(url)
    ensure_schema(db)
    eng = Engine(db, load_workflow(path), clock=lambda: T0)
    v = eng.create_venture("held", "b2b_smb", 1, actor=AGENT).id
    yield eng, url, v
    db.dispose()


def test_the_engine_raises_a_collision_and_changes_nothing(setup: tuple[Engine, str, int], db_url: str) -> None:
    eng, _, v = setup
    with held(db_url, v), pytest.raises(Collision) as caught:
        eng.record_sample(v, "quality", 40, actor=AGENT, now=T0)
    assert isinstance(caught.value, Conflict) and "nothing was changed" in str(caught.value)
    assert caught.value.kind == ("lock_timeout" if db_url.startswith("postgresql") else "busy")
    assert not caught.value.transient  # it already waited its budget: not retried at once
    assert caught.value.__cause__ is not None and collision(caught.value.__cause__) == caught.value.kind
    assert _stored(eng, v) == []
    eng.record_sample(v, "quality", 40, actor=AGENT, now=T0)  # released: the same call goes through
    assert _stored(eng, v) == [40]


def test_the_api_answers_409(setup: tuple[Engine, str, int], db_url: str) -> None:
    eng, _, v = setup
    secret = eng.create_token("writer", "agent", actor=CHAIR)[1]
    with TestClient(create_app(eng)) as client:
        client.headers["Authorization"] = f"Bearer {secret}"
        with held(db_url, v):
            r = client.post("/api/metrics", json={"venture": str(v), "metric": "quality", "value": 40})
        assert r.status_code == 409, r.text
        assert "nothing was changed" in r.json()["detail"]
        assert client.post("/api/metrics", json={"venture": str(v), "metric": "quality", "value": 40}).is_success
    assert len(_stored(eng, v)) == 1


def test_the_cli_says_the_same_and_exits_1(
    setup: tuple[Engine, str, int], db_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    eng, url, v = setup
    monkeypatch.chdir(tmp_path)
    args = ["--db", url, "--workflow", str(tmp_path / "collide.yaml"), "metric", "record", str(v), "quality", "40"]
    with held(db_url, v):
        got = CliRunner().invoke(cli, args)
    assert got.exit_code == Conflict.exit_code, got.output
    assert "nothing was changed" in got.output
    assert _stored(eng, v) == []
