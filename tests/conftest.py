"""Shared fixtures: every store test runs against SQLite and PostgreSQL (required in CI, never skipped there)."""

from __future__ import annotations

import os
import re
import uuid
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from functools import cache
from pathlib import Path
from typing import Any

# pytest-xdist's workers start with COLUMNS=80 in their environment, and Rich fixes a console's width from COLUMNS
# when the console is made (at import of `venturegate.cli.context`): tests that pass COLUMNS to a CliRunner would
# then see 80 on a worker and their own width in a single process. Without it, the width is read at each print.
os.environ.pop("COLUMNS", None)
# Test subprocesses run `venturegate` in-process: a warm CLI server would outlive the test that started it. The
# server's own tests (tests/cli/test_server.py) turn it on for the processes they start, and stop them.
os.environ["VENTUREGATE_CLI_SERVER"] = "0"

import pytest
from sqlalchemy import create_engine, text

from venturegate.definitions.loader import load_workflow
from venturegate.engine import Actor, Engine
from venturegate.store.database import connect, ensure_schema

ROOT = Path(__file__).resolve().parents[1]
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
            if not eng.restorer.handlers(scope, stage.id):
                eng.register_rollback_handler(scope, lambda ctx: "stand-in: nothing to undo", stage=stage.id)
                added.append(f"{stage.id}:{scope}")
    return added


SHARED_GROUPS = {"tests/crews/stage28/": "stage28", "tests/test_demo_crews.py": "stage28"}
"""Test folders (or modules) whose tests share a resource no two workers may use at once, each group run as one
unit on one worker: the stage-28 tests share the throwaway PostgreSQL's `stage28` database (its tables, the indexes
a crew builds, `pg_stat_statements`), and the demo's stage-28 scene times its service on the same server: run
beside the stage-28 crew tests, each slowed the other's measurements enough to flip their verdicts."""
SHARED_FIXTURE = re.compile(r"""@pytest\.fixture\([^)]*scope=["'](?:module|package|class)["']""")


@cache
def _shares_a_fixture(path: str) -> bool:
    """Whether the test module at `path` (relative to the repository) declares a module-, class- or package-scoped
    fixture: its tests then run as one unit, so the fixture is built once rather than on every worker."""
    try:
        return SHARED_FIXTURE.search((ROOT / path).read_text()) is not None
    except OSError:
        return False


def work_unit(nodeid: str) -> str:
    """What `pytest -n N` (scripts/check) sends to one worker as a whole: a SHARED_GROUPS folder, a module with a
    shared fixture, else the test alone (so a module's slow tests spread over the workers)."""
    path = nodeid.split("::", 1)[0]
    for folder, group in SHARED_GROUPS.items():
        if path.startswith(folder):
            return group
    return path if _shares_a_fixture(path) else nodeid


def pytest_xdist_make_scheduler(config: pytest.Config, log: Any) -> Any:
    """xdist's `loadscope` scheduling with `work_unit` as the scope (largest units first, then in test order).

    Not `--dist loadgroup`: with pytest 9.2 its `xdist_group` marks are ignored (xdist 3.8 renames `item._nodeid`,
    which pytest no longer reads), so every test would be a unit of its own.
    """
    from xdist.scheduler import LoadScopeScheduling  # type: ignore[import-untyped]

    class Units(LoadScopeScheduling):  # type: ignore[misc]  # untyped base
        def _split_scope(self, nodeid: str) -> str:
            return work_unit(nodeid)

    return Units(config, log)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Put the modules with slow tests (marked `slow`, or in a SHARED_GROUPS folder) first, each in its own order,
    so that the workers start on the long tests rather than end on them."""
    heavy = {
        item.nodeid.split("::", 1)[0]
        for item in items
        if item.get_closest_marker("slow") is not None or work_unit(item.nodeid) in SHARED_GROUPS.values()
    }
    items.sort(key=lambda item: item.nodeid.split("::", 1)[0] not in heavy)


@pytest.fixture(autouse=True, scope="session")
def _workflow_cache(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    """The CLI's workflow cache lives in the test session's temp folder, not in the home folder."""
    before = os.environ.get("VENTUREGATE_CACHE_DIR")
    os.environ["VENTUREGATE_CACHE_DIR"] = str(tmp_path_factory.mktemp("workflow-cache"))
    yield
    if before is None:
        os.environ.pop("VENTUREGATE_CACHE_DIR", None)
    else:
        os.environ["VENTUREGATE_CACHE_DIR"] = before


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
