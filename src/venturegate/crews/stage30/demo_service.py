"""A tiny HTTP service to deploy in tests and demos: `/health` is always 200, `/` fails at a set rate.

Run it as `python -m venturegate.crews.stage30.demo_service --port 8080 --version v2 --error-rate 0.1`;
`--latency-ms 300` makes every `/` answer that much later (a slow release for the p95 rollback rule).
Errors are deterministic (every request that takes the running failure count past its share), so a
10% error rate gives exactly one 500 in every ten requests.
"""

from __future__ import annotations

import argparse
import json
import signal
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from types import FrameType


class _State:
    def __init__(self, version: str, error_rate: float, latency_ms: float = 0.0) -> None:
        self.version = version
        self.error_rate = error_rate
        self.latency_s = latency_ms / 1000
        self.lock = threading.Lock()
        self.requests = 0
        self.failures = 0

    def next_fails(self) -> bool:
        with self.lock:
            self.requests += 1
            if self.failures + 1 <= self.requests * self.error_rate:
                self.failures += 1
                return True
            return False


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    # The default listen backlog (5) refuses connections when a traffic shift sends a burst of new ones.
    request_queue_size = 128


def command(error_rate: float = 0.0, latency_ms: float = 0.0) -> list[str]:
    """A `LocalDriver` command template that runs this file directly (no package import: starts in ~50 ms)."""
    extra = ["--latency-ms", str(latency_ms)] if latency_ms else []
    return [
        "{python}",
        str(Path(__file__).resolve()),
        "--port",
        "{port}",
        "--version",
        "{version}",
        "--error-rate",
        str(error_rate),
        *extra,
    ]


def make_server(
    port: int, version: str, error_rate: float, host: str = "127.0.0.1", latency_ms: float = 0.0
) -> ThreadingHTTPServer:
    """A server for `version` on `host:port` (not started) whose `/` answers 500 at `error_rate`, `latency_ms` late."""
    if not 0.0 <= error_rate <= 1.0:
        raise ValueError("error_rate must be within 0..1")
    if latency_ms < 0:
        raise ValueError("latency_ms must be >= 0")
    state = _State(version, error_rate, latency_ms)

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        disable_nagle_algorithm = True  # headers and body go out in two writes: no 40 ms delayed-ACK stall

        def do_GET(self) -> None:
            if self.path.startswith("/health"):
                self._send(200, {"status": "ok", "version": state.version})
                return
            if state.latency_s:
                time.sleep(state.latency_s)
            if state.next_fails():
                self._send(500, {"error": "injected failure", "version": state.version})
            else:
                self._send(200, {"ok": True, "version": state.version})

        def _send(self, status: int, payload: dict[str, object]) -> None:
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
    parser.add_argument("--error-rate", type=float, default=0.0)
    parser.add_argument("--latency-ms", type=float, default=0.0)
    args = parser.parse_args(argv)
    server = make_server(args.port, args.version, args.error_rate, latency_ms=args.latency_ms)

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
