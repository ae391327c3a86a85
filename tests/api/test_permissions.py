"""Roles and tokens: 401 without a live token, 403 for a role the matrix leaves out, every route × every role."""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest
from starlette.testclient import TestClient

from tests.api.conftest import Client
from tests.conftest import CHAIR, LEAD, MINI, T0
from venturegate.api import create_app
from venturegate.api.app import api_routes
from venturegate.api.deps import route_permission
from venturegate.core.permissions import MATRIX, PERMISSIONS, ROLES, render_matrix
from venturegate.definitions.loader import load_workflow
from venturegate.engine import Engine
from venturegate.store.database import connect, ensure_schema

_APP = create_app(Engine.__new__(Engine))  # routes only: no request reaches this engine
ROUTES = sorted(
    ((r.path, m, route_permission(r)) for r in api_routes(_APP) if r.path.startswith("/api/") for m in r.methods or ()),
    key=lambda x: (x[0], x[1]),
)
GUARDED = [(path, method, perm) for path, method, perm in ROUTES if perm is not None]
DUMMY = {"venture": "no-such-venture", "approval_id": "999999", "ident": "999999", "name": "nothing", "key": "a.b"}


def _url(path: str) -> str:
    return re.sub(r"{(\w+)}", lambda m: DUMMY.get(m.group(1), "999999"), path)


def test_every_api_route_but_health_needs_a_token() -> None:
    assert [p for p, _, perm in ROUTES if perm is None] == ["/api/health"]
    assert len(GUARDED) > 40
    assert {perm for _, _, perm in GUARDED} == set(PERMISSIONS)  # every permission guards something


@pytest.fixture(scope="module")
def role_clients(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, TestClient]]:
    """One app on one SQLite database for the whole matrix (the check runs before the store is touched)."""
    where = tmp_path_factory.mktemp("matrix")
    db = connect(f"sqlite:///{where / 'vg.db'}")
    ensure_schema(db)
    engine = Engine(db, load_workflow(MINI), clock=lambda: T0)
    app = create_app(engine, queue_url=f"sqlite:///{where / 'queue.db'}")
    clients: dict[str, TestClient] = {}
    for role in ROLES:
        c = TestClient(app)
        c.headers["Authorization"] = f"Bearer {engine.create_token(role, role, actor=CHAIR)[1]}"
        clients[role] = c.__enter__()
    yield clients
    for c in clients.values():
        c.__exit__(None, None, None)
    db.dispose()


@pytest.mark.parametrize("role", ROLES)
@pytest.mark.parametrize(("path", "method", "permission"), GUARDED, ids=[f"{m} {p}" for p, m, _ in GUARDED])
def test_matrix_row(role_clients: dict[str, TestClient], role: str, path: str, method: str, permission: str) -> None:
    """A role outside the row gets 403 before anything is looked at; a role inside gets past the check."""
    got = role_clients[role].request(method, _url(path), json={})
    if role in MATRIX[permission]:  # type: ignore[index]
        assert got.status_code not in (401, 403), got.json()
    else:
        assert got.status_code == 403, got.json()
        body = got.json()
        assert got.headers["content-type"] == "application/problem+json"
        assert body["status"] == 403 and role in body["detail"] and "roles allowed" in body["detail"]


@pytest.mark.parametrize(("path", "method"), [(p, m) for p, m, _ in GUARDED[:8]])
def test_no_token_is_401_with_bearer_challenge(client: Client, path: str, method: str) -> None:
    got = client("").request(method, _url(path), json={})
    assert got.status_code == 401
    assert got.headers["www-authenticate"] == "Bearer"
    assert got.json()["type"] == "/problems/unauthenticated"


def test_unknown_and_revoked_tokens_are_401(client: Client, engine: Engine) -> None:
    c = client("viewer")
    assert c.get("/api/ventures").status_code == 200
    c.headers["Authorization"] = "Bearer vg_not-a-real-token"
    assert c.get("/api/ventures").status_code == 401
    c.headers["Authorization"] = "Basic dXNlcjpwYXNz"
    assert c.get("/api/ventures").status_code == 401
    engine.revoke_token("viewer-1", actor=CHAIR)
    revoked = client("viewer").get("/api/ventures")
    assert revoked.status_code == 401 and "revoked" in revoked.json()["detail"]


def test_health_and_docs_need_no_token(client: Client) -> None:
    c = client("")
    assert c.get("/api/health").json()["status"] == "ok"
    doc = c.get("/openapi.json").json()
    assert doc["openapi"].startswith("3.1")
    assert doc["paths"]["/api/metrics"]["post"]["x-roles"] == ["chairman", "lead", "plan", "exec", "agent"]
    assert c.get("/docs").status_code == 200


def test_me_lists_the_roles_permissions(client: Client) -> None:
    me = client("agent").get("/api/me").json()
    assert me == {
        "name": "agent-1",
        "role": "agent",
        "permissions": ["read", "write_samples", "write_artifacts", "complete_substages", "report_errors", "run_crews"],
    }


def test_matrix_is_documented() -> None:
    from pathlib import Path

    doc = (Path(__file__).resolve().parents[2] / "docs" / "api.md").read_text(encoding="utf-8")
    assert render_matrix() in doc, "regenerate the matrix in docs/api.md (python -m venturegate.core.permissions)"


# -- decisions that depend on the thing acted on -------------------------------------------------


@pytest.fixture
def pending(engine: Engine) -> int:
    """A Chairman approval pending for a venture at stage 2 of the mini workflow."""
    v = engine.create_venture("acme", "b2b_smb", 2, actor=LEAD)
    engine.attest(v.id, "Budget approved", actor=LEAD)
    return engine.request_approval(v.id, "chairman", actor=LEAD, reason="ship").id


def test_an_approval_is_decided_only_by_its_role(client: Client, pending: int) -> None:
    refused = client("lead").post(f"/api/approvals/{pending}/approve", json={"reason": "ok"})
    assert refused.status_code == 403 and "chairman" in refused.json()["detail"]
    got = client("chairman").post(f"/api/approvals/{pending}/approve", json={"reason": "ok"})
    assert got.status_code == 200 and got.json()["status"] == "approved" and got.json()["decided_by"] == "chairman-1"


def test_a_bypass_needs_a_policy_role_and_a_reason(client: Client, pending: int) -> None:
    assert client("lead").post(f"/api/approvals/{pending}/bypass", json={"reason": "outage"}).status_code == 403
    no_reason = client("chairman").post(f"/api/approvals/{pending}/bypass", json={"reason": ""})
    assert no_reason.status_code == 422 and no_reason.json()["errors"][0]["where"] == "body.reason"
    got = client("chairman").post(f"/api/approvals/{pending}/bypass", json={"reason": "payment outage"})
    assert got.status_code == 200 and got.json()["status"] == "bypassed" and got.json()["awaiting_review"] is True


def test_an_agent_writes_data_but_cannot_approve_or_configure(client: Client, engine: Engine, pending: int) -> None:
    agent = client("agent")
    sample = agent.post("/api/metrics", json={"venture": "acme", "metric": "latency_ms", "value": 120})
    assert sample.status_code == 200
    done = agent.post("/api/ventures/acme/substages/2.1/complete", json={})
    assert done.status_code == 200 and done.json()["completed_by"] == "agent-1"
    assert agent.post(f"/api/approvals/{pending}/approve", json={}).status_code == 403
    change = agent.put("/api/ventures/acme/config/max_latency_ms", json={"value": 900, "reason": "looser"})
    assert change.status_code == 403
    assert engine.config_history("acme") == []  # refused: nothing changed
    kinds = [e.actor_kind for e in engine.events("acme") if e.actor == "agent-1"]
    assert kinds and set(kinds) == {"agent"}


def test_a_viewer_only_reads(client: Client, pending: int) -> None:
    viewer = client("viewer")
    assert viewer.get("/api/ventures/acme").status_code == 200
    assert viewer.get("/api/ventures/acme/gate").status_code == 200
    assert viewer.post("/api/metrics", json={"venture": "acme", "metric": "nps", "value": 9}).status_code == 403


def test_workflow_roles_match_the_api_roles() -> None:
    assert tuple(load_workflow(MINI).workflow.roles) == ROLES
