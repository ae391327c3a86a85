"""The secrets policy (issue 17, H1): a crew reads only granted credentials and sends them only to approved hosts."""

from __future__ import annotations

import threading
import warnings
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path
from typing import Any, ClassVar

import pytest

with warnings.catch_warnings():
    warnings.filterwarnings("ignore", message="Using `httpx` with `starlette.testclient` is deprecated")
    from starlette.testclient import TestClient

from tests.conftest import AGENT, CHAIR
from tests.crews.conftest import LEAD
from venturegate.api import create_app
from venturegate.crews.stage19._http import Client
from venturegate.crews.stage19.inputs import read_inputs
from venturegate.engine import ArtifactInvalid, BadInput, Engine, Forbidden
from venturegate.engine.secrets import SecretGrant, host_port

SECRET = "s3cret-signing-key"


class _Recorder(BaseHTTPRequestHandler):
    seen: ClassVar[list[dict[str, str]]] = []

    def do_GET(self) -> None:
        type(self).seen.append(dict(self.headers))
        self.send_response(200)
        self.end_headers()

    def log_message(self, format: str, *args: Any) -> None:
        pass


@pytest.fixture
def collector() -> Iterator[tuple[str, list[dict[str, str]]]]:
    """A loopback server standing in for the agent's collector: it records every request's headers."""
    seen: list[dict[str, str]] = []
    handler = type("Recorder", (_Recorder,), {"seen": seen})
    server = HTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}", seen
    server.shutdown()
    server.server_close()


def _requirements(base_url: str) -> dict[str, Any]:
    return {
        "integrations": [
            {
                "name": "collector",
                "provider": "anyone",
                "criticality": "high",
                "base_url": base_url,
                "openapi_spec": "docs/api/collector.json",
                "auth": {"type": "bearer"},
                "rate_limit_req_sec": 10,
                "timeout_ms": 1000,
            }
        ]
    }


def _accounts(ref: dict[str, str]) -> dict[str, Any]:
    return {"accounts": [{"integration": "collector", "environment": "sandbox", "credentials": {"token": ref}}]}


def _spec(tmp_path: Path) -> None:
    (tmp_path / "docs" / "api").mkdir(parents=True)
    (tmp_path / "docs" / "api" / "collector.json").write_text('{"openapi": "3.1.0", "paths": {}}')


def test_h1_an_agent_cannot_name_a_server_secret(
    bundled: Engine, collector: tuple[str, list[dict[str, str]]], monkeypatch: pytest.MonkeyPatch
) -> None:
    """The reported attack: an agent token stores `{"env": ANY}` with its own base_url; the store refuses it."""
    url, seen = collector
    monkeypatch.setenv("VG_SIGNING_KEY", SECRET)
    bundled.create_venture("acme", "b2b_smb", 19, actor=LEAD)
    _, token = bundled.create_token("bot", "agent", actor=CHAIR)
    with TestClient(create_app(bundled)) as api:
        api.headers["Authorization"] = f"Bearer {token}"
        ok = api.post("/api/ventures/acme/artifacts/integration_requirements", json={"content": _requirements(url)})
        assert ok.status_code == 201, ok.text
        for ref in ({"env": "VG_SIGNING_KEY"}, {"secrets_file": "/etc/venturegate/secrets.yaml", "key": "db"}):
            got = api.post("/api/ventures/acme/artifacts/test_accounts", json={"content": _accounts(ref)})
            assert got.status_code == 422, got.text
            errors = got.json()["errors"]
            assert errors[0]["where"] == "content/accounts/0/credentials/token"
            assert "not granted to this venture" in errors[0]["message"]
        # Nor may the agent grant itself the secret.
        put = api.put(
            "/api/ventures/acme/config/secrets.allowed_env", json={"value": ["VG_SIGNING_KEY"], "reason": "mine"}
        )
        assert put.status_code == 403, put.text
    assert [a.name for a in bundled.artifacts("acme")] == ["integration_requirements"]
    assert seen == []


def test_a_person_grants_references_and_only_they_are_stored(bundled: Engine, tmp_path: Path) -> None:
    bundled.create_venture("acme", "b2b_smb", 19, actor=LEAD)
    with pytest.raises(Forbidden, match="only a person"):
        bundled.set_config("acme", "secrets.allowed_env", ["X"], actor=AGENT, reason="r")
    with pytest.raises(BadInput, match="not an environment variable name"):
        bundled.set_config("acme", "secrets.allowed_env", ["lower-case"], actor=LEAD, reason="r")
    with pytest.raises(BadInput, match="not host:port"):
        bundled.set_config("acme", "secrets.approved_hosts", ["127.0.0.1"], actor=LEAD, reason="r")
    bundled.set_config("acme", "secrets.allowed_env", ["SANDBOX_*", "PAY_KEY"], actor=LEAD, reason="sandbox keys")
    for granted in ("SANDBOX_STRIPE", "PAY_KEY"):
        bundled.put_artifact("acme", "test_accounts", _accounts({"env": granted}), actor=AGENT)
    for refused in ("PAY_KEY_2", "DATABASE_URL", "SANDBOX"):
        with pytest.raises(ArtifactInvalid) as info:
            bundled.put_artifact("acme", "test_accounts", _accounts({"env": refused}), actor=AGENT)
        assert info.value.errors == [
            (
                "/accounts/0/credentials/token",
                f"environment variable {refused} is not granted to this venture "
                "(secrets.allowed_env: SANDBOX_*, PAY_KEY)",
            )
        ]
    assert bundled.artifact("acme", "test_accounts").version == 2
    events = [e.kind for e in bundled.events("acme")]
    assert events.count("config.changed") == 1


def test_file_grants_compare_resolved_paths(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)  # grants are relative to the server's working directory
    (tmp_path / "secrets").mkdir()
    (tmp_path / "secrets" / "sandbox.yaml").write_text("k: v\n")
    (tmp_path / "other.yaml").write_text("k: v\n")
    (tmp_path / "link.yaml").symlink_to(tmp_path / "other.yaml")
    (tmp_path / "good-link.yaml").symlink_to(tmp_path / "secrets" / "sandbox.yaml")
    grant = SecretGrant(files=("secrets/sandbox.yaml",))
    assert grant.allows_file("secrets/sandbox.yaml", tmp_path)
    assert grant.allows_file("secrets/../secrets/sandbox.yaml", tmp_path)
    assert grant.allows_file(str(tmp_path / "secrets" / "sandbox.yaml"), tmp_path)
    assert grant.allows_file("good-link.yaml", tmp_path)
    assert not grant.allows_file("other.yaml", tmp_path)
    assert not grant.allows_file("link.yaml", tmp_path)
    assert not grant.allows_file("secrets/../other.yaml", tmp_path)
    assert not grant.allows_file("/etc/passwd", tmp_path)
    elsewhere = tmp_path / "job-chose-this"
    (elsewhere / "secrets").mkdir(parents=True)
    (elsewhere / "secrets" / "sandbox.yaml").write_text("k: v\n")
    assert not grant.allows_file("secrets/sandbox.yaml", elsewhere)  # a job's base_dir cannot move the grant


def test_host_port_fills_in_the_scheme_port() -> None:
    assert host_port("https://API.example.com/v1") == "api.example.com:443"
    assert host_port("http://127.0.0.1:8080/x") == "127.0.0.1:8080"
    assert host_port("http://[::1]:9/") == "[::1]:9"
    assert host_port("http://127.0.0.1:99999/") == ""
    grant = SecretGrant(hosts=("127.0.0.1:8080",))
    assert grant.allows_host("http://127.0.0.1:8080/api")
    assert not grant.allows_host("http://127.0.0.1:8081/api")
    assert not grant.allows_host("http://localhost:8080/api")


def test_the_crew_checks_the_grant_again_and_the_host(
    bundled: Engine, collector: tuple[str, list[dict[str, str]]], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A reference stored under a wider grant, or a host never approved: the crew refuses, nothing is sent."""
    url, seen = collector
    _spec(tmp_path)
    monkeypatch.setenv("SANDBOX_TOKEN", SECRET)
    bundled.create_venture("acme", "b2b_smb", 19, actor=LEAD)
    bundled.set_config("acme", "secrets.allowed_env", ["SANDBOX_*"], actor=LEAD, reason="sandbox keys")
    bundled.put_artifact("acme", "integration_requirements", _requirements(url), actor=AGENT)
    docs = {"specs": [{"integration": "collector", "format": "openapi-3.1", "location": "docs/api/collector.json"}]}
    bundled.put_artifact("acme", "api_documentation", docs, actor=AGENT)
    bundled.put_artifact("acme", "test_accounts", _accounts({"env": "SANDBOX_TOKEN"}), actor=AGENT)

    def headers() -> dict[str, str]:
        inputs = read_inputs(bundled, "acme", tmp_path, spec_root=tmp_path)
        client = Client(None, inputs.integrations[0], inputs.credentials["collector"])  # type: ignore[arg-type]
        return client.auth_headers()

    with pytest.raises(BadInput, match=r"not an approved host \(secrets.approved_hosts: none\)"):
        headers()
    bundled.set_config("acme", "secrets.approved_hosts", [host_port(url)], actor=LEAD, reason="the sandbox")
    assert headers() == {"Authorization": f"Bearer {SECRET}"}
    bundled.set_config("acme", "secrets.allowed_env", ["OTHER_*"], actor=LEAD, reason="narrowed")
    with pytest.raises(BadInput, match="SANDBOX_TOKEN is not granted"):
        headers()
    assert seen == []
