"""`GET /metrics` through FastAPI: Prometheus's content type and the same text `render` gives."""

from __future__ import annotations

import warnings

from fastapi import FastAPI

with warnings.catch_warnings():
    # Starlette asks for httpx2 instead of the locked httpx; the test client works the same (as in tests/api).
    warnings.filterwarnings("ignore", message="Using `httpx` with `starlette.testclient` is deprecated")
    from starlette.testclient import TestClient

from tests.conftest import AGENT, T0
from tests.observability._parse import by, parse
from venturegate.engine import Engine
from venturegate.observability import current_engine, router


def _client(engine: Engine, *, override: bool = False) -> TestClient:
    app = FastAPI()
    app.include_router(router)
    if override:
        app.dependency_overrides[current_engine] = lambda: engine
    else:
        app.state.engine = engine  # what the API's app factory does
    return TestClient(app, client=("127.0.0.1", 50000))  # loopback: allowed to scrape by default


def test_metrics_route_serves_the_exposition_format(tiny: Engine) -> None:
    tiny.create_venture("routed", "b2b_smb", 2, actor=AGENT, now=T0)
    tiny.record_sample("routed", "quality", 77, actor=AGENT, now=T0)
    with _client(tiny) as client:
        response = client.get("/metrics")
    assert response.status_code == 200
    media_type, *params = [p.strip() for p in response.headers["content-type"].split(";")]
    assert media_type == "text/plain"
    assert any(p.startswith("version=") for p in params)
    series = parse(response.text)
    assert by(series, "venturegate_ventures", "stage", "status") == {("2", "active"): 1.0}
    assert by(series, "venturegate_metric_latest", "venture", "metric") == {("routed", "quality"): 77.0}


def test_the_engine_dependency_can_be_overridden(tiny: Engine) -> None:
    tiny.create_venture("other", "b2b_smb", 1, actor=AGENT, now=T0)
    with _client(tiny, override=True) as client:
        response = client.get("/metrics")
        schema = client.get("/openapi.json").json()
    assert by(parse(response.text), "venturegate_ventures", "stage", "status") == {("1", "active"): 1.0}
    assert "text/plain" in schema["paths"]["/metrics"]["get"]["responses"]["200"]["content"]
