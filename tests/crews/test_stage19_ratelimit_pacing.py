"""Rate-limit probes under a stalled event loop: no catch-up burst, the verdict still right, and the tail rate
each probe reports is the one the target counted (loopback limiters, a few seconds per probe)."""

from __future__ import annotations

import asyncio
import itertools
import json
import math
import time
from collections.abc import Callable

import aiohttp
import pytest

from tests.crews.stage19_targets import FixedWindow, Target, TokenBucket, ledger, notes
from venturegate.crews.stage19.ratelimit import PACE_SLACK, Probe, RateLimitDiscovery, _probe, next_send

# -- the pacing rule, on a simulated clock ----------------------------------------------------------------


def test_on_time_and_slightly_late_sends_keep_the_schedule() -> None:
    assert next_send(due=1.0, now=0.97, last=0.9, interval=0.1) == (1.0, 0.0)  # sleep until the slot
    assert next_send(due=1.0, now=1.04, last=0.9, interval=0.1) == (1.04, 0.0)  # late by < half an interval


def test_a_send_late_by_more_than_the_slack_rebases_the_schedule() -> None:
    # Out now, not with a catch-up; the schedule moves so that the next slot is half an interval away.
    at, slip = next_send(due=1.0, now=1.2, last=0.9, interval=0.1)
    assert at == 1.2 and slip == pytest.approx(0.15)
    # The previous send itself started late (a stall between scheduling and starting it): half an interval on.
    at, slip = next_send(due=1.0, now=1.19, last=1.18, interval=0.1)
    assert at == pytest.approx(1.23) and slip == pytest.approx(0.18)


def test_no_send_starts_closer_than_the_slack_allows_to_the_previous_one() -> None:
    # The previous send (slot 0.9) started 0.04 late: this one keeps its slot, 0.06 after it.
    assert next_send(due=1.0, now=0.95, last=0.94, interval=0.1) == (1.0, 0.0)
    # It started 0.08 late: this one waits until half an interval after it, within the slack (no re-base).
    at, slip = next_send(due=1.0, now=0.98, last=0.98, interval=0.1)
    assert at == pytest.approx(1.03) and slip == 0.0


def test_infinite_slack_is_the_open_loop_the_drain_keeps() -> None:
    assert next_send(due=1.0, now=1.5, last=0.9, interval=0.1, slack=math.inf) == (1.5, 0.0)


def _simulate(n: int, interval: float, stalls: dict[int, float], slack: float) -> tuple[list[float], int]:
    """Start times of `n` sends paced by `next_send`, the loop stalling `stalls[k]` s before send k starts."""
    clock, shift, last, rebased = 0.0, 0.0, None, 0
    starts = []
    for k in range(n):
        due = k * interval + shift
        at, slip = next_send(due, clock, last, interval, slack)
        if slip:
            shift, rebased = shift + slip, rebased + 1
        clock = max(clock, at) + stalls.get(k, 0.0)
        last = clock
        starts.append(clock)
    return starts, rebased


def test_a_stall_leaves_a_gap_where_the_open_loop_sends_a_burst() -> None:
    interval, stalls = 0.05, {10: 0.08, 20: 0.3, 21: 0.02}
    paced, rebased = _simulate(40, interval, stalls, PACE_SLACK)
    gaps = [b - a for a, b in itertools.pairwise(paced)]
    assert min(gaps) >= (1 - PACE_SLACK) * interval - 1e-9 and rebased == 2
    assert all(g == pytest.approx(interval) for g in gaps[23:])  # the spacing is back two sends after a stall
    assert 39 * interval < paced[-1] < 39 * interval + 0.08 + 0.3 + 0.02  # part of the delay is written off
    open_loop, _ = _simulate(40, interval, stalls, math.inf)
    assert sum(1 for a, b in itertools.pairwise(open_loop) if b - a < interval / 3) >= 5


# -- what a probe reports ------------------------------------------------------------------------------------


def _made(rate: float, tail_sent_rate: float, tail_429: int = 0) -> Probe:
    return Probe(rate, 2.0, 60, 20, tail_429, tail_sent_rate, 0, tail_sent_rate=tail_sent_rate, rebased=1)


def test_a_clean_probe_that_fell_short_counts_at_the_rate_it_sent() -> None:
    assert _made(20.0, 19.9).clean_rate == 20.0 and not _made(20.0, 19.9).off_rate  # within PACE_TOLERANCE
    short = _made(20.0, 17.5)
    assert short.off_rate and short.clean_rate == 17.5 and not short.limited
    empty = Probe(1.0, 1.0, 3, 0, 0, 0.0, 0)  # 1 req/s for 1 s: no request reached the tail
    assert not empty.off_rate and empty.clean_rate == 1.0


def test_the_discovery_dict_carries_the_pacing_figures() -> None:
    found = RateLimitDiscovery("http://127.0.0.1:1/x", 19.5, (19.5, 20.1), 100.0, probes=[_made(20.0, 17.5)])
    doc = json.loads(json.dumps(found.as_dict()))
    (probe,) = doc["probes"]
    assert probe["tail_sent_rate"] == 17.5 and probe["rebased"] == 1 and probe["off_rate"] is True
    assert "slip_s" in probe and "sent_at" not in probe and doc["off_rate_probes"] == 1


def test_the_limits_report_names_the_discoveries_whose_probes_fell_short() -> None:
    from venturegate.crews.stage19.performance import PerfResult, limits_markdown

    short = RateLimitDiscovery("http://127.0.0.1:1/x", 19.5, (19.5, 20.1), 100.0, probes=[_made(20.0, 17.5)])
    even = RateLimitDiscovery("http://127.0.0.1:1/y", 49.0, (49.0, 50.2), 100.0, probes=[_made(50.0, 50.0)])
    results = [
        PerfResult("ledger", "/x", [], None, None, short, 20.0),
        PerfResult("notes", "/y", [], None, None, even, 50.0),
    ]
    assert [r.limits["discovery"]["off_rate_probes"] for r in results] == [1, 0]
    text = limits_markdown(results)
    assert "sent slower than their rate" in text and "ledger 1" in text and "notes" not in text.split("sent slower")[1]
    assert "sent slower" not in limits_markdown(results[1:])


# -- live probes on loopback, the client's loop stalled mid-probe ----------------------------------------------


class CountedWindow(FixedWindow):
    """A fixed window that keeps each request's arrival time and verdict."""

    def __init__(self, limit: int) -> None:
        super().__init__(limit)
        self.arrivals: list[tuple[float, bool]] = []

    def take(self) -> tuple[bool, dict[str, str]]:
        ok, headers = super().take()
        self.arrivals.append((time.monotonic(), ok))
        return ok, headers


class CountedBucket(TokenBucket):
    """A token bucket that keeps each request's arrival time and verdict."""

    def __init__(self, rate: float, burst: int) -> None:
        super().__init__(rate, burst)
        self.arrivals: list[tuple[float, bool]] = []

    def take(self) -> tuple[bool, dict[str, str]]:
        ok, headers = super().take()
        self.arrivals.append((time.monotonic(), ok))
        return ok, headers


def _window() -> tuple[Target, str, CountedWindow]:
    target, limiter = ledger(limit=20), CountedWindow(20)
    target.limiter = limiter
    return target, "/health", limiter


def _bucket() -> tuple[Target, str, CountedBucket]:
    target, limiter = notes(rate=50.0), CountedBucket(50.0, burst=4)
    target.limiter = limiter
    return target, "/notes", limiter


async def _stalled_probe(url: str, rate: float, drain_rate: float, stall: float, at: list[float]) -> Probe:
    loop = asyncio.get_running_loop()
    timers = [loop.call_later(t, time.sleep, stall) for t in at]  # a slow callback blocks the whole loop
    connector = aiohttp.TCPConnector(limit=200)
    try:
        async with aiohttp.ClientSession(connector=connector, timeout=aiohttp.ClientTimeout(total=5)) as session:
            return await _probe(session, url, {}, rate, 2.0, drain_rate, 0.5, {}, [])
    finally:
        for timer in timers:
            timer.cancel()


STALLS = [0.9, 2.0, 2.4]
"""Loop stalls, s after the probe starts: one in the unjudged first half, two in the judged tail (1.5-2.5 s,
pushed later by the first stall's re-base)."""


@pytest.mark.parametrize(
    ("make", "rate", "stall", "limited"),
    [
        (_window, 16.0, 0.2, False),
        (_window, 40.0, 0.2, True),
        (_bucket, 35.0, 0.15, False),  # the old catch-up burst got 429s here
        (_bucket, 75.0, 0.15, True),
    ],
    ids=["window-20-at-16", "window-20-at-40", "bucket-50-burst-4-at-35", "bucket-50-burst-4-at-75"],
)
def test_a_stalled_loop_sends_no_burst_and_the_verdict_holds(
    make: Callable[[], tuple[Target, str, CountedWindow | CountedBucket]], rate: float, stall: float, limited: bool
) -> None:
    target, path, limiter = make()
    with target.running() as served:
        got = asyncio.run(_stalled_probe(served.base_url + path, rate, 2 * (target.true_limit or 0), stall, STALLS))
    interval = 1 / rate
    measured = got.sent_at[got.drained :]
    gaps = [b - a for a, b in itertools.pairwise(measured)]
    # Every stall made a send late by more than 2 intervals: each re-based the schedule ...
    assert got.rebased >= len(STALLS) and max(gaps) >= stall, (got, gaps)
    # ... and after none of them did two measured sends go out closer than a third of the interval.
    assert min(gaps) >= interval / 3, (got, [round(g / interval, 2) for g in gaps])
    assert got.limited is limited, got
    # The two tail stalls slowed the tail, and the probe says so; a clean verdict counts at what was sent.
    assert got.off_rate and got.tail_sent_rate < 0.95 * rate and got.clean_rate == got.tail_sent_rate, got
    _assert_counted_like_the_target(got, limiter.arrivals, rate)


def test_without_a_stall_the_tail_runs_at_its_nominal_rate() -> None:
    target, path, limiter = _window()
    with target.running() as served:
        got = asyncio.run(_stalled_probe(served.base_url + path, 16.0, 40.0, 0.0, []))
    assert abs(got.tail_sent_rate - 16.0) <= 0.03 * 16.0 and not got.limited, got
    _assert_counted_like_the_target(got, limiter.arrivals, 16.0)


def _assert_counted_like_the_target(got: Probe, arrivals: list[tuple[float, bool]], rate: float) -> None:
    """The target saw every request, and the tail at the rate (and with the 429s) the probe reports."""
    assert len(arrivals) == got.sent and got.errors == 0, got
    tail = sorted(arrivals)[-got.tail :]
    counted_rate = len(tail) / (tail[-1][0] - tail[0][0] + 1 / rate)
    assert abs(counted_rate - got.tail_sent_rate) <= 0.05 * got.tail_sent_rate, (counted_rate, got)
    refused = sum(1 for _, ok in tail if not ok)
    assert abs(refused - got.tail_429) <= 2 and (refused == 0) == (got.tail_429 == 0), (refused, got)
