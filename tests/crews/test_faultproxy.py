"""The fault-injecting proxy on loopback: every mode, switched at runtime, against a real aiohttp target."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator

import aiohttp
import pytest
from aiohttp import web

from venturegate.crews.stage19.faultproxy import FaultProxy, FaultSettings, ServedApp, serve_app
from venturegate.crews.stage19.loadgen import NonLoopbackTargetError

Reply = tuple[int, dict[str, str], bytes]


async def _echo(request: web.Request) -> web.Response:
    body = await request.read()
    return web.Response(
        status=201 if request.method == "POST" else 200,
        body=b"%s %s %s" % (request.method.encode(), request.rel_url.path_qs.encode(), body),
        headers={"X-Seen-Token": request.headers.get("X-Token", "")},
    )


@pytest.fixture
def target() -> Iterator[ServedApp]:
    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", _echo)
    with serve_app(app) as served:
        yield served


@pytest.fixture
def proxy(target: ServedApp) -> Iterator[FaultProxy]:
    with FaultProxy(target.base_url) as running:
        yield running


async def _fetch_many(urls: list[str], method: str = "GET", data: bytes | None = None) -> list[Reply | str]:
    out: list[Reply | str] = []
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=5)) as session:
        for url in urls:
            try:
                async with session.request(method, url, data=data, headers={"X-Token": "t0k"}) as response:
                    out.append((response.status, dict(response.headers), await response.read()))
            except aiohttp.ClientError as exc:
                out.append(type(exc).__name__)
    return out


def fetch(url: str, method: str = "GET", data: bytes | None = None) -> Reply | str:
    """One request: (status, headers, body), or the name of the transport error."""
    return asyncio.run(_fetch_many([url], method, data))[0]


def test_pass_forwards_method_path_query_body_and_headers(proxy: FaultProxy) -> None:
    reply = fetch(proxy.url("/items/7?x=1"), "POST", b"payload")
    assert not isinstance(reply, str)
    status, headers, body = reply
    assert status == 201
    assert body == b"POST /items/7?x=1 payload"
    assert headers["X-Seen-Token"] == "t0k"
    assert proxy.counts["forwarded"] == 1


def test_fail_answers_503_without_reaching_the_target(proxy: FaultProxy) -> None:
    proxy.set_mode("fail")
    replies = asyncio.run(_fetch_many([proxy.url("/")] * 3))
    assert [r[0] for r in replies if not isinstance(r, str)] == [503, 503, 503]
    assert proxy.counts["failed"] == 3 and proxy.counts["forwarded"] == 0
    proxy.set_mode("fail", status=500)
    assert fetch(proxy.url("/"))[0] == 500
    proxy.set_mode("pass")
    assert fetch(proxy.url("/"))[0] == 200


def test_fraction_fails_about_that_share(proxy: FaultProxy) -> None:
    proxy.set_mode("fraction", fraction=0.3)
    replies = asyncio.run(_fetch_many([proxy.url("/")] * 200))
    failed = sum(1 for r in replies if not isinstance(r, str) and r[0] == 503)
    assert 40 <= failed <= 80  # seeded: deterministic, and near 30%
    assert failed + proxy.counts["forwarded"] == 200


def test_close_drops_the_connection(proxy: FaultProxy) -> None:
    proxy.set_mode("close")
    assert fetch(proxy.url("/")) == "ServerDisconnectedError"
    proxy.set_mode("pass")
    assert fetch(proxy.url("/"))[0] == 200


def test_refuse_stops_listening_until_switched_back(proxy: FaultProxy) -> None:
    port = proxy._served.port
    proxy.set_mode("refuse")
    assert fetch(proxy.url("/")) == "ClientConnectorError"
    proxy.set_mode("pass")
    assert proxy._served.port == port
    assert fetch(proxy.url("/"))[0] == 200


def test_latency_delays_each_response(proxy: FaultProxy) -> None:
    fetch(proxy.url("/"))  # warm the connection pools
    proxy.set_mode("latency", latency_s=0.15)
    started = time.perf_counter()
    assert fetch(proxy.url("/"))[0] == 200
    assert time.perf_counter() - started >= 0.15


def test_rate_limit_answers_429_with_retry_after(proxy: FaultProxy) -> None:
    proxy.set_mode("rate_limit", rate=1.0, burst=2, retry_after_s=7)
    replies = asyncio.run(_fetch_many([proxy.url("/")] * 4))
    statuses = [r[0] for r in replies if not isinstance(r, str)]
    assert statuses[:2] == [200, 200]
    assert 429 in statuses[2:]
    limited = next(r for r in replies if not isinstance(r, str) and r[0] == 429)
    assert not isinstance(limited, str)
    assert limited[1]["Retry-After"] == "7"


def test_upstream_down_is_a_502() -> None:
    app = web.Application()
    with serve_app(app) as gone:
        url = gone.base_url
    with FaultProxy(url) as proxy:
        assert fetch(proxy.url("/"))[0] == 502
        assert proxy.counts["upstream_errors"] == 1


def test_non_loopback_target_is_refused() -> None:
    with pytest.raises(NonLoopbackTargetError, match="not a loopback address"):
        FaultProxy("http://example.com")


@pytest.mark.parametrize(
    ("mode", "options"),
    [
        ("latency", {}),
        ("fraction", {"fraction": 1.5}),
        ("rate_limit", {"rate": 0}),
        ("pass", {"latency_s": 0.1, "jitter_s": 0.2}),
        ("fail", {"status": 42}),
        ("explode", {}),
    ],
)
def test_invalid_settings_are_rejected(mode: str, options: dict[str, float]) -> None:
    with pytest.raises(ValueError):
        FaultSettings(mode=mode, **options)  # type: ignore[arg-type]
