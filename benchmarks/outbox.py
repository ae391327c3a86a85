"""Outbox delivery throughput to a local fake Slack webhook: grouped, ungrouped, and a bare aiohttp peer.

A fake Slack incoming webhook (aiohttp, 127.0.0.1, random port) runs in its own process, validates
the JSON as Slack does (`text` required) and answers 200 `ok`. Three phases, each delivering N
notifications (rows written beforehand through the engine's event path, in transactions of 100
events; the write rate is reported too):

1. grouped: events spread over 20 groups (group_by: stage), so one message carries up to 100
   notifications — `deliver_outbox` claims, sends and settles until nothing is due.
2. ungrouped: every event in a group of its own, so every notification is a message.
3. peer: a bare aiohttp POST loop to the same endpoint (same concurrency, 16; one Slack payload per
   notification, no database, no retries) — what a fire-and-forget sender would do.

Notifications per second = N / wall time of the phase. SQLite in a temporary file; PostgreSQL as
well with --postgres URL (a scratch schema, dropped afterwards).

    .venv/bin/python benchmarks/outbox.py                   # N = 5000
    .venv/bin/python benchmarks/outbox.py --postgres URL
    .venv/bin/python benchmarks/outbox.py --quick           # smoke run (N = 300)
"""

from __future__ import annotations

import argparse
import asyncio
import json
import multiprocessing
import os
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import aiohttp
from aiohttp import web

from venturegate.definitions.loader import load_workflow
from venturegate.engine import SYSTEM, Engine
from venturegate.notify.delivery import CONCURRENCY

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from benchmarks._serve import scratch_database

from venturegate.store.database import connect, ensure_schema

T0 = datetime(2026, 11, 2, 9, 0, tzinfo=UTC)
WORKFLOW = """extends: bundled
notifications:
  channels:
    slack: {{type: slack, url: "${{BENCH_SLACK_URL}}"}}
  routes:
    - {{kinds: ["rollback.*"], channels: [slack]}}
  group_by: [{group_by}]
  group_wait: 30s
"""


def _serve(port_out: Any) -> None:
    """The fake Slack webhook (runs in a child process until terminated)."""

    async def hook(request: web.Request) -> web.Response:
        body = json.loads(await request.read())
        if not isinstance(body.get("text"), str) or not body["text"]:
            return web.Response(status=400, text="no_text")
        return web.Response(text="ok")

    async def main() -> None:
        app = web.Application()
        app.router.add_post("/hook", hook)
        runner = web.AppRunner(app, access_log=None)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        port_out.put(int(runner.addresses[0][1]))
        await asyncio.Event().wait()

    asyncio.run(main())


@contextmanager
def fake_slack() -> Iterator[str]:
    """Start the endpoint in its own process (as a remote service would be) and yield its URL."""
    ctx = multiprocessing.get_context("spawn")
    ports: Any = ctx.Queue()
    proc = ctx.Process(target=_serve, args=(ports,), daemon=True)
    proc.start()
    try:
        yield f"http://127.0.0.1:{ports.get(timeout=30)}/hook"
    finally:
        proc.terminate()
        proc.join(10)
        ports.close()


def _engine(url: str, group_by: str, tmp: Path) -> Engine:
    path = tmp / f"wf-{group_by}.yaml"
    path.write_text(WORKFLOW.format(group_by=group_by), encoding="utf-8")
    db = connect(url)
    ensure_schema(db)
    return Engine(db, load_workflow(path), clock=lambda: T0)


def write(eng: Engine, n: int, groups: int) -> float:
    """Append n routed events (100 per transaction); returns events per second."""
    start = time.perf_counter()
    for first in range(0, n, 100):
        with eng.tx() as conn:
            for i in range(first, min(n, first + 100)):
                eng._event(conn, None, "rollback.completed", SYSTEM, T0, stage=i % groups, reason=f"r{i}")
    return n / (time.perf_counter() - start)


def drain(eng: Engine) -> dict[str, Any]:
    """Deliver until nothing is due; notifications per second and messages sent."""
    now = T0 + timedelta(seconds=30)
    sent = messages = runs = 0
    start = time.perf_counter()
    cpu = time.process_time()
    while True:
        report = eng.deliver_outbox(now)
        runs += 1
        if report.claimed == 0:
            break
        if report.errors:
            raise SystemExit(f"delivery failed: {report.errors[:3]}")
        sent += report.sent
        messages += report.messages
    wall = time.perf_counter() - start
    return {
        "notifications": sent,
        "messages": messages,
        "delivery_runs": runs,
        "seconds": round(wall, 3),
        "cpu_seconds": round(time.process_time() - cpu, 3),
        "notifications_per_s": round(sent / wall, 1),
        "messages_per_s": round(messages / wall, 1),
    }


async def _peer(url: str, n: int) -> None:
    gate = asyncio.Semaphore(CONCURRENCY)
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=CONCURRENCY)) as session:

        async def post(i: int) -> None:
            payload = {"text": f"[P1] rollback.completed · stage {i % 20} — r{i}", "blocks": []}
            async with gate, session.post(url, json=payload) as resp:
                if resp.status != 200 or (await resp.text()) != "ok":
                    raise SystemExit(f"peer POST failed: {resp.status}")

        await asyncio.gather(*(post(i) for i in range(n)))


def peer(url: str, n: int) -> dict[str, Any]:
    """The bare aiohttp POST loop: one message per notification, nothing durable."""
    start = time.perf_counter()
    cpu = time.process_time()
    asyncio.run(_peer(url, n))
    wall = time.perf_counter() - start
    return {
        "notifications": n,
        "messages": n,
        "seconds": round(wall, 3),
        "cpu_seconds": round(time.process_time() - cpu, 3),
        "notifications_per_s": round(n / wall, 1),
    }


def run_backend(pg: str | None, url: str, n: int) -> dict[str, Any]:
    """Grouped and ungrouped delivery on one backend."""
    out: dict[str, Any] = {}
    with tempfile.TemporaryDirectory() as tmp:
        for name, group_by, groups in (("grouped", "stage", 20), ("ungrouped", "stage", n)):
            with scratch_database(pg) as db_url:
                eng = _engine(db_url, group_by, Path(tmp))
                try:
                    rate = write(eng, n, groups)
                    out[name] = {"groups": groups, "write_events_per_s": round(rate, 1), **drain(eng)}
                finally:
                    eng.db.dispose()
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--postgres", metavar="URL", help="also run on this PostgreSQL database")
    parser.add_argument("--quick", action="store_true", help="a smoke run (N = 300)")
    parser.add_argument("-n", type=int, default=5000, help="notifications per phase")
    args = parser.parse_args()
    n = 300 if args.quick else args.n
    with fake_slack() as url:
        os.environ["BENCH_SLACK_URL"] = url
        result: dict[str, Any] = {"n": n, "concurrency": CONCURRENCY, "load_average": os.getloadavg()}
        result["sqlite"] = run_backend(None, url, n)
        if args.postgres:
            result["postgresql"] = run_backend(args.postgres, url, n)
        result["peer_bare_aiohttp"] = peer(url, n)
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
