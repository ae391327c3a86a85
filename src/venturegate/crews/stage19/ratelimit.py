"""Rate-limit discovery (19.2): ramp, then bisect between the last clean rate and the first limited one, then
confirm with a sustained hold; `Retry-After`, `RateLimit-*` and `X-RateLimit-*` headers are read on the way.

Each probe sends at a fixed rate (open loop) after a short *drain* at a higher rate, which empties a
token bucket's burst allowance or fills the current fixed window, and judges only the probe's tail:
so a burst allowance cannot make a rate above the limit look clean, and a window's edge cannot make
one below it look limited. A probe is *limited* when more than 1 % of its tail is answered 429.
The drain (at twice the lowest limited rate, half a second) also makes waiting for the limiter to
recover between probes unnecessary: every probe starts from an exhausted limiter. A limiter that
keeps blocking for its `Retry-After` after any excess (a penalty box) shows as limited at every
rate; its `Retry-After` is reported.
The result is the highest rate confirmed clean by the hold, with the bracket `[clean, limited]`
it was bisected to; declared limits from headers are reported beside it, never used in its place.

Pacing (`next_send`): a late event loop never catches up in a burst. No measured send starts less than
half an interval after the previous one actually started, and a send left more than half an interval
behind its slot re-bases the rest of the schedule to half an interval behind: the rest of the delay is
written off (the probe runs longer), so a stall leaves a gap followed by at most one early send, never
a bunch the nominal rate did not ask for. The drain still catches up: it is meant to exceed the limit,
and its bursts fall before the judged tail. Each probe records when
its requests actually started, the rate its judged tail really ran at (`tail_sent_rate`) and how many
times it was re-based.
A probe whose tail ran more than `PACE_TOLERANCE` below its nominal rate is judged at what it sent: a
limited verdict still bounds the limit from above at the nominal rate (pacing never sent faster), but a
clean one only shows the achieved rate clean (`Probe.clean_rate`). Such a clean probe is run once more
(a stall is rarely repeated) and only the repeat is judged: at its nominal rate when it kept it, else at
its achieved rate, so bisection and the hold never raise the clean side above a rate really sent (when
that does not move the bracket, bisection tries the same rate again). `RateLimitDiscovery.off_rate_probes`
counts the probes that fell short.
"""

from __future__ import annotations

import asyncio
import math
import re
import time
from dataclasses import asdict, dataclass, field
from typing import Any

import aiohttp

from venturegate.crews.stage19.loadgen import ensure_loopback, parse_retry_after

LIMITED_SHARE = 0.01
"""Share of a probe's tail answered 429 above which the probe counts as limited."""
PACE_SLACK = 0.5
"""How late (in intervals) a send may go out before the rest of its probe's schedule is re-based."""
PACE_TOLERANCE = 0.01
"""Relative shortfall of a tail's achieved send rate beyond which the probe is judged at that rate."""
HEADER_NAMES = (
    "ratelimit",
    "ratelimit-limit",
    "ratelimit-policy",
    "ratelimit-remaining",
    "ratelimit-reset",
    "x-ratelimit-limit",
    "x-ratelimit-remaining",
    "x-ratelimit-reset",
    "retry-after",
)


@dataclass(frozen=True)
class Probe:
    """One fixed-rate probe and what its tail showed."""

    rate: float
    seconds: float
    sent: int
    tail: int
    tail_429: int
    tail_accepted_rate: float
    """Non-429 answers per second of the tail's actual length (the limiter's steady rate when it was limited)."""
    errors: int
    """Answers that were neither 2xx/3xx nor 429 (any part of the probe), and transport failures."""
    tail_sent_rate: float = 0.0
    """Requests per second the tail was actually sent at (from the recorded send times)."""
    rebased: int = 0
    """Times a late send re-based the rest of the schedule (0: the schedule never slipped)."""
    slip_s: float = 0.0
    """Seconds of delay the re-bases wrote off (the probe ran that much longer)."""
    sent_at: tuple[float, ...] = field(default=(), repr=False, compare=False)
    """When each request (drain first, in schedule order) actually started, in seconds from the planned start."""
    drained: int = 0
    """How many of `sent_at` belong to the drain."""

    @property
    def off_rate(self) -> bool:
        """Whether the tail ran more than `PACE_TOLERANCE` below the nominal rate (an empty tail sent nothing late)."""
        return self.tail > 0 and self.tail_sent_rate < self.rate * (1 - PACE_TOLERANCE)

    @property
    def clean_rate(self) -> float:
        """The rate a clean verdict shows clean: the nominal one, or the achieved one when the tail fell short."""
        return self.tail_sent_rate if self.off_rate else self.rate

    @property
    def limited(self) -> bool:
        """Whether more than 1 % of the tail (and at least one request) was answered 429.

        The 1 % keeps a send-time jitter against a small burst allowance (a few requests bunched together
        at a rate under the limit) from counting as the limit; any rate 1.5 % over it rejects more.
        """
        return self.tail_429 > LIMITED_SHARE * self.tail


@dataclass
class RateLimitDiscovery:
    """What discovery found for one endpoint."""

    url: str
    limit_req_sec: float | None
    """Highest rate confirmed clean by the hold (None: no limit up to `max_rate`)."""
    bracket: tuple[float, float] | None
    """(last clean, first limited) rates after bisection."""
    max_rate: float
    headers: dict[str, str] = field(default_factory=dict)
    """Rate-limit headers as the provider sent them (the first answer that carried them)."""
    header_limit_req_sec: float | None = None
    """The per-second limit the headers declare, when they declare one."""
    retry_after_s: float | None = None
    probes: list[Probe] = field(default_factory=list)
    held: bool = False
    """The hold at `limit_req_sec` stayed clean."""
    seconds: float = 0.0

    @property
    def off_rate_probes(self) -> int:
        """Probes whose tail ran short of its nominal rate (judged at the achieved rate when clean)."""
        return sum(1 for p in self.probes if p.off_rate)

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready; each probe's per-request send times are left out (thousands per discovery)."""
        out = asdict(self)
        out["probes"] = [
            {**{k: v for k, v in asdict(p).items() if k != "sent_at"}, "limited": p.limited, "off_rate": p.off_rate}
            for p in self.probes
        ]
        out["off_rate_probes"] = self.off_rate_probes
        return out


def header_limit(headers: dict[str, str]) -> float | None:
    """Requests per second a `RateLimit-Policy` (`100;w=60`), `RateLimit` or `(X-)RateLimit-Limit` header declares.

    A bare `X-RateLimit-Limit` carries no window; it is read as per second only when the reset
    header counts in seconds to a window of at most a minute and is smaller than the limit.
    """
    low = {k.lower(): v for k, v in headers.items()}
    policy = low.get("ratelimit-policy")
    if policy:
        m = re.match(r"\s*(\d+(?:\.\d+)?)\s*(?:;.*?\bw=(\d+(?:\.\d+)?))?", policy)
        if m:
            return float(m.group(1)) / float(m.group(2) or 1)
    combined = low.get("ratelimit")
    if combined:
        limit = re.search(r"limit=(\d+(?:\.\d+)?)", combined)
        window = re.search(r"w=(\d+(?:\.\d+)?)", combined)
        if limit:
            return float(limit.group(1)) / float(window.group(1) if window else 1)
    for name in ("ratelimit-limit", "x-ratelimit-limit"):
        value = low.get(name, "").split(",")[0].strip()
        if re.fullmatch(r"\d+(?:\.\d+)?", value):
            return float(value)
    return None


def next_send(
    due: float, now: float, last: float | None, interval: float, slack: float = PACE_SLACK
) -> tuple[float, float]:
    """When to start the send whose slot is `due`, and how far that moves the rest of the schedule.

    `last` is when the previous send actually started, `interval` the nominal gap to it. A send goes out
    at its slot, or now when late, but never less than `1 - slack` intervals after the previous one; when
    that leaves it more than `slack` intervals behind its slot, the schedule is re-based so that it is just
    `slack` behind: the rest of the delay is written off, never caught up. An infinite `slack` is the
    plain open loop (overdue sends go out at once).
    """
    floor = due if last is None else last + (1 - slack) * interval
    at = max(due, now, floor)
    return at, max(0.0, at - due - slack * interval)


async def _probe(
    session: aiohttp.ClientSession,
    url: str,
    headers: dict[str, str],
    rate: float,
    seconds: float,
    drain_rate: float,
    drain_seconds: float,
    seen: dict[str, str],
    waits: list[float],
) -> Probe:
    loop = asyncio.get_running_loop()
    plan = [(i / drain_rate, False) for i in range(math.ceil(drain_rate * drain_seconds))]
    plan += [(drain_seconds + i / rate, True) for i in range(math.ceil(rate * seconds))]
    tail_from = drain_seconds + seconds / 2  # the first half lets a window edge, a backlog or a refill settle
    statuses = [""] * len(plan)
    sent_at: list[float] = []
    start = loop.time() + 0.005

    async def one(index: int, started: asyncio.Future[float]) -> None:
        started.set_result(loop.time())
        try:
            async with session.get(url, headers=headers, allow_redirects=False) as resp:
                await resp.read()
                status = str(resp.status)
                if not seen:
                    found = {k: v for k, v in resp.headers.items() if k.lower() in HEADER_NAMES}
                    if any(k.lower() != "retry-after" for k in found):
                        seen.update(found)
                if resp.status == 429:
                    wait = parse_retry_after(resp.headers.get("Retry-After"))
                    if wait is not None:
                        waits.append(wait)
        except (TimeoutError, aiohttp.ClientError, OSError):
            status = "failed"
        statuses[index] = status

    tasks = []
    shift, rebased, last = 0.0, 0, None
    for index, (offset, measured) in enumerate(plan):
        due = start + offset + shift
        gap = offset - plan[index - 1][0] if index else 1 / drain_rate
        # The drain may catch up (a burst only helps it exhaust the limiter); the measured sends are paced.
        at, slip = next_send(due, loop.time(), last, gap, PACE_SLACK if measured else math.inf)
        if slip:
            shift, rebased = shift + slip, rebased + 1
        if at > loop.time():
            await asyncio.sleep(at - loop.time())
        # The send time is taken when the request's task starts, and the next send is paced from it: a
        # stall between scheduling a task and its start would otherwise bunch it with the next one.
        started: asyncio.Future[float] = loop.create_future()
        tasks.append(loop.create_task(one(index, started)))
        last = await started
        sent_at.append(last - start)
    await asyncio.gather(*tasks)
    judged = [i for i, (off, m) in enumerate(plan) if m and off >= tail_from]
    # A tail of n sends covers n intervals: from its first send to one interval after its last.
    tail_seconds = sent_at[judged[-1]] - sent_at[judged[0]] + 1 / rate if judged else 0.0
    tail = [statuses[i] for i in judged]
    accepted = sum(1 for s in tail if s != "429" and s != "failed")
    errors = sum(1 for s in statuses if s == "failed" or (s != "429" and not s.startswith(("2", "3"))))
    return Probe(
        rate=round(rate, 3),
        seconds=seconds,
        sent=len(statuses),
        tail=len(tail),
        tail_429=sum(1 for s in tail if s == "429"),
        tail_accepted_rate=round(accepted / tail_seconds, 3) if tail_seconds > 0 else 0.0,
        errors=errors,
        tail_sent_rate=round(len(tail) / tail_seconds, 3) if tail_seconds > 0 else 0.0,
        rebased=rebased,
        slip_s=round(shift, 4),
        sent_at=tuple(round(t, 5) for t in sent_at),
        drained=sum(1 for _, m in plan if not m),
    )


async def discover(
    url: str,
    *,
    headers: dict[str, str] | None = None,
    start_rate: float = 10.0,
    max_rate: float = 400.0,
    probe_seconds: float = 1.5,
    hold_seconds: float = 4.0,
    tolerance: float = 0.03,
    cooldown: float = 0.2,
    timeout: float = 5.0,
    max_probes: int = 16,
) -> RateLimitDiscovery:
    """Find the rate at which `url` starts answering 429, within `tolerance` (relative), bounded by `max_rate`."""
    ensure_loopback(url)
    began = time.monotonic()
    found = RateLimitDiscovery(url, None, None, max_rate)
    seen: dict[str, str] = {}
    waits: list[float] = []
    connector = aiohttp.TCPConnector(limit=200)
    client_timeout = aiohttp.ClientTimeout(total=timeout)
    async with aiohttp.ClientSession(connector=connector, timeout=client_timeout) as session:

        async def probe(rate: float, seconds: float, drain: float) -> Probe:
            if found.probes:
                await asyncio.sleep(cooldown)
            # The judged tail (the probe's second half) must hold a whole limiter window: a window is at
            # least as long as the Retry-After the limiter asks for (capped at 5 s).
            # Without a Retry-After, a limiter that has refused something is taken to count per second.
            refused = any(p.tail_429 for p in found.probes)
            window = min(5.0, max(waits, default=1.0 if refused else 0.0))
            for _ in range(2):  # a clean tail that fell short of the rate is run once more (one stall, one repeat)
                got = await _probe(session, url, headers or {}, rate, max(seconds, 2 * window), drain, 0.5, seen, waits)
                found.probes.append(got)
                if got.limited or not got.off_rate:
                    break
            return got

        # 1. Ramp: double the rate until a probe is limited; a limit the headers declare is the first guess.
        async with session.get(url, headers=headers or {}, allow_redirects=False) as resp:
            await resp.read()
            seen.update({k: v for k, v in resp.headers.items() if k.lower() in HEADER_NAMES})
        hint = header_limit(seen)
        lo, hi = 0.0, 0.0
        rate = min(max_rate, hint * 0.9) if hint is not None and hint * 0.9 > start_rate else start_rate
        first = await probe(rate, probe_seconds, rate)
        if first.limited:
            hi = rate
        elif hint is not None and rate < hint:
            lo, rate = first.clean_rate, min(max_rate, hint * 1.1)
        else:
            lo, rate = first.clean_rate, min(max_rate, rate * 2)
        while not hi and len(found.probes) < max_probes:
            got = await probe(rate, probe_seconds, rate)
            if got.limited:
                hi = rate
                break
            lo = max(lo, got.clean_rate)
            if rate >= max_rate:
                break
            rate = min(max_rate, rate * 2)
        if not hi:
            found.seconds = round(time.monotonic() - began, 3)
            found.header_limit_req_sec = hint
            found.headers = dict(seen)
            return found
        # 2. Estimate: above the limit, a probe's tail runs at the limiter's steady rate (measured with a probe
        # long enough for the window the 429s revealed); the bracket is narrowed around it, then bisected.
        estimate = (await probe(hi, probe_seconds, 2 * hi)).tail_accepted_rate
        if 0 < estimate <= lo:  # a ramp probe judged clean before the window was known was too short to tell
            lo = 0.0
        for guess in (estimate * (1 - tolerance / 2), estimate * (1 + tolerance / 2), estimate * (1 + 2 * tolerance)):
            if guess > lo * (1 + tolerance) and hi - lo <= tolerance * hi:
                break
            if lo < guess < hi and len(found.probes) < max_probes:
                got = await probe(guess, probe_seconds, 2 * hi)
                if got.limited:
                    hi = guess
                else:
                    lo = max(lo, got.clean_rate)
        while hi - lo > tolerance * hi and len(found.probes) < max_probes:
            mid = (lo + hi) / 2
            got = await probe(mid, probe_seconds, 2 * hi)
            if got.limited:  # pacing never sent faster than `mid`, so the limit lies below it
                hi = mid
            else:  # only the rate really sent is shown clean; a short tail leaves `lo` and repeats `mid`
                lo = max(lo, got.clean_rate)
        # 3. Hold: the clean rate must stay clean for longer. When it does not, the hold's own tail says where
        # the steady limit is: step below it (and at least by the tolerance) and hold again.
        while lo > 0 and len(found.probes) < max_probes + 3:
            held = await probe(lo, hold_seconds, 2 * hi)
            if not held.limited:
                found.held, lo = True, held.clean_rate
                break
            hi, lo = lo, min(lo * (1 - tolerance), held.tail_accepted_rate * (1 - tolerance / 2))
        found.limit_req_sec = round(lo, 3) if found.held else None
        found.bracket = (round(lo, 3), round(hi, 3))
    found.headers = dict(seen)
    found.header_limit_req_sec = header_limit(seen) if seen else None
    found.retry_after_s = max(waits) if waits else None
    found.seconds = round(time.monotonic() - began, 3)
    return found


def discover_sync(url: str, **kwargs: Any) -> RateLimitDiscovery:
    """`discover` on a fresh event loop."""
    return asyncio.run(discover(url, **kwargs))
