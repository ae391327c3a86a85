"""A small HTTP service to deploy in tests, demos and benchmarks, with realistic faults to switch on.

Run it as `python -m venturegate.crews.stage30.demo_service --port 8080 --version v2 [fault options]`.
Routes: `/health`, `/` , `/items/{id}`, `/orders` (GET) and `/openapi.json` (its own OpenAPI 3 document).
Every fault is off by default:

- `--error-rate R`: `/` answers 500 for a share R of its requests (deterministic: exactly one in ten at 0.1);
- `--latency-ms MS`: every request except `/health` answers MS later (`--slow-after S`: only S seconds after start);
- `--fail-route P --fail-rate R`: only the route P fails, at R (the aggregate error rate can stay low);
- `--wrong-body-route P`: P answers 200 with a body that breaks its documented schema;
- `--flap-period S --flap-down S2`: `/health` answers 503 during the first S2 seconds of every S seconds
  (`--flap-routes 1`: every route does too, as an overloaded service would);
- `--leak-ms MS`: each request served adds MS to every later answer (a leak that slows the service under load);
- `--crash-at-start CODE`: print a start-up error and exit with CODE before listening.
"""

from __future__ import annotations

import argparse
import json
import signal
import sys
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from types import FrameType

ROUTES = ("/", "/items/{id}", "/orders")
"""The GET routes the service documents (besides `/health` and `/openapi.json`)."""


@dataclass(frozen=True)
class Faults:
    """What is wrong with a release (all off: a good release)."""

    error_rate: float = 0.0
    latency_ms: float = 0.0
    slow_after: float = 0.0
    fail_route: str = ""
    fail_rate: float = 0.0
    wrong_body_route: str = ""
    flap_period: float = 0.0
    flap_down: float = 0.0
    flap_routes: int = 0
    leak_ms: float = 0.0
    crash_at_start: int = 0

    def __post_init__(self) -> None:
        if not (0.0 <= self.error_rate <= 1.0 and 0.0 <= self.fail_rate <= 1.0):
            raise ValueError("error_rate and fail_rate must be within 0..1")
        if min(self.latency_ms, self.slow_after, self.flap_period, self.flap_down, self.leak_ms) < 0:
            raise ValueError("latency_ms, slow_after, flap_period, flap_down and leak_ms must be >= 0")

    def argv(self) -> list[str]:
        """Command-line options that recreate these faults."""
        out: list[str] = []
        for name, default in Faults().__dict__.items():
            value = getattr(self, name)
            if value != default:
                out += ["--" + name.replace("_", "-"), str(value)]
        return out


def spec(version: str) -> dict[str, object]:
    """The service's OpenAPI document."""
    item = {"type": "object", "required": ["id", "name"], "properties": {"id": {"type": "integer"},
                                                                         "name": {"type": "string"}}}  # fmt: skip
    ok = {"type": "object", "required": ["ok"], "properties": {"ok": {"type": "boolean"}}}

    def get(schema: Mapping[str, object], params: list[dict[str, object]] | None = None) -> dict[str, object]:
        op: dict[str, object] = {
            "responses": {"200": {"description": "ok", "content": {"application/json": {"schema": schema}}}}
        }
        if params:
            op["parameters"] = params
        return {"get": op}

    id_param = {"name": "id", "in": "path", "required": True, "schema": {"type": "integer"}, "example": 7}
    return {
        "openapi": "3.0.3",
        "info": {"title": "demo service", "version": version},
        "paths": {
            "/": get(ok),
            "/items/{id}": get(item, [id_param]),
            "/orders": get({"type": "array", "items": {"type": "object"}}),
            "/health": get(ok),
        },
    }


class _State:
    def __init__(self, version: str, faults: Faults) -> None:
        self.version = version
        self.faults = faults
        self.started = time.monotonic()
        self.lock = threading.Lock()
        self.counts: dict[str, tuple[int, int]] = {}
        self.served = 0

    def next_fails(self, key: str, rate: float) -> bool:
        """Deterministic failures: a request fails when it takes the key's failure count past its share."""
        if rate <= 0:
            return False
        with self.lock:
            requests, failures = self.counts.get(key, (0, 0))
            requests += 1
            fails = failures + 1 <= requests * rate
            self.counts[key] = (requests, failures + fails)
            return fails

    def delay(self) -> float:
        f = self.faults
        with self.lock:
            self.served += 1
            leak = self.served * f.leak_ms
        slow = f.latency_ms if time.monotonic() - self.started >= f.slow_after else 0.0
        return (slow + leak) / 1000

    def healthy(self) -> bool:
        f = self.faults
        if f.flap_period <= 0:
            return True
        return (time.monotonic() - self.started) % f.flap_period >= f.flap_down


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    # The default listen backlog (5) refuses connections when a traffic shift sends a burst of new ones.
    request_queue_size = 128


def command(error_rate: float = 0.0, latency_ms: float = 0.0, faults: Faults | None = None) -> list[str]:
    """A `LocalDriver` command template that runs this file directly (no package import: starts in ~50 ms)."""
    f = faults or Faults(error_rate=error_rate, latency_ms=latency_ms)
    escaped = [a.replace("{", "{{").replace("}", "}}") for a in f.argv()]  # the driver formats the template
    return ["{python}", str(Path(__file__).resolve()), "--port", "{port}", "--version", "{version}", *escaped]


def _route(path: str) -> str:
    path = path.split("?", 1)[0]
    if path.startswith("/items/"):
        return "/items/{id}"
    return path


def make_server(
    port: int,
    version: str,
    error_rate: float = 0.0,
    host: str = "127.0.0.1",
    latency_ms: float = 0.0,
    faults: Faults | None = None,
) -> ThreadingHTTPServer:
    """A server for `version` on `host:port` (not started) with `faults` (or `/` failing at `error_rate`)."""
    state = _State(version, faults or Faults(error_rate=error_rate, latency_ms=latency_ms))
    f = state.faults

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        disable_nagle_algorithm = True  # headers and body go out in two writes: no 40 ms delayed-ACK stall

        def do_GET(self) -> None:
            route = _route(self.path)
            if route == "/health":
                if state.healthy():
                    self._send(200, {"ok": True, "status": "ok", "version": state.version})
                else:
                    self._send(503, {"ok": False, "status": "flapping", "version": state.version})
                return
            if route == "/openapi.json":
                self._send(200, spec(state.version))
                return
            if route not in ROUTES:
                self._send(404, {"error": "no such route"})
                return
            if f.flap_routes and not state.healthy():
                self._send(503, {"error": "overloaded", "version": state.version})
                return
            if wait := state.delay():
                time.sleep(wait)
            if route == "/" and state.next_fails("/", f.error_rate):
                self._send(500, {"error": "injected failure", "version": state.version})
            elif route == f.fail_route and state.next_fails(route, f.fail_rate):
                self._send(500, {"error": "injected route failure", "version": state.version})
            elif route == f.wrong_body_route:
                self._send(200, {"unexpected": True, "version": state.version})
            elif route == "/items/{id}":
                item_id = self.path.split("?", 1)[0].rsplit("/", 1)[-1]
                self._send(200, {"id": int(item_id) if item_id.isdigit() else 0, "name": "item"})
            elif route == "/orders":
                self._send(200, [{"id": 1}, {"id": 2}])
            else:
                self._send(200, {"ok": True, "version": state.version})

        def _send(self, status: int, payload: object) -> None:
            body = json.dumps(payload).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.send_header("X-Version", state.version)
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: object) -> None:
            """Stay quiet: the load generator sends thousands of requests."""

    return _Server((host, port), Handler)


def main(argv: list[str] | None = None) -> None:
    """Serve until SIGTERM or SIGINT."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--version", default="v1")
    for name, default in Faults().__dict__.items():
        parser.add_argument("--" + name.replace("_", "-"), type=type(default), default=default)
    args = parser.parse_args(argv)
    faults = Faults(**{name: getattr(args, name) for name in Faults().__dict__})
    if faults.crash_at_start:
        print(f"demo service {args.version}: cannot start: configuration key DATABASE_URL is missing", flush=True)
        sys.exit(faults.crash_at_start)
    server = make_server(args.port, args.version, faults=faults)

    def stop(signum: int, frame: FrameType | None) -> None:
        threading.Thread(target=server.shutdown, daemon=True).start()

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    try:
        server.serve_forever(poll_interval=0.05)
    finally:
        server.server_close()


if __name__ == "__main__":
    main()
