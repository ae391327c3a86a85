"""The built-in service the `local` provisioner starts when the operator names no command of its own.

An HTTP server whose `/health` answers 200 only when its PostgreSQL database (DATABASE_URL) and Redis
database (REDIS_URL) both answer — so a health check of it checks the environment, not just a process.
`--fail-percent` makes that share of health checks answer 503 (tests and the instability scenario).

    python -m venturegate.crews.stage14.service --port 8080
"""

from __future__ import annotations

import argparse
import json
import os
import random
import signal
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import FrameType

import psycopg
import redis


def _checks() -> dict[str, str]:
    out: dict[str, str] = {}
    db = os.environ.get("DATABASE_URL")
    if db:
        try:
            with psycopg.connect(db, connect_timeout=2) as conn:
                conn.execute("SELECT 1")
            out["database"] = "ok"
        except psycopg.Error as exc:
            out["database"] = f"down: {exc}"[:200]
    url = os.environ.get("REDIS_URL")
    if url:
        try:
            client = redis.Redis.from_url(url, socket_timeout=2)
            client.ping()
            client.close()
            out["redis"] = "ok"
        except redis.RedisError as exc:
            out["redis"] = f"down: {exc}"[:200]
    return out


def main(argv: list[str] | None = None) -> None:
    """Serve until SIGTERM."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--port", type=int, default=int(os.environ.get("PORT", "8080")))
    parser.add_argument("--fail-percent", type=float, default=0.0)
    args = parser.parse_args(argv)
    fail = max(0.0, min(100.0, args.fail_percent))

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            if self.path.split("?")[0] == "/health":
                checks = _checks()
                ok = all(v == "ok" for v in checks.values()) and random.uniform(0, 100) >= fail
                self._send(200 if ok else 503, {"status": "ok" if ok else "down", "checks": checks})
            else:
                self._send(200, {"service": "venturegate-stage14-demo"})

        def _send(self, status: int, body: dict[str, object]) -> None:
            data = json.dumps(body).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, format: str, *args: object) -> None:
            return

    server = ThreadingHTTPServer(("127.0.0.1", args.port), Handler)

    def stop(_sig: int, _frame: FrameType | None) -> None:
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, stop)
    try:
        server.serve_forever(poll_interval=0.1)
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()


if __name__ == "__main__":
    main()
