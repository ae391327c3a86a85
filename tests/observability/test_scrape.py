"""Issue 17, M4: `/metrics` answers only an allowed address or the scrape token, and serves a cached text."""

from __future__ import annotations

import sqlite3
import time
import warnings
from pathlib import Path

import pytest
from sqlalchemy import func, select

with warnings.catch_warnings():
    warnings.filterwarnings("ignore", message="Using `httpx` with `starlette.testclient` is deprecated")
    from starlette.testclient import TestClient

from tests.conftest import AGENT, T0
from tests.observability._parse import by, parse
from venturegate.api import create_app
from venturegate.engine import Engine
from venturegate.observability import ScrapeAccess, ScrapeCache, render
from venturegate.observability.metrics import _read_tx
from venturegate.store.schema import ventures


def test_access_rules() -> None:
    default = ScrapeAccess.from_env({})
    assert default.admits("127.0.0.1", None) and default.admits("::1", None)
    assert not default.admits("10.0.0.5", None) and not default.admits("testclient", None)
    assert not default.admits("10.0.0.5", "Bearer anything")  # no token configured: no token works
    office = ScrapeAccess.from_env(
        {"VENTUREGATE_METRICS_ALLOW": "10.0.0.0/24, 192.168.1.7", "VENTUREGATE_METRICS_TOKEN": "t0k"}
    )
    assert office.admits("10.0.0.5", None) and office.admits("192.168.1.7", None)
    assert not office.admits("127.0.0.1", None) and not office.admits("10.0.1.5", None)
    assert office.admits("203.0.113.9", "Bearer t0k") and office.admits("203.0.113.9", "bearer  t0k")
    assert not office.admits("203.0.113.9", "Bearer t0k2") and not office.admits("203.0.113.9", "Basic t0k")
    closed = ScrapeAccess.from_env({"VENTUREGATE_METRICS_ALLOW": "none"})
    assert not closed.admits("127.0.0.1", None)
    with pytest.raises(ValueError, match="'nowhere' is not an address or network"):
        ScrapeAccess.from_env({"VENTUREGATE_METRICS_ALLOW": "nowhere"})
    with pytest.raises(ValueError, match="must be 0 or more"):
        ScrapeCache.from_env({"VENTUREGATE_METRICS_CACHE_SECONDS": "-1"})


def test_anonymous_scrapes_are_refused(tiny: Engine, monkeypatch: pytest.MonkeyPatch) -> None:
    tiny.create_venture("secretive", "b2b_smb", 2, actor=AGENT, now=T0)
    tiny.record_sample("secretive", "quality", 77, actor=AGENT, now=T0)
    monkeypatch.setenv("VENTUREGATE_METRICS_TOKEN", "scrape-me")
    app = create_app(tiny)
    with TestClient(app, client=("198.51.100.7", 4000)) as outside:
        refused = outside.get("/metrics")
        assert refused.status_code == 403
        assert refused.headers["content-type"] == "application/problem+json"
        assert "secretive" not in refused.text and "VENTUREGATE_METRICS_TOKEN" in refused.text
        assert outside.get("/metrics", headers={"Authorization": "Bearer wrong"}).status_code == 403
        ok = outside.get("/metrics", headers={"Authorization": "Bearer scrape-me"})
        assert ok.status_code == 200 and "secretive" in ok.text
        doc = outside.get("/openapi.json").json()
        assert "403" in doc["paths"]["/metrics"]["get"]["responses"]
    with TestClient(app, client=("127.0.0.1", 4000)) as local:
        assert local.get("/metrics").status_code == 200


def test_a_scrape_serves_the_cached_text_and_refreshes_behind_it(tiny: Engine) -> None:
    tiny.create_venture("first", "b2b_smb", 2, actor=AGENT, now=T0)
    app = create_app(tiny)
    cache = app.state.metrics_cache = ScrapeCache(ttl=3600)
    with TestClient(app, client=("127.0.0.1", 4000)) as c:
        one = c.get("/metrics").text
        tiny.create_venture("second", "b2b_smb", 2, actor=AGENT, now=T0)
        assert c.get("/metrics").text == one  # fresh for an hour: the database is not read again
        assert cache.refreshes == 1
        cache.ttl = 0.05
        time.sleep(0.1)
        stale = c.get("/metrics").text  # expired: answered at once with the old text, refreshed behind it
        assert stale == one
        deadline = time.monotonic() + 10
        while cache.refreshes < 2 and time.monotonic() < deadline:
            time.sleep(0.02)
        assert cache.refreshes == 2
        series = parse(cache.text.decode() if cache.text else "")
        assert by(series, "venturegate_ventures", "stage", "status") == {("2", "active"): 2.0}


def test_no_cache_reads_every_time(tiny: Engine) -> None:
    app = create_app(tiny)
    cache = app.state.metrics_cache = ScrapeCache(ttl=0)
    with TestClient(app, client=("127.0.0.1", 4000)) as c:
        for _ in range(3):
            assert c.get("/metrics").status_code == 200
    assert cache.refreshes == 3


def test_a_refresh_on_sqlite_holds_no_write_lock(tmp_path: Path) -> None:
    """The refresh reads a snapshot: a writer in another connection takes the lock meanwhile, at once."""
    engine = Engine.open(f"sqlite:///{tmp_path / 'vg.db'}")
    engine.create_venture("acme", "b2b_smb", 2, actor=AGENT)
    other = sqlite3.connect(tmp_path / "vg.db", isolation_level=None, timeout=0)
    try:
        with _read_tx(engine) as conn:
            assert conn.execute(select(func.count()).select_from(ventures)).scalar_one() == 1
            other.execute("BEGIN IMMEDIATE")  # would fail with "database is locked" under the write lock
            other.execute("UPDATE ventures SET revision = revision + 1")
            other.execute("COMMIT")
            assert conn.execute(select(func.count()).select_from(ventures)).scalar_one() == 1
        assert "venturegate_ventures" in render(engine).decode()
    finally:
        other.close()
        engine.db.dispose()
