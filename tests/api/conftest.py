"""API fixtures: the app around a fresh engine (SQLite and PostgreSQL), a token per role, a client per role.

No API test queues a job in the working directory: the default queue (`VENTUREGATE_QUEUE_URL`) is a
file in the test's `tmp_path`, and no app here runs a worker unless a test asks for one.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable, Iterator
from importlib.metadata import EntryPoint
from pathlib import Path

import pytest

with warnings.catch_warnings():
    # Starlette 1.10 asks for httpx2 instead of httpx (locked in requirements.lock); the client works the same.
    warnings.filterwarnings("ignore", message="Using `httpx` with `starlette.testclient` is deprecated")
    from starlette.testclient import TestClient

from tests.conftest import CHAIR
from venturegate.api import create_app
from venturegate.core.permissions import ROLES
from venturegate.crews import AgentSpec, Crew, CrewContext, CrewResult, registry
from venturegate.engine import Engine

Client = Callable[[str], TestClient]


@pytest.fixture(autouse=True)
def queue_url(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    """The default job queue of every app built here: a SQLite file in `tmp_path`."""
    url = f"sqlite:///{tmp_path / 'queue.db'}"
    monkeypatch.setenv("VENTUREGATE_QUEUE_URL", url)
    return url


class QuickCrew(Crew):
    """A crew that counts `steps` (option, default 2) in milliseconds: a progress report and a checkpoint each."""

    name = "Quick"
    agents = (AgentSpec("Counter", "counts", ()),)

    def __init__(self, stage: int) -> None:
        self.stage = stage

    def run(self, ctx: CrewContext) -> CrewResult:
        steps = int(ctx.option("steps", 2))
        for step in range(1, steps + 1):
            ctx.checkpoint()
            ctx.progress("count", step, steps, f"step {step}")
        return CrewResult("completed", {"counted": steps})


quick1 = QuickCrew(1)
quick2 = QuickCrew(2)


@pytest.fixture
def quick_crews(monkeypatch: pytest.MonkeyPatch) -> None:
    """Crews `quick1` and `quick2` (stages 1 and 2) installed as `venturegate.crews` entry points, as a plugin's."""
    eps = [EntryPoint(name, f"{__name__}:{name}", registry.GROUP) for name in ("quick1", "quick2")]

    def fake(group: str) -> list[EntryPoint]:
        return eps if group == registry.GROUP else []

    monkeypatch.setattr(registry, "entry_points", fake)


@pytest.fixture
def tokens(engine: Engine) -> dict[str, str]:
    """A live token for every role, named after it."""
    return {role: engine.create_token(f"{role}-1", role, actor=CHAIR)[1] for role in ROLES}


@pytest.fixture
def client(engine: Engine, tokens: dict[str, str]) -> Iterator[Client]:
    """`client(role)`: a test client sending that role's token (`client("")`: no token)."""
    app = create_app(engine)
    opened: list[TestClient] = []

    def make(role: str) -> TestClient:
        c = TestClient(app, raise_server_exceptions=True)
        if role:
            c.headers["Authorization"] = f"Bearer {tokens[role]}"
        opened.append(c.__enter__())
        return c

    yield make
    for c in opened:
        c.__exit__(None, None, None)
