"""Dashboard fixtures: an engine on the dashboard's test workflow, a token per role, logged-in browsers."""

from __future__ import annotations

import re
import warnings
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

with warnings.catch_warnings():
    # Starlette 1.10 asks for httpx2 instead of httpx (locked in requirements.lock); the client works the same.
    warnings.filterwarnings("ignore", message="Using `httpx` with `starlette.testclient` is deprecated")
    from starlette.testclient import TestClient

from tests.conftest import CHAIR, T0
from venturegate.api import create_app
from venturegate.core.permissions import ROLES
from venturegate.definitions.loader import load_workflow
from venturegate.engine import Actor, Engine
from venturegate.store.database import connect, ensure_schema

FLOW = Path(__file__).parent / "flow.yaml"
LEAD = Actor("lee", "lead")
CSRF_RE = re.compile(r'name="csrf" value="([^"]+)"')

Browser = Callable[[str], TestClient]


def csrf_of(html: str) -> str:
    """The CSRF value of the first form on a page."""
    found = CSRF_RE.search(html)
    assert found is not None, "the page has no CSRF field"
    return found.group(1)


@pytest.fixture
def engine(db_url: str) -> Iterator[Engine]:
    """An engine on a fresh database with the dashboard's workflow and a fixed clock."""
    db = connect(db_url)
    ensure_schema(db)
    eng = Engine(db, load_workflow(FLOW), clock=lambda: T0)
    yield eng
    db.dispose()


@pytest.fixture
def tokens(engine: Engine) -> dict[str, str]:
    """A live token for every role, named `<role>-1`."""
    return {role: engine.create_token(f"{role}-1", role, actor=CHAIR)[1] for role in ROLES}


@pytest.fixture
def pending(engine: Engine) -> int:
    """Venture `acme` at stage 1: ready enough, awaiting the Chairman's approval (its id is returned)."""
    engine.create_venture("acme", "b2c_mass", actor=LEAD)
    engine.record_sample("acme", "readiness", 91, actor=LEAD, key="r1")
    return engine.request_approval("acme", "chairman", actor=LEAD, reason="ready for build").id


def login(client: TestClient, token: str) -> None:
    """Log in through the form, as a browser would."""
    form = client.get("/login")
    assert form.status_code == 200
    answer = client.post(
        "/login", data={"token": token, "csrf": csrf_of(form.text), "next": "/"}, follow_redirects=False
    )
    assert answer.status_code == 303, answer.text


@pytest.fixture
def anonymous(engine: Engine) -> Iterator[TestClient]:
    """A browser that has not logged in."""
    with TestClient(create_app(engine), raise_server_exceptions=True) as client:
        yield client


@pytest.fixture
def browser(engine: Engine, tokens: dict[str, str]) -> Iterator[Browser]:
    """`browser(role)`: a client logged in through the form with that role's token."""
    app = create_app(engine)
    opened: list[TestClient] = []

    def make(role: str) -> TestClient:
        client = TestClient(app, raise_server_exceptions=True).__enter__()
        opened.append(client)
        login(client, tokens[role])
        return client

    yield make
    for client in opened:
        client.__exit__(None, None, None)
