"""Stage-28 benchmarks: the one-pass hit-rate curve against per-size simulation, and the crew on the demo shop.

`curve` — one trace of `--requests` (default 1,000,000) Zipf-distributed reads over `--keys` keys
with arrival times, and a curve of `--sizes` cache sizes (log-spaced from 16 entries to every key),
with and without a TTL. venturegate's one pass (`hitrate.hit_rate_curve`) against simulating each
size separately, with two peers in the same run: `collections.OrderedDict` (the textbook LRU) and
`lru-dict` (a C LRU, benchmark-only: `.venv/bin/pip install lru-dict`; skipped with a note when
missing). The curves must be identical (compared exactly, as fractions of the same count).

`crew` — the whole crew on the demo shop (all defects on) against the stage-28 PostgreSQL
(`scripts/pg-stage28.sh`) and a private Redis: baseline p95 → final p95, predicted → measured hit
rate, the changes kept and rolled back, and the wall time of the run (needs the shop's tables; they
are created first).

    .venv/bin/python benchmarks/stage28.py curve > curve.json
    .venv/bin/python benchmarks/stage28.py crew > crew.json

Prints JSON.
"""

from __future__ import annotations

import argparse
import json
import platform
import random
import time
from collections import OrderedDict
from collections.abc import Callable, Hashable, Sequence
from typing import Any

from venturegate.crews.stage28.hitrate import hit_rate_curve


def _trace(n: int, keys: int, seed: int) -> tuple[list[int], list[float]]:
    rng = random.Random(seed)
    weights = [1.0 / (k**0.9) for k in range(1, keys + 1)]
    got = rng.choices(range(keys), weights=weights, k=n)
    times, now = [], 0.0
    for _ in range(n):
        now += rng.expovariate(1000.0)  # 1,000 requests per second
        times.append(now)
    return got, times


def _sizes(count: int, top: int) -> list[int]:
    out = sorted({max(1, round(16 * (top / 16) ** (i / (count - 1)))) for i in range(count)})
    return out


def _ordered_dict(keys: Sequence[Hashable], times: Sequence[float], size: int, ttl: float | None) -> int:
    cache: OrderedDict[Hashable, float] = OrderedDict()
    hits = 0
    for key, now in zip(keys, times, strict=True):
        if key in cache:
            if ttl is None or now - cache[key] <= ttl:
                hits += 1
            cache.move_to_end(key)
            cache[key] = now
        else:
            cache[key] = now
            if len(cache) > size:
                cache.popitem(last=False)
    return hits


def _lru_dict() -> Callable[[Sequence[Hashable], Sequence[float], int, float | None], int] | None:
    try:
        import lru  # type: ignore[import-not-found]
    except ImportError:
        return None

    def run(keys: Sequence[Hashable], times: Sequence[float], size: int, ttl: float | None) -> int:
        cache = lru.LRU(size)
        hits = 0
        for key, now in zip(keys, times, strict=True):
            if key in cache and (ttl is None or now - cache[key] <= ttl):
                hits += 1
            cache[key] = now  # insert or refresh: moves the key to the front
        return int(hits)

    return run


def curve(args: argparse.Namespace) -> dict[str, Any]:
    keys, times = _trace(args.requests, args.keys, args.seed)
    sizes = _sizes(args.sizes, args.keys)
    out: dict[str, Any] = {"requests": len(keys), "keys": args.keys, "sizes": len(sizes), "ttl_seconds": args.ttl}
    for label, ttl in (("no_ttl", None), ("ttl", args.ttl)):
        t0 = time.perf_counter()
        one = hit_rate_curve(keys, sizes, times=times, ttl_seconds=ttl)
        one_s = time.perf_counter() - t0
        row: dict[str, Any] = {"one_pass_s": round(one_s, 3)}
        peers = {"ordered_dict": _ordered_dict, "lru_dict": _lru_dict()}
        for name, sim in peers.items():
            if sim is None:
                row[name] = "skipped: lru-dict is not installed (.venv/bin/pip install lru-dict)"
                continue
            t0 = time.perf_counter()
            hits = [sim(keys, times, s, ttl) for s in sizes]
            sim_s = time.perf_counter() - t0
            identical = all(round(h_one * len(keys)) == h for h_one, h in zip(one.hit_rates, hits, strict=True))
            row[name] = {
                "all_sizes_s": round(sim_s, 3),
                "per_size_s": round(sim_s / len(sizes), 4),
                "speedup": round(sim_s / one_s, 1),
                "break_even_sizes": round(one_s / (sim_s / len(sizes)), 1),
                "identical_curve": identical,
            }
        row["curve"] = [{"size": s, "hit_rate": round(h, 6)} for s, h in zip(one.sizes, one.hit_rates, strict=True)][
            :: max(1, len(sizes) // 12)
        ]
        out[label] = row
    return out


def crew(args: argparse.Namespace) -> dict[str, Any]:
    from venturegate.crews.stage28.demo import bench_run

    return bench_run(orders=args.orders, rate=args.rate, seconds=args.seconds)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    sub = parser.add_subparsers(dest="what", required=True)
    c = sub.add_parser("curve")
    c.add_argument("--requests", type=int, default=1_000_000)
    c.add_argument("--keys", type=int, default=100_000)
    c.add_argument("--sizes", type=int, default=160)
    c.add_argument("--ttl", type=float, default=60.0)
    c.add_argument("--seed", type=int, default=28)
    w = sub.add_parser("crew")
    w.add_argument("--orders", type=int, default=120_000)
    w.add_argument("--rate", type=float, default=25.0)
    w.add_argument("--seconds", type=float, default=20.0)
    args = parser.parse_args()
    result = curve(args) if args.what == "curve" else crew(args)
    result["machine"] = {"python": platform.python_version(), "cpus": __import__("os").cpu_count()}
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
