"""Load generator benchmark: venturegate's open-loop generator against Locust FastHttpUser and wrk.

All three tools hit the same loopback server in the same run. The server answers every request
after exactly `--latency-ms` (20 ms by default), so each tool's p95 can be compared with a known
latency. The server is a minimal HTTP/1.1 keep-alive responder on asyncio in its own process, so
that it is not the bottleneck (an aiohttp server tops out at a few thousand requests per second on
one core, below what the tools can send). Each tool is one process with one thread (wrk: `-t1`),
so it uses at most one core; "per core" is requests per CPU-second of the tool while it ran, which
holds even when other jobs share the machine. `--pin` pins the tools to the first CPU and the
server to the last.

Phases:
1. **max**: our generator at increasing fixed rates; the highest rate it sustains (sent and
   answered at >= 95% of the target, no errors) is its top rate. Locust (100 users, no wait) and
   wrk (1 thread, 100 connections) run flat out.
2. **accuracy**: each tool at about `--accuracy-rate` req/s (ours open-loop; Locust with
   `constant_throughput`; wrk closed-loop with rate x latency connections), well under every
   tool's limit; the p95 error is |p95 - latency|.

Prints JSON. Locust is a benchmark-only dependency (`.venv/bin/pip install locust`); wrk is the
Debian package (`apt-get install -y wrk`). A missing tool is skipped with a note.
"""

from __future__ import annotations

import argparse
import asyncio
import csv
import json
import multiprocessing
import os
import platform
import re
import shutil
import subprocess
import sys
import tempfile
import time
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

from venturegate.crews.stage19.loadgen import LoadProfile, run_profile

_RESPONSE = b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 2\r\n\r\nok"


class _DelayedHttp(asyncio.Protocol):
    """Answers each request (headers only: the tools send GETs) after a fixed delay, in order."""

    def __init__(self, delay: float, served: list[int]) -> None:
        self.delay = delay
        self.served = served
        self.buffer = b""
        self.transport: asyncio.Transport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport

    def data_received(self, data: bytes) -> None:
        self.buffer += data
        loop = asyncio.get_running_loop()
        while (end := self.buffer.find(b"\r\n\r\n")) >= 0:
            self.buffer = self.buffer[end + 4 :]
            loop.call_later(self.delay, self._respond)

    def _respond(self) -> None:
        if self.transport is not None and not self.transport.is_closing():
            self.transport.write(_RESPONSE)
            self.served[0] += 1


def _serve(delay: float, cpu: int | None, conn: Connection) -> None:
    if cpu is not None:
        os.sched_setaffinity(0, {cpu})

    async def main() -> None:
        served = [0]
        loop = asyncio.get_running_loop()
        server = await loop.create_server(lambda: _DelayedHttp(delay, served), "127.0.0.1", 0, backlog=4096)
        conn.send(server.sockets[0].getsockname()[1])
        await loop.run_in_executor(None, conn.recv)  # any message: stop
        server.close()

    asyncio.run(main())


def _ours(url: str, rate: float, seconds: float, connections: int, latency_ms: float) -> dict[str, Any]:
    count = int(rate * seconds)
    cpu = time.process_time()
    wall = time.perf_counter()
    result = asyncio.run(
        run_profile(
            url,
            LoadProfile.constant(rate, seconds),
            max_requests=count,
            max_seconds=seconds + 1,
            timeout=5.0,
            connections=connections,
        )
    )
    wall = time.perf_counter() - wall
    cpu = time.process_time() - cpu
    sustained = result.send_rate >= 0.95 * rate and result.throughput >= 0.95 * rate and not result.errors_by_status
    return {
        "target_rate": rate,
        "requests": result.requests,
        "throughput": result.throughput,
        "send_rate": result.send_rate,
        "cpu_s": round(cpu, 3),
        "cpu_share": round(cpu / wall, 3),
        "requests_per_cpu_s": round(result.requests / cpu) if cpu else None,
        "p50_ms": result.p50_ms,
        "p95_ms": result.p95_ms,
        "p99_ms": result.p99_ms,
        "send_p95_ms": result.send_p95_ms,
        "lag_p99_ms": result.lag_p99_ms,
        "p95_abs_error_ms": None if result.p95_ms is None else round(abs(result.p95_ms - latency_ms), 3),
        "errors": result.errors_by_status,
        "sustained": sustained,
    }


_LOCUSTFILE = """
import json
import os
import time

from locust import FastHttpUser, constant, constant_throughput, events, task

_PER_USER = float(os.environ.get("BENCH_PER_USER_RATE", "0"))
_START = {}


@events.test_start.add_listener
def _started(environment, **kwargs):
    _START.update(cpu=time.process_time(), wall=time.perf_counter())


@events.test_stop.add_listener
def _stopped(environment, **kwargs):
    # CPU spent while the test ran, without Locust's start-up (imports, gevent, web UI setup).
    with open(os.environ["BENCH_CPU_FILE"], "w") as out:
        json.dump({"cpu_s": time.process_time() - _START["cpu"], "wall_s": time.perf_counter() - _START["wall"]}, out)


class Bench(FastHttpUser):
    wait_time = constant_throughput(_PER_USER) if _PER_USER > 0 else constant(0)

    @task
    def get(self):
        self.client.get("/")
"""


def _pin(cpu: int | None) -> list[str]:
    return ["taskset", "-c", str(cpu)] if cpu is not None and shutil.which("taskset") else []


def _locust(
    base: str, users: int, seconds: int, per_user_rate: float, latency_ms: float, cpu: int | None
) -> dict[str, Any]:
    binary = Path(sys.executable).with_name("locust")
    with tempfile.TemporaryDirectory() as tmp:
        locustfile = Path(tmp) / "locustfile.py"
        locustfile.write_text(_LOCUSTFILE)
        prefix = str(Path(tmp) / "run")
        cmd = [
            *_pin(cpu),
            str(binary),
            "-f",
            str(locustfile),
            "--headless",
            "-u",
            str(users),
            "-r",
            str(users),
            "-t",
            f"{seconds}s",
            "--host",
            base,
            "--csv",
            prefix,
            "--only-summary",
            "--loglevel",
            "ERROR",
            "--stop-timeout",
            "1",
        ]
        cpu_file = Path(tmp) / "cpu.json"
        env = {**os.environ, "BENCH_PER_USER_RATE": str(per_user_rate), "BENCH_CPU_FILE": str(cpu_file)}
        done = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=seconds + 60, check=False)
        with open(prefix + "_stats.csv", encoding="utf-8") as stats:
            rows = list(csv.DictReader(stats))
        usage = json.loads(cpu_file.read_text())
    total = next(r for r in rows if r["Name"] == "Aggregated")
    p95 = float(total["95%"])
    cpu_s, wall = usage["cpu_s"], usage["wall_s"]
    return {
        "users": users,
        "per_user_rate": per_user_rate or None,
        "requests": int(total["Request Count"]),
        "failures": int(total["Failure Count"]),
        "throughput": round(float(total["Requests/s"]), 3),
        "cpu_s": round(cpu_s, 3),
        "cpu_share": round(cpu_s / wall, 3),
        "requests_per_cpu_s": round(int(total["Request Count"]) / cpu_s) if cpu_s else None,
        "p50_ms": float(total["50%"]),
        "p95_ms": p95,
        "p99_ms": float(total["99%"]),
        "p95_abs_error_ms": round(abs(p95 - latency_ms), 3),
        "exit_code": done.returncode,
        "note": "rate over the whole run, 1 s spawn included; CPU from test start to stop; whole-ms percentiles",
    }


_WRK_LUA = """
done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    "WRKJSON {\\"requests\\": %d, \\"duration_us\\": %d, \\"p50_us\\": %d, \\"p95_us\\": %d, "
    .. "\\"p99_us\\": %d, \\"errors\\": %d}\\n",
    summary.requests, summary.duration, latency:percentile(50), latency:percentile(95),
    latency:percentile(99), e.connect + e.read + e.write + e.status + e.timeout))
end
"""


def _wrk(url: str, connections: int, seconds: int, latency_ms: float, cpu: int | None) -> dict[str, Any]:
    with tempfile.TemporaryDirectory() as tmp:
        script = Path(tmp) / "report.lua"
        script.write_text(_WRK_LUA)
        cmd = [*_pin(cpu), "wrk", "-t1", f"-c{connections}", f"-d{seconds}s", "-s", str(script), url]
        before = os.times()
        done = subprocess.run(cmd, capture_output=True, text=True, timeout=seconds + 30, check=False)
        after = os.times()
    match = re.search(r"WRKJSON (\{.*\})", done.stdout)
    if match is None:
        return {"skipped": f"wrk printed no summary (exit {done.returncode}): {done.stderr.strip()[:200]}"}
    data = json.loads(match.group(1))
    duration = data["duration_us"] / 1e6
    cpu_s = (after.children_user - before.children_user) + (after.children_system - before.children_system)
    p95 = data["p95_us"] / 1000
    return {
        "connections": connections,
        "requests": data["requests"],
        "errors": data["errors"],
        "throughput": round(data["requests"] / duration, 3),
        "cpu_s": round(cpu_s, 3),
        "cpu_share": round(cpu_s / duration, 3),
        "requests_per_cpu_s": round(data["requests"] / cpu_s) if cpu_s else None,
        "p50_ms": data["p50_us"] / 1000,
        "p95_ms": p95,
        "p99_ms": data["p99_us"] / 1000,
        "p95_abs_error_ms": round(abs(p95 - latency_ms), 3),
        "note": "closed loop: p95 is service time (no coordinated-omission correction)",
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--latency-ms", type=float, default=20.0)
    parser.add_argument("--seconds", type=int, default=5, help="length of each run")
    parser.add_argument("--rates", default="1000,2000,3000,4000,5000,6000,8000")
    parser.add_argument("--connections", type=int, default=100)
    parser.add_argument("--accuracy-rate", type=float, default=200.0)
    parser.add_argument("--quick", action="store_true", help="2 s runs, fewer rates (smoke test)")
    parser.add_argument("--pin", action="store_true", help="pin the tools to the first CPU, the server to the last")
    args = parser.parse_args()
    if args.quick:
        args.seconds, args.rates = 2, "500,1000,2000"
    latency = args.latency_ms
    cpus = sorted(os.sched_getaffinity(0))
    client_cpu, server_cpu = (cpus[0], cpus[-1]) if args.pin and len(cpus) > 1 else (None, None)

    parent, child = multiprocessing.Pipe()
    server = multiprocessing.Process(target=_serve, args=(latency / 1000, server_cpu, child), daemon=True)
    server.start()
    port = parent.recv()
    url = f"http://127.0.0.1:{port}/"
    if client_cpu is not None:
        os.sched_setaffinity(0, {client_cpu})
    report: dict[str, Any] = {
        "machine": {
            "nproc": os.cpu_count(),
            "cpu": platform.processor() or platform.machine(),
            "python": platform.python_version(),
            "client_cpu": client_cpu,
            "server_cpu": server_cpu,
            "loadavg_start": list(os.getloadavg()),
        },
        "settings": {
            "injected_latency_ms": latency,
            "seconds_per_run": args.seconds,
            "connections": args.connections,
            "accuracy_rate": args.accuracy_rate,
        },
    }
    try:
        # 1. Our maximum sustainable rate on one core.
        runs = []
        for rate in (float(r) for r in args.rates.split(",")):
            run = _ours(url, rate, args.seconds, args.connections, latency)
            runs.append(run)
            print(f"ours {rate:g}/s: {run['throughput']} req/s, sustained={run['sustained']}", file=sys.stderr)
            if not run["sustained"]:
                break
        best = max((r for r in runs if r["sustained"]), key=lambda r: r["target_rate"], default=None)
        report["ours"] = {
            "runs": runs,
            "max_sustained_rate": best["target_rate"] if best else None,
            "max_sustained_throughput": best["throughput"] if best else None,
            "accuracy": _ours(url, args.accuracy_rate, args.seconds, args.connections, latency),
        }
        # 2. Locust FastHttpUser.
        if Path(sys.executable).with_name("locust").exists():
            per_user = 10.0
            report["locust"] = {
                "max": _locust(url.rstrip("/"), args.connections, args.seconds + 1, 0.0, latency, client_cpu),
                "accuracy": _locust(
                    url.rstrip("/"),
                    max(1, round(args.accuracy_rate / per_user)),
                    args.seconds + 1,
                    per_user,
                    latency,
                    client_cpu,
                ),
            }
            print(f"locust: {report['locust']['max']['throughput']} req/s", file=sys.stderr)
        else:
            report["locust"] = {"skipped": "locust is not installed (.venv/bin/pip install locust)"}
        # 3. wrk.
        if shutil.which("wrk"):
            accuracy_conns = max(1, round(args.accuracy_rate * latency / 1000))
            report["wrk"] = {
                "max": _wrk(url, args.connections, args.seconds, latency, client_cpu),
                "accuracy": _wrk(url, accuracy_conns, args.seconds, latency, client_cpu),
            }
            print(f"wrk: {report['wrk']['max'].get('throughput')} req/s", file=sys.stderr)
        else:
            report["wrk"] = {"skipped": "wrk is not installed (apt-get install -y wrk)"}
    finally:
        parent.send("stop")
        server.join(5)
        if server.is_alive():
            server.terminate()
    locust_rate = report["locust"].get("max", {}).get("throughput")
    ours_rate = report["ours"]["max_sustained_throughput"]
    report["goal"] = {
        "at_least_locust_rate": None if locust_rate is None or ours_rate is None else ours_rate >= locust_rate,
        "ours_over_locust": None if not locust_rate or ours_rate is None else round(ours_rate / locust_rate, 2),
    }
    report["machine"]["loadavg_end"] = list(os.getloadavg())
    json.dump(report, sys.stdout, indent=2)
    print()


if __name__ == "__main__":
    main()
