"""LRU hit rate for every cache size at once, from one pass over an access trace (Mattson's stack distances).

The stack distance of an access is the number of *other* distinct keys touched since the previous
access to the same key (infinite for a first access). Under LRU, an access hits a cache of `C`
entries exactly when its distance is below `C` (the inclusion property), so one histogram of
distances gives the whole hit-rate curve. Distances are counted with a Fenwick tree over trace
positions (one mark per key, at its latest access): O(n log n) for the trace instead of O(n · sizes)
for simulating each size separately.

With a TTL the model is *sliding* expiry: an entry expires `ttl` seconds after its last access
(every hit renews it, as the stage-28 cache does with `GETEX … EX ttl`), and an expired entry keeps
its place in the LRU order until it is evicted or read again (then it is a miss and is refilled).
Under that model an access hits size `C` iff its distance is below `C` *and* its reuse time is at
most `ttl`: still one pass, and still exact.

Pure: no I/O, no clock. `simulate_lru` is the direct simulation the one-pass curve is checked against.
"""

from __future__ import annotations

import math
from collections import OrderedDict
from collections.abc import Hashable, Sequence
from dataclasses import dataclass

INFINITE = -1
"""The distance of a first access (a cold miss at every size)."""


@dataclass(frozen=True)
class HitRateCurve:
    """Hit rates (0-1) for cache sizes in entries, computed from one trace."""

    accesses: int
    distinct_keys: int
    sizes: tuple[int, ...]
    hit_rates: tuple[float, ...]
    ttl_seconds: float | None = None

    def at(self, size: int) -> float:
        """The hit rate of a cache of `size` entries."""
        return self.hit_rates[self.sizes.index(size)]

    def as_dict(self) -> dict[str, object]:
        """JSON form."""
        return {
            "accesses": self.accesses,
            "distinct_keys": self.distinct_keys,
            "ttl_seconds": self.ttl_seconds,
            "curve": [{"size": s, "hit_rate": round(h, 6)} for s, h in zip(self.sizes, self.hit_rates, strict=True)],
        }


class _Fenwick:
    """Prefix sums over positions 0..n-1 with point updates, both O(log n)."""

    __slots__ = ("_tree",)

    def __init__(self, n: int) -> None:
        self._tree = [0] * (n + 1)

    def add(self, i: int, delta: int) -> None:
        i += 1
        tree = self._tree
        n = len(tree)
        while i < n:
            tree[i] += delta
            i += i & -i

    def prefix(self, i: int) -> int:
        """Sum of positions 0..i-1."""
        total = 0
        tree = self._tree
        while i > 0:
            total += tree[i]
            i -= i & -i
        return total


def stack_distances(keys: Sequence[Hashable], times: Sequence[float] | None = None) -> tuple[list[int], list[float]]:
    """Per access, its LRU stack distance (`INFINITE` for a first access) and its reuse time (`inf` if none)."""
    if times is not None and len(times) != len(keys):
        raise ValueError("keys and times must have the same length")
    n = len(keys)
    marks = _Fenwick(n)
    last: dict[Hashable, int] = {}
    distances = [INFINITE] * n
    reuse = [math.inf] * n
    live = 0
    for i, key in enumerate(keys):
        prev = last.get(key)
        if prev is not None:
            # Keys whose latest access lies strictly between prev and i: live marks after prev.
            distances[i] = live - marks.prefix(prev + 1)
            marks.add(prev, -1)
            if times is not None:
                reuse[i] = times[i] - times[prev]
        else:
            live += 1
        marks.add(i, 1)
        last[key] = i
    return distances, reuse


def hit_rate_curve(
    keys: Sequence[Hashable],
    sizes: Sequence[int],
    *,
    times: Sequence[float] | None = None,
    ttl_seconds: float | Sequence[float] | None = None,
) -> HitRateCurve:
    """The LRU hit rate at each of `sizes` (entries), from one pass; with `ttl_seconds`, under sliding expiry.

    `ttl_seconds` is one TTL for every key, or one per access (the TTL of the key's route).
    """
    if ttl_seconds is not None and times is None:
        raise ValueError("a TTL needs the access times")
    if any(s < 0 for s in sizes):
        raise ValueError("cache sizes must be >= 0")
    distances, reuse = stack_distances(keys, times)
    top = max(sizes, default=0)
    histogram = [0] * (top + 1)
    ttls = _per_access(ttl_seconds, len(keys))
    for i, (d, r) in enumerate(zip(distances, reuse, strict=True)):
        if d == INFINITE or d >= top:
            continue
        if ttls is not None and r > ttls[i]:
            continue
        histogram[d] += 1
    # hits(C) = accesses with distance < C: a running sum of the histogram.
    cumulative = [0] * (top + 1)
    running = 0
    for d in range(top):
        running += histogram[d]
        cumulative[d + 1] = running
    n = len(keys)
    rates = tuple((cumulative[s] / n) if n else 0.0 for s in sizes)
    single = ttl_seconds if ttl_seconds is None or isinstance(ttl_seconds, int | float) else min(ttl_seconds, default=0)
    return HitRateCurve(n, len(set(keys)), tuple(sizes), rates, single)


def _per_access(ttl: float | Sequence[float] | None, n: int) -> Sequence[float] | None:
    if ttl is None:
        return None
    if isinstance(ttl, int | float):
        return [float(ttl)] * n
    if len(ttl) != n:
        raise ValueError("one TTL per access, or a single TTL")
    return ttl


def simulate_lru(
    keys: Sequence[Hashable],
    size: int,
    *,
    times: Sequence[float] | None = None,
    ttl_seconds: float | Sequence[float] | None = None,
) -> float:
    """Hit rate of one LRU cache of `size` entries, simulated access by access (same expiry model)."""
    if ttl_seconds is not None and times is None:
        raise ValueError("a TTL needs the access times")
    cache: OrderedDict[Hashable, float] = OrderedDict()
    ttls = _per_access(ttl_seconds, len(keys))
    hits = 0
    for i, key in enumerate(keys):
        now = times[i] if times is not None else 0.0
        if key in cache:
            fresh = ttls is None or now - cache[key] <= ttls[i]
            if fresh:
                hits += 1
            cache.move_to_end(key)
            cache[key] = now
        elif size > 0:
            cache[key] = now
            if len(cache) > size:
                cache.popitem(last=False)
    return hits / len(keys) if keys else 0.0
