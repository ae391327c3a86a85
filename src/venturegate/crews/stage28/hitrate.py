"""LRU hit rate for every cache size at once, from one pass over an access trace (Mattson's stack distances).

The stack distance of an access is the number of *other* distinct keys touched since the previous
access to the same key (infinite for a first access). Under LRU, an access hits a cache of `C`
entries exactly when its distance is below `C` (the inclusion property), so one histogram of
distances gives the whole hit-rate curve. Distances come from each access's previous and next access
to the same key with sorted prefix counts (numpy, O(n log² n) for the trace) instead of O(n · sizes)
for simulating each size separately; `stack_distances` is the plain one-access-at-a-time Fenwick-tree
version the vectorised one is tested against.

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
from typing import Any

import numpy as np
import numpy.typing as npt

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


def _codes(keys: Sequence[Hashable]) -> npt.NDArray[np.int64]:
    """Small integer codes for the keys (numpy's unique for numbers and strings, a dict for anything else)."""
    if keys and isinstance(keys[0], int | str):
        arr = np.asarray(keys)
        if arr.ndim == 1 and arr.dtype.kind in "iuU":
            inverse: npt.NDArray[np.int64] = np.unique(arr, return_inverse=True)[1].astype(np.int64)
            return inverse
    index: dict[Hashable, int] = {}
    return np.fromiter((index.setdefault(k, len(index)) for k in keys), dtype=np.int64, count=len(keys))


def _dominance(values: npt.NDArray[np.int64], ends: npt.NDArray[np.int64], bounds: npt.NDArray[np.int64]) -> Any:
    """For each query q: #{j <= ends[q] : values[j] < bounds[q]} — a merge-sort tree, one vectorised level at a time.

    The prefix [0, ends + 1) splits into one aligned block per set bit of its length; at level L every
    block of 2**L values is sorted and offset by its block number, so one `searchsorted` over the whole
    level answers every query's block at once.
    """
    n = len(values)
    size = 1 << max(0, (n - 1).bit_length())
    big = n + 2
    padded = np.full(size, big - 1, dtype=np.int64)
    padded[:n] = values
    lengths = ends + 1
    counts = np.zeros(len(ends), dtype=np.int64)
    level = 0
    while (1 << level) <= size:
        width = 1 << level
        hit = (lengths >> level) & 1 == 1
        if hit.any():
            blocks = np.sort(padded.reshape(-1, width), axis=1)
            keyed = (blocks + (np.arange(size // width, dtype=np.int64) * big)[:, None]).ravel()
            start = (lengths[hit] >> (level + 1)) << (level + 1)
            block = start >> level
            queries = block * big + bounds[hit]
            order = np.argsort(queries, kind="stable")  # sorted queries make searchsorted cache-friendly
            found = np.empty_like(queries)
            found[order] = np.searchsorted(keyed, queries[order], side="left")
            counts[hit] += found - block * width
        level += 1
    return counts


def stack_distances_array(
    keys: Sequence[Hashable], times: Sequence[float] | None = None
) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.float64]]:
    """`stack_distances` vectorised with numpy (O(n log² n) in sorts), for million-access traces.

    With prev(i) the previous access to the same key and next(j) the next one, the distinct keys
    between prev(i) and i are the positions j in between whose next access comes after i:
    d(i) = (i - prev(i) - 1) - #{j > prev(i) : next(j) < i}, and that count is two prefix counts.
    """
    codes = _codes(keys)
    n = len(codes)
    idx = np.arange(n, dtype=np.int64)
    distances = np.full(n, INFINITE, dtype=np.int64)
    reuse = np.full(n, math.inf)
    if n == 0:
        return distances, reuse
    order = np.lexsort((idx, codes))
    same = codes[order][1:] == codes[order][:-1]
    prev = np.full(n, -1, dtype=np.int64)
    prev[order[1:][same]] = order[:-1][same]
    nxt = np.full(n, n, dtype=np.int64)
    nxt[order[:-1][same]] = order[1:][same]
    has = prev >= 0
    a, b = prev[has], idx[has]
    below = np.searchsorted(np.sort(nxt), b, side="left")  # #{j : next(j) < i}
    inside = below - _dominance(nxt, a, b)  # minus those with j <= prev(i)
    distances[has] = (b - a - 1) - inside
    if times is not None:
        t = np.asarray(times, dtype=np.float64)
        if len(t) != n:
            raise ValueError("keys and times must have the same length")
        reuse[has] = t[b] - t[a]
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
    distances, reuse = stack_distances_array(keys, times)
    top = max(sizes, default=0)
    counted = (distances != INFINITE) & (distances < top)
    ttls = _per_access(ttl_seconds, len(keys))
    if ttls is not None:
        counted &= reuse <= np.asarray(ttls, dtype=np.float64)
    # hits(C) = accesses with distance < C: a running sum of the distance histogram.
    histogram = np.bincount(distances[counted], minlength=top)
    cumulative = np.concatenate(([0], np.cumsum(histogram)))
    n = len(keys)
    rates = tuple(float(cumulative[s_]) / n if n else 0.0 for s_ in sizes)
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
