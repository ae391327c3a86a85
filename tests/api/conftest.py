"""API fixtures: the app around a fresh engine (SQLite and PostgreSQL), a token per role, a client per role."""

from __future__ import annotations

import warnings
from collections.abc import Callable, Iterator

import pytest

with warnings.catch_warnings():
    # Starlette 1.10 asks for httpx2 instead of httpx (locked in requirements.lock); the client works the same.
    warnings.filterwarnings("ignore", message="Using `httpx` with `starlette.testclient` is deprecated")
    from starlette.testclient import TestClient

from tests.conftest import CHAIR
from venturegate.api import create_app
from venturegate.core.permissions import ROLES
from venturegate.engine import Engine

Client = Callable[[str], TestClient]


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
