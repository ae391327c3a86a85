"""28.1 PerformanceProfiler: one measured load of the service with everything watched at once.

A `Measurement` is a load of the seeded workload with, at the same time: the database's statements
(`pg_stat_statements`, reset just before), its connections in use (sampled), the host's or the
service process's CPU and memory (psutil), Redis `INFO` counters, and — for the baseline, when a PID
is given — a py-spy recording. The crew takes one as the baseline and one per change it verifies.
"""

from __future__ import annotations

import math
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from venturegate.crews.stage28 import cache, database, process
from venturegate.crews.stage28.target import Target
from venturegate.crews.stage28.traffic import Request, Trace, run_trace


@dataclass
class Measurement:
    """What one load showed."""

    trace: Trace
    resources: dict[str, float]
    resource_source: str
    pool_in_use_max: int
    max_connections: int
    statements: list[database.QueryStat] = field(default_factory=list)
    cache: cache.CacheMeasurement | None = None
    profile: process.Profile | None = None
    measured_at: datetime = field(default_factory=lambda: datetime.now(UTC))

    @property
    def summary(self) -> dict[str, Any]:
        """The trace's latency summary."""
        return self.trace.summary()

    @property
    def pool_usage(self) -> float:
        """Percent of max_connections in use at the busiest reading."""
        return round(100.0 * self.pool_in_use_max / self.max_connections, 3) if self.max_connections else 0.0

    @property
    def slow_queries(self) -> int:
        """Statements averaging more than a second."""
        return sum(1 for s in self.statements if s.mean_ms > 1000.0)


def measure(
    target: Target,
    requests: list[Request],
    rate: float,
    *,
    profile_to: Path | None = None,
    top: int = 10,
    connections: int = 64,
) -> Measurement:
    """Run the workload once with every source watched; py-spy too when `profile_to` and a PID are given."""
    conn = database.connect(target.database_url)
    redis_client = cache.redis_client(target.redis_url) if target.redis_url else None
    try:
        database.reset_statements(conn)
        watcher = database.connect(target.database_url)
        _, max_conn = database.connection_usage(watcher)
        pool = process.Sampler(
            lambda: {"in_use": database.connection_usage(watcher)[0] - 1},  # minus the watcher itself
            name="vg28-pool",
            ends_on=(Exception,),  # a lost watcher connection ends the readings, not the load
        )
        before = cache.keyspace(redis_client) if redis_client is not None else None
        spy: Any = None
        if profile_to is not None and target.pid is not None:
            spy = process.py_spy_record(target.pid, len(requests) / rate, profile_to)
        if target.pid is not None:
            sampler, source = process.Sampler(process.process_reading(target.pid)), f"psutil, process {target.pid}"
        else:
            sampler, source = process.Sampler(process.host_reading(), name="vg28-host"), "psutil, whole host"
        try:
            with pool, sampler:
                trace = run_trace(target.base_url, requests, rate, connections=connections)
        finally:
            watcher.close()
        after = cache.keyspace(redis_client) if redis_client is not None else None
        statements = database.top_statements(conn, requests=len(trace.accesses), limit=top)
        per = Counter(f"{a.method} {a.route}" for a in trace.accesses)
        database.flag_n_plus_one(statements, requests_of_endpoint=dict(per), min_per_request=3.0)
        got = Measurement(
            trace,
            sampler.summary(),
            source,
            round(max(pool.series.get("in_use", []), default=0)),
            max_conn,
            statements,
            cache.measure(before, after, trace) if before is not None and after is not None else None,
        )
        if spy is not None and profile_to is not None:
            got.profile = process.py_spy_finish(spy, profile_to)
        elif profile_to is not None:
            got.profile = process.Profile(False, "no pid option: the service's Python was not profiled")
        return got
    finally:
        conn.close()
        if redis_client is not None:
            redis_client.close()


def hot_paths(m: Measurement, advice: list[database.IndexAdvice], *, limit: int = 20) -> list[dict[str, Any]]:
    """Endpoints, statements and Python functions ranked by impact (executions × average ms)."""
    rows: list[dict[str, Any]] = []
    for ep in m.summary["endpoints"]:
        lat = m.trace.latencies(ep["endpoint"])
        avg = sum(lat) / len(lat) if lat else 0.0
        rows.append({"name": ep["endpoint"], "layer": "api", "executions": ep["calls"], "avg_ms": avg})
    indexed = {q for a in advice for q in a.queries}
    for s in m.statements:
        cause = None
        if s.n_plus_one:
            cause = f"N+1 query: called {s.calls_per_request:.1f} times per request, one row each"
        elif s.query in indexed:
            cause = "missing index (hypopg shows an index makes it cheaper)"
        elif s.seq_scans:
            cause = "sequential scan of " + ", ".join(f"{x['table']} ({x['rows']} rows)" for x in s.seq_scans)
        row: dict[str, Any] = {"name": s.query[:300], "layer": "database", "executions": s.calls, "avg_ms": s.mean_ms}
        if cause:
            row["suspected_cause"] = cause
        rows.append(row)
    if m.profile is not None and m.profile.ok and m.profile.rate_hz:
        per_sample = 1000.0 / m.profile.rate_hz
        for h in m.profile.hot[:8]:
            rows.append(
                {
                    "name": h.function,
                    "layer": "api",
                    "executions": h.samples,
                    "avg_ms": per_sample,
                    "suspected_cause": f"Python hot path: {h.self_samples} of {m.profile.samples} py-spy samples "
                    "on-CPU in this function itself",
                }
            )
    for r in rows:
        r["avg_ms"] = round(float(r["avg_ms"]), 3)
        r["impact_score"] = round(r["executions"] * r["avg_ms"], 3)
    rows.sort(key=lambda r: -r["impact_score"])
    return [{"rank": i + 1, **r} for i, r in enumerate(rows[:limit])]


def baseline_artifact(m: Measurement) -> dict[str, Any]:
    """The `performance_baseline` artifact of a measurement."""
    s = m.summary
    r = m.resources
    mean_q = [q.mean_ms for q in m.statements]
    return {
        "measured_at": m.measured_at.isoformat(),
        "environment": "load_test",
        "source": f"stage-28 open-loop load; pg_stat_statements; {m.resource_source}; Redis INFO",
        "window_minutes": max(1, math.ceil(m.trace.seconds / 60)),
        "api": {
            "p50_ms": s["p50_ms"],
            "p95_ms": s["p95_ms"],
            "p99_ms": s["p99_ms"],
            "requests_per_second": s["throughput"],
            "endpoints": [
                {
                    "method": e["endpoint"].split(" ")[0],
                    "route": e["endpoint"].split(" ", 1)[1],
                    "p95_ms": e["p95_ms"],
                    "calls": e["calls"],
                }
                for e in s["endpoints"]
            ],
        },
        "database": {
            "avg_query_ms": round(sum(mean_q) / len(mean_q), 3) if mean_q else 0.0,
            "slow_query_count": m.slow_queries,
            "connection_pool_usage_percent": min(100.0, m.pool_usage),
        },
        "infrastructure": {
            "cpu_percent_avg": min(100.0, r["cpu_percent_avg"]),
            "cpu_percent_peak": min(100.0, r["cpu_percent_peak"]),
            "memory_percent_avg": min(100.0, r["memory_percent_avg"]),
            "memory_percent_peak": min(100.0, r["memory_percent_peak"]),
        },
    }


def requirements_artifact(m: Measurement, staleness_seconds: int) -> dict[str, Any]:
    """A `cache_requirements` artifact from a measurement's trace: every read, its read/write ratio and size."""
    endpoints = m.summary["endpoints"]
    writes = sum(e["calls"] for e in endpoints if not e["endpoint"].startswith("GET "))
    out = []
    for e in endpoints:
        if not e["endpoint"].startswith("GET "):
            continue
        sizes = [a.size for a in m.trace.accesses if f"{a.method} {a.route}" == e["endpoint"]]
        out.append(
            {
                "name": e["endpoint"].split(" ", 1)[1],
                "layer": "application",
                "read_write_ratio": round(e["calls"] / max(1, writes), 3),
                "max_staleness_seconds": staleness_seconds,
                "approx_size_kb": round(sum(sizes) / len(sizes) / 1024, 3) if sizes else 0.0,
            }
        )
    return {"candidates": out}
