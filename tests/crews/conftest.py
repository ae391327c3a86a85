"""Fixtures for the crew tests: the bundled workflow on SQLite and PostgreSQL, the demo provider on loopback."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from venturegate.crews.stage19.demo import TOKEN_ENV
from venturegate.crews.stage19.demo_target import DEMO_TOKEN
from venturegate.engine import Actor, Engine

LEAD = Actor("lee", "lead")
FAST = {
    "max_examples": 3,
    "load_test.constant_duration": 0.5,
    "load_test.constant_ramp_up": 0,
    "load_test.ramp_step_duration": 0.5,
    "load_test.spike_duration": 0.6,
    "load_test.spike_repeats": 1,
    "probe_seconds": 1.0,
    "hold_seconds": 1.5,
    "max_seconds": 5.0,
}
"""Crew options (stage-19 parameters by name, and run bounds) that keep a full stage-19 run short."""


@pytest.fixture
def bundled(db_url: str) -> Iterator[Engine]:
    """An engine with the bundled lifecycle on a fresh database (SQLite, and PostgreSQL when reachable)."""
    eng = Engine.open(db_url)
    yield eng
    eng.db.dispose()


@pytest.fixture(scope="session")
def _migrated(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A migrated, empty SQLite database to copy (migrating costs seconds; copying, nothing)."""
    path = tmp_path_factory.mktemp("template") / "vg.db"
    Engine.open(f"sqlite:///{path}").db.dispose()
    return path


@pytest.fixture
def sqlite_engine(tmp_path: Path, _migrated: Path) -> Iterator[Engine]:
    """An engine with the bundled lifecycle on a SQLite file only (for the slower tests)."""
    shutil.copy(_migrated, tmp_path / "vg.db")
    eng = Engine.open(f"sqlite:///{tmp_path / 'vg.db'}")
    yield eng
    eng.db.dispose()


@pytest.fixture
def token(monkeypatch: pytest.MonkeyPatch) -> str:
    """The demo provider's sandbox token, exported where the test accounts reference it."""
    monkeypatch.setenv(TOKEN_ENV, DEMO_TOKEN)
    return DEMO_TOKEN
