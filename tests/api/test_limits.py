"""Issue 17, H4 and M1: refused writes write nothing; bodies, batches, strings and depth are bounded at the edge."""

from __future__ import annotations

import json
import warnings
from typing import Any

import pytest

with warnings.catch_warnings():
    warnings.filterwarnings("ignore", message="Using `httpx` with `starlette.testclient` is deprecated")
    from starlette.testclient import TestClient

from tests.api.conftest import Client
from venturegate.api import create_app
from venturegate.api.limits import Limits, json_problems
from venturegate.engine import Engine

SURROGATE = '"bad \\ud800 text"'
"""A JSON string with a lone surrogate: valid JSON, but not text either database can store."""


def _raw(c: TestClient, method: str, url: str, body: str) -> Any:
    return c.request(method, url, content=body.encode(), headers={"content-type": "application/json"})


def _state(engine: Engine) -> tuple[int, list[str]]:
    events = engine.events(limit=1000)
    return len(events), sorted(v.name for v in engine.ventures())


@pytest.fixture
def lead(client: Client) -> TestClient:
    c = client("lead")
    assert c.post("/api/ventures", json={"name": "acme", "segment": "b2b_smb"}).status_code == 201
    return c


WRITES = [
    ("POST", "/api/ventures", '{"name": ' + SURROGATE + ', "segment": "b2b_smb"}', "body.name"),
    (
        "POST",
        "/api/ventures/acme/artifacts/idea_brief",
        '{"content": {"title": ' + SURROGATE + "}}",
        "body.content.title",
    ),
    ("POST", "/api/ventures/acme/artifacts/market_notes", '{"content": {' + SURROGATE + ": 1}}", "body.content (key"),
    (
        "POST",
        "/api/metrics",
        '{"venture": "acme", "metric": "idea_score", "value": 1, "key": ' + SURROGATE + "}",
        "body.key",
    ),
    ("PUT", "/api/ventures/acme/config/gate.x", '{"value": 1, "reason": ' + SURROGATE + "}", "body.reason"),
    ("POST", "/api/ventures/acme/attestations", '{"criterion": ' + SURROGATE + "}", "body.criterion"),
    (
        "POST",
        "/api/ventures/acme/artifacts/market_notes",
        '{"content": {"a": ["ok", "nul \\u0000"]}}',
        "body.content.a[1]",
    ),
]


@pytest.mark.parametrize(("method", "url", "body", "where"), WRITES)
def test_bad_text_is_refused_and_nothing_is_written(
    lead: TestClient, engine: Engine, method: str, url: str, body: str, where: str
) -> None:
    before = _state(engine)
    got = _raw(lead, method, url, body)
    assert got.status_code == 422, got.text
    error = got.json()["errors"][0]
    assert where in error["where"]
    assert "lone surrogate U+D800" in error["message"] or "NUL" in error["message"]
    assert _state(engine) == before
    assert lead.get("/api/ventures/acme/artifacts").status_code == 200
    assert lead.get("/api/ventures/acme").status_code == 200


def test_a_failure_after_the_insert_rolls_the_write_back(
    engine: Engine, tokens: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """A 500 in the middle of a write leaves no artifact version and no event behind, and reads still work."""
    with TestClient(create_app(engine), raise_server_exceptions=False) as c:
        c.headers["Authorization"] = f"Bearer {tokens['lead']}"
        assert c.post("/api/ventures", json={"name": "acme", "segment": "b2b_smb"}).status_code == 201
        before = _state(engine)

        def boom(*args: Any, **kwargs: Any) -> None:
            raise RuntimeError("injected after the insert")

        monkeypatch.setattr(engine, "_recheck_entry", boom)
        got = c.post("/api/ventures/acme/artifacts/idea_brief", json={"content": {"title": "Good", "problem": "p"}})
        assert got.status_code == 500
        assert got.json()["detail"] == "an internal error occurred; it has been logged"
        monkeypatch.undo()
        assert _state(engine) == before
        assert c.get("/api/ventures/acme/artifacts").json() == []
        again = c.post("/api/ventures/acme/artifacts/idea_brief", json={"content": {"title": "Good", "problem": "p"}})
        assert again.status_code == 201 and again.json()["version"] == 1


def _small(engine: Engine, tokens: dict[str, str], **limits: int) -> TestClient:
    c = TestClient(create_app(engine, limits=Limits(**limits)))
    c.headers["Authorization"] = f"Bearer {tokens['lead']}"
    return c


def test_bodies_are_bounded_before_parsing(engine: Engine, tokens: dict[str, str]) -> None:
    with _small(engine, tokens, body_bytes=4000, artifact_bytes=2000) as c:
        assert c.post("/api/ventures", json={"name": "acme", "segment": "b2b_smb"}).status_code == 201
        big = c.post("/api/ventures/acme/artifacts/market_notes", json={"content": {"x": "y" * 3000}})
        assert big.status_code == 413
        assert big.headers["content-type"] == "application/problem+json"
        assert "limit of 2000 bytes" in big.json()["detail"]
        huge = _raw(c, "PUT", "/api/ventures/acme/config/gate.x", '{"value": "' + "z" * 5000 + '", "reason": "r"}')
        assert huge.status_code == 413 and "limit of 4000 bytes" in huge.json()["detail"]

        def chunks() -> Any:  # no Content-Length: counted while it arrives
            for _ in range(10):
                yield b" " * 1000

        streamed = c.post("/api/ventures", content=chunks(), headers={"content-type": "application/json"})
        assert streamed.status_code == 413
        ok = c.post("/api/ventures/acme/artifacts/market_notes", json={"content": {"x": "y" * 1000}})
        assert ok.status_code == 201
        assert [a.name for a in engine.artifacts("acme")] == ["market_notes"]


def test_strings_depth_and_batches_are_bounded(engine: Engine, tokens: dict[str, str]) -> None:
    with _small(engine, tokens, string_chars=50, json_depth=4, batch_samples=3) as c:
        assert c.post("/api/ventures", json={"name": "acme", "segment": "b2b_smb"}).status_code == 201
        long = c.post("/api/ventures/acme/artifacts/market_notes", json={"content": {"note": "n" * 51}})
        assert long.status_code == 422
        assert long.json()["errors"][0] == {
            "where": "body.content.note",
            "message": "text of 51 characters is longer than the limit of 50",
            "hint": "",
        }
        deep = c.post("/api/ventures/acme/artifacts/market_notes", json={"content": {"a": {"b": {"c": [1]}}}})
        assert deep.status_code == 422
        assert deep.json()["errors"][0]["where"] == "body.content.a.b.c"
        assert "deeper than 4 levels" in deep.json()["errors"][0]["message"]
        sample = {"venture": "acme", "metric": "idea_score", "value": 7}
        many = c.post("/api/metrics", json={"samples": [sample] * 4})
        assert many.status_code == 422
        assert many.json()["errors"][0]["message"] == "4 samples in one batch; the limit is 3"
        assert c.post("/api/metrics", json={"samples": [sample] * 3}).status_code == 200
    assert engine.artifacts("acme") == []


def test_a_refusal_never_echoes_a_large_input(lead: TestClient) -> None:
    """A schema error about a 90 kB value answers a few kilobytes, not the value twice."""
    value = "v" * 90_000
    got = lead.post(
        "/api/ventures/acme/artifacts/idea_brief", json={"content": {"title": "ok!", "problem": "p", "budget": value}}
    )
    assert got.status_code == 422
    assert len(got.content) < 4000, len(got.content)
    assert "cut;" in got.text


def test_deep_json_beyond_the_parser_is_a_422(engine: Engine, tokens: dict[str, str]) -> None:
    body = '{"content": ' + "[" * 100_000 + "]" * 100_000 + "}"
    with _small(engine, tokens, body_bytes=1_000_000) as c:
        assert c.post("/api/ventures", json={"name": "acme", "segment": "b2b_smb"}).status_code == 201
        got = _raw(c, "POST", "/api/ventures/acme/artifacts/market_notes", body)
        assert got.status_code == 422 and "nested deeper than" in got.text


def test_limits_come_from_the_environment() -> None:
    assert Limits.from_env({"VENTUREGATE_MAX_BODY_BYTES": "10"}).body_bytes == 10
    assert Limits.from_env({}) == Limits()
    with pytest.raises(ValueError, match="VENTUREGATE_MAX_JSON_DEPTH='-1' must be a positive integer"):
        Limits.from_env({"VENTUREGATE_MAX_JSON_DEPTH": "-1"})


def test_json_problems_names_every_place() -> None:
    doc = json.loads('{"a": ["\\udfff", {"\\u0000k": 1}], "b": "fine"}')
    found = [(d.where, d.message[:20]) for d in json_problems(doc, Limits())]
    assert found == [
        ("body.a[0]", "text is not valid Un"),
        ("body.a[1] (key '\\x00k')", "text holds a NUL cha"),
    ]


def test_numbers_beyond_the_store_are_422_not_500(engine: Engine, tokens: dict[str, str]) -> None:
    """PostgreSQL keeps versions in 32 bits: a larger one is the request's fault on both backends."""
    with TestClient(create_app(engine), raise_server_exceptions=False) as c:
        c.headers["Authorization"] = f"Bearer {tokens['lead']}"
        assert c.post("/api/ventures", json={"name": "acme", "segment": "b2b_smb"}).status_code == 201
        got = c.get("/api/ventures/acme/artifacts/idea_brief", params={"version": 2**31})
        assert got.status_code == 422 and "query.version" in got.text
        assert c.get("/api/ventures/acme/artifacts/idea_brief", params={"version": 2**31 - 1}).status_code == 404
        diff = c.get("/api/ventures/acme/config/diff", params={"a": str(2**40), "b": "current"})
        assert diff.status_code in (404, 422), diff.text
