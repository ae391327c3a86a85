"""28.2 CacheArchitect: a cache design from the access trace, its predicted hit-rate curve, and the measurement.

Per read endpoint, the design decides from the baseline trace whether caching pays (the endpoint
is slow enough and its keys repeat enough), the key (method, route and the request path, so every
parameter is part of it), the TTL (the longest of `cache.ttl_short/medium/long` within the endpoint's
allowed staleness) and the invalidation (writes flush the routes their OpenAPI operation lists in
`x-invalidates`; with none listed, every write flushes every cached route). The hit rate is predicted
for a range of cache sizes in one pass over the trace (`hitrate`), with and without TTL expiry, and
with the trace's writes flushing what they invalidate (a flushed key starts cold again).

The measurement reads Redis `INFO stats` (`keyspace_hits`/`keyspace_misses`) before and after a load,
and the miss penalty from the service's `X-Cache` answers (mean latency of misses minus hits).
"""

from __future__ import annotations

import json
import time
import urllib.error
import urllib.request
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import redis

from venturegate.crews.stage28.hitrate import HitRateCurve, hit_rate_curve
from venturegate.crews.stage28.traffic import Endpoint, Trace

SIZES = (16, 64, 256, 1024, 4096, 16384, 65536)


@dataclass(frozen=True)
class RouteDecision:
    """Whether one read endpoint is cached, and how."""

    endpoint: str
    route: str
    cache: bool
    why: str
    ttl_seconds: int = 0
    invalidated_by: tuple[str, ...] = ()
    predicted_hit_rate: float = 0.0
    p50_ms: float = 0.0
    calls: int = 0

    def as_dict(self) -> dict[str, Any]:
        """JSON form."""
        return {
            "endpoint": self.endpoint,
            "cache": self.cache,
            "why": self.why,
            "key": f"vg28:c:{self.route}:<path>" if self.cache else None,
            "ttl_seconds": self.ttl_seconds,
            "invalidated_by": list(self.invalidated_by),
            "predicted_hit_rate": round(100 * self.predicted_hit_rate, 2),
            "p50_ms": self.p50_ms,
            "calls": self.calls,
        }


@dataclass
class CacheDesign:
    """The decisions, the curve (all cached routes together) with and without TTL, and the config it writes."""

    decisions: list[RouteDecision]
    curve: HitRateCurve
    curve_ttl: HitRateCurve
    strategy: str
    delay_ms: int

    @property
    def cached(self) -> list[RouteDecision]:
        """The routes that get a cache."""
        return [d for d in self.decisions if d.cache]

    @property
    def predicted(self) -> float:
        """Predicted hit rate (percent) of the cached routes with TTL expiry at the largest size."""
        return round(100 * self.curve_ttl.hit_rates[-1], 2) if self.curve_ttl.hit_rates else 0.0

    def target_config(self) -> dict[str, Any]:
        """The `cache` section of the service's config file."""
        return {d.route: {"ttl": d.ttl_seconds} for d in self.cached}

    def config_entries(self) -> list[str]:
        """The design as `cache.routes` config entries (`ROUTE ttl=N`), for the engine's versioned config."""
        return [f"{d.route} ttl={d.ttl_seconds}" for d in self.cached]

    def as_dict(self) -> dict[str, Any]:
        """JSON form."""
        return {
            "strategy": self.strategy,
            "delay_ms": self.delay_ms,
            "routes": [d.as_dict() for d in self.decisions],
            "predicted_hit_rate_percent": self.predicted,
            "curve": self.curve.as_dict(),
            "curve_with_ttl": self.curve_ttl.as_dict(),
        }


def parse_entries(entries: list[str]) -> dict[str, dict[str, int]]:
    """`cache.routes` entries back into the service's `cache` section (bad entries are refused)."""
    out: dict[str, dict[str, int]] = {}
    for entry in entries:
        route, _, ttl = entry.rpartition(" ttl=")
        if not route.startswith("/") or not ttl.isdigit():
            raise ValueError(f"cache.routes entry {entry!r} is not 'ROUTE ttl=SECONDS'")
        out[route] = {"ttl": int(ttl)}
    return out


def _ttl_for(staleness: int | None, ttls: tuple[int, int, int]) -> int:
    short, medium, long_ = ttls
    if staleness is None:
        return medium
    fitting = [t for t in (long_, medium, short) if t <= staleness]
    return fitting[0] if fitting else short


def design(
    trace: Trace,
    endpoints: list[Endpoint],
    *,
    ttls: tuple[int, int, int],
    staleness: dict[str, int],
    strategy: str,
    delay_ms: int,
    min_p50_ms: float,
    min_hit_rate: float,
    routes: set[str] | None = None,
) -> CacheDesign:
    """Decide per read endpoint from the trace; predict the hit-rate curve of the resulting cache."""
    writes = [e for e in endpoints if not e.is_read]
    invalidators: dict[str, list[str]] = defaultdict(list)
    for w in writes:
        targets = w.invalidates or tuple(e.route for e in endpoints if e.is_read)
        for r in targets:
            invalidators[r].append(w.name)
    accesses = sorted(trace.accesses, key=lambda a: a.offset)
    decisions = []
    for ep in (e for e in endpoints if e.is_read):
        if routes is not None and ep.route not in routes:
            continue
        mine = [a for a in accesses if a.route == ep.route and a.method == "GET" and a.status == 200]
        lat = sorted(a.latency_ms for a in mine)
        p50 = round(lat[len(lat) // 2], 3) if lat else 0.0
        ttl = _ttl_for(staleness.get(ep.route, staleness.get(ep.name)), ttls)
        alone = _predict(accesses, {ep.route: ttl}, invalidators, with_ttl=True, sizes=(SIZES[-1],))
        rate = alone.hit_rates[0]  # the curve covers this route's calls only
        if not mine:
            d = RouteDecision(ep.name, ep.route, False, "not called in the baseline", p50_ms=p50)
        elif p50 < min_p50_ms:
            d = RouteDecision(
                ep.name,
                ep.route,
                False,
                f"p50 {p50:.1f} ms is under {min_p50_ms:g} ms: a cache would save little",
                p50_ms=p50,
                calls=len(mine),
                predicted_hit_rate=rate,
            )
        elif rate < min_hit_rate:
            d = RouteDecision(
                ep.name,
                ep.route,
                False,
                f"keys repeat too little (predicted {100 * rate:.0f}% < {100 * min_hit_rate:.0f}%)",
                p50_ms=p50,
                calls=len(mine),
                predicted_hit_rate=rate,
            )
        else:
            d = RouteDecision(
                ep.name,
                ep.route,
                True,
                f"p50 {p50:.1f} ms, predicted hit rate {100 * rate:.0f}%",
                ttl,
                tuple(invalidators.get(ep.route, [])),
                rate,
                p50,
                len(mine),
            )
        decisions.append(d)
    chosen = {d.route: d.ttl_seconds for d in decisions if d.cache}
    curve = _predict(accesses, chosen, invalidators, with_ttl=False, sizes=SIZES)
    curve_ttl = _predict(accesses, chosen, invalidators, with_ttl=True, sizes=SIZES)
    return CacheDesign(decisions, curve, curve_ttl, strategy, delay_ms)


def _predict(
    accesses: list[Any],
    ttls: dict[str, int],
    invalidators: dict[str, list[str]],
    *,
    with_ttl: bool,
    sizes: tuple[int, ...],
) -> HitRateCurve:
    """The hit-rate curve over the accesses of the cached routes; writes start new key generations."""
    generation: dict[str, int] = defaultdict(int)
    keys: list[tuple[str, int]] = []
    times: list[float] = []
    ttl_of: list[float] = []
    for a in accesses:
        name = f"{a.method} {a.route}"
        if a.method != "GET":
            for route, writers in invalidators.items():
                if name in writers:
                    generation[route] += 1
            continue
        if a.route not in ttls or a.status != 200:
            continue
        keys.append((a.path, generation[a.route]))
        times.append(a.offset)
        ttl_of.append(ttls[a.route])
    if not keys:
        return hit_rate_curve([], sizes)
    if with_ttl:
        return hit_rate_curve(keys, sizes, times=times, ttl_seconds=ttl_of)
    return hit_rate_curve(keys, sizes)


# -- applying and measuring ----------------------------------------------------------------------
def write_target_config(path: Path, cache: dict[str, Any], tunables: dict[str, Any]) -> None:
    """Write the service's config file atomically (it re-reads the file when it changes)."""
    data = {**tunables, "cache": cache}
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(data, indent=2, sort_keys=True), encoding="utf-8")
    tmp.replace(path)
    time.sleep(0.02)  # the service compares mtimes: make sure the next write is distinguishable


def redis_client(url: str) -> redis.Redis:
    """A client; refused or unreachable raises redis.ConnectionError on the first command."""
    return redis.Redis.from_url(url, socket_connect_timeout=3, socket_timeout=5)


def keyspace(client: redis.Redis) -> tuple[int, int]:
    """(keyspace_hits, keyspace_misses) from INFO stats."""
    info = client.info("stats")
    return int(info["keyspace_hits"]), int(info["keyspace_misses"])


def flush_keys(client: redis.Redis, prefix: str) -> int:
    """Delete every key under `prefix` (SCAN, never FLUSHDB: the Redis may be shared)."""
    n = 0
    batch: list[bytes] = []
    for key in client.scan_iter(match=prefix + "*", count=1000):
        batch.append(key)
        if len(batch) >= 500:
            n += int(client.delete(*batch))
            batch = []
    if batch:
        n += int(client.delete(*batch))
    return n


@dataclass
class CacheMeasurement:
    """What Redis and the service's answers said during one load."""

    hits: int
    misses: int
    miss_penalty_ms: float | None
    by_route: dict[str, dict[str, float]] = field(default_factory=dict)

    @property
    def hit_rate(self) -> float:
        """Percent of cache lookups that hit (Redis keyspace counters)."""
        total = self.hits + self.misses
        return round(100.0 * self.hits / total, 3) if total else 0.0

    def as_dict(self) -> dict[str, Any]:
        """JSON form."""
        return {
            "keyspace_hits": self.hits,
            "keyspace_misses": self.misses,
            "hit_rate_percent": self.hit_rate,
            "miss_penalty_ms": self.miss_penalty_ms,
            "by_route": self.by_route,
        }


def measure(before: tuple[int, int], after: tuple[int, int], trace: Trace) -> CacheMeasurement:
    """Hits and misses between two INFO readings; miss penalty from the trace's X-Cache answers."""
    hits, misses = after[0] - before[0], after[1] - before[1]
    per: dict[str, dict[str, list[float]]] = defaultdict(lambda: {"HIT": [], "MISS": []})
    for a in trace.accesses:
        if a.cache in ("HIT", "MISS"):
            per[a.route][a.cache].append(a.latency_ms)
    by_route: dict[str, dict[str, float]] = {}
    penalties: list[tuple[float, int]] = []
    for route, split in per.items():
        h, m = split["HIT"], split["MISS"]
        row = {"hits": float(len(h)), "misses": float(len(m))}
        if h and m:
            penalty = sum(m) / len(m) - sum(h) / len(h)
            row["miss_penalty_ms"] = round(penalty, 3)
            penalties.append((penalty, len(m)))
        by_route[route] = row
    weight = sum(n for _, n in penalties)
    penalty_ms = round(sum(p * n for p, n in penalties) / weight, 3) if weight else None
    return CacheMeasurement(hits, misses, penalty_ms, by_route)


@dataclass(frozen=True)
class StaleCheck:
    """One write followed by a read of a cached route: fresh or stale."""

    route: str
    path: str
    fresh: bool
    detail: str


def invalidation_test(
    base_url: str, read_path: str, route: str, write: Endpoint, body: bytes, *, delay_ms: int
) -> StaleCheck:
    """Read (to fill the cache), write, wait the allowed delay, read again: the cached answer must equal the
    origin's (a `Cache-Control: no-cache` read) — a stale read beyond the delay is a failure."""

    def get(no_cache: bool) -> tuple[str, bytes]:
        req = urllib.request.Request(base_url + read_path, headers={"Cache-Control": "no-cache"} if no_cache else {})
        with urllib.request.urlopen(req, timeout=10) as r:
            return r.headers.get("X-Cache", ""), r.read()

    get(False)
    get(False)
    req = urllib.request.Request(
        base_url + write.route, data=body, method=write.method, headers={"Content-Type": "application/json"}
    )
    try:
        with urllib.request.urlopen(req, timeout=10) as r:
            r.read()
    except urllib.error.HTTPError as exc:
        return StaleCheck(route, read_path, False, f"the write {write.name} failed with {exc.code}")
    time.sleep(delay_ms / 1000.0)
    state, cached = get(False)
    _, origin = get(True)
    if cached != origin:
        return StaleCheck(
            route,
            read_path,
            False,
            f"stale read after {write.name}: cached answer ({state}) differs "
            f"from the origin {delay_ms} ms after the write",
        )
    return StaleCheck(route, read_path, True, f"fresh after {write.name} (X-Cache {state})")
