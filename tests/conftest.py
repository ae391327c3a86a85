"""Shared fixtures: every store test runs against SQLite and PostgreSQL (required in CI, never skipped there)."""

from __future__ import annotations

import os
import uuid
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text

from venturegate.definitions.loader import load_workflow
from venturegate.engine import Actor, Engine
from venturegate.store.database import connect, ensure_schema

FIXTURES = Path(__file__).parent / "fixtures"
MINI = FIXTURES / "mini.yaml"
PG_URL = os.environ.get("VENTUREGATE_TEST_POSTGRES_URL", "")
T0 = datetime(2026, 11, 2, 9, 0, tzinfo=UTC)

LEAD = Actor("lee", "lead")
CHAIR = Actor("ada", "chairman")
AGENT = Actor("bot", "agent", "agent")


def _postgres_available() -> bool:
    if not PG_URL:
        return False
    probe = create_engine(PG_URL)
    try:
        with probe.connect() as conn:
            conn.execute(text("select 1"))
        return True
    except Exception:
        return False
    finally:
        probe.dispose()


def serve_scopes(eng: Engine) -> list[str]:
    """Give every rollback scope a stage declares a handler: the installed crews' own, else a do-nothing stand-in.

    A declared scope no handler serves makes a rollback escalate; tests about triggers and configuration
    use this to stand in for crews that are not part of the test. Returns the stand-ins it added.
    """
    from venturegate.crews.registry import install_hooks

    install_hooks(eng)
    added = []
    for stage in eng.workflow.workflow.stages:
        for scope in stage.rollback.scopes:
            if not eng._handlers(scope, stage.id):
                eng.register_rollback_handler(scope, lambda ctx: "stand-in: nothing to undo", stage=stage.id)
                added.append(f"{stage.id}:{scope}")
    return added


@pytest.fixture(scope="session")
def postgres_ok() -> bool:
    """Whether the test PostgreSQL answers; in CI its absence is a failure, not a skip."""
    ok = _postgres_available()
    if not ok and os.environ.get("CI"):
        pytest.fail(f"PostgreSQL is required in CI but {PG_URL or 'VENTUREGATE_TEST_POSTGRES_URL'} is not reachable")
    return ok


@pytest.fixture(params=["sqlite", "postgresql"])
def db_url(request: pytest.FixtureRequest, tmp_path: Path, postgres_ok: bool) -> Iterator[str]:
    """A fresh, empty database URL: a SQLite file, or a new PostgreSQL schema dropped afterwards."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'vg.db'}"
        return
    if not postgres_ok:
        pytest.skip("PostgreSQL not reachable (set VENTUREGATE_TEST_POSTGRES_URL; `make test` does)")
    schema = f"t_{uuid.uuid4().hex[:12]}"
    admin = create_engine(PG_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    sep = "&" if "?" in PG_URL else "?"
    try:
        yield f"{PG_URL}{sep}options=-csearch_path%3D{schema}"
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()


@pytest.fixture
def engine(db_url: str) -> Iterator[Engine]:
    """An engine on a fresh database with the mini workflow and a fixed clock."""
    db = connect(db_url)
    ensure_schema(db)
    eng = Engine(db, load_workflow(MINI), clock=lambda: T0)
    yield eng
    db.dispose()


@pytest.fixture
def reopen() -> Iterator[Callable[[Engine], Engine]]:
    """Make a new engine on the same database, as after a restart (state must survive it)."""
    opened: list[Engine] = []

    def make(eng: Engine) -> Engine:
        again = Engine(connect(eng.db.url.render_as_string(hide_password=False)), eng.workflow, clock=eng.clock)
        opened.append(again)
        return again

    yield make
    for eng in opened:
        eng.db.dispose()
