"""Budget allocation across marketing channels, pure: the studio's proven / growth / experimental split as the
prior, then Thompson sampling from each channel's observed spend → conversions (Gamma-Poisson posteriors).

Each posterior draw of the channels' conversions per dollar is turned into the best allocation under the tier
ranges and the channels' daily caps (a greedy fill, optimal for a linear response); the recommended split is the
mean of those allocations, blended with the prior split in proportion to how much evidence there is.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

TIERS = ("proven", "growth", "experimental")
TIER_RANGES = {"proven": (50.0, 80.0), "growth": (10.0, 30.0), "experimental": (5.0, 20.0)}
"""Percent of the budget each tier may take (stage 17's `budget_allocation` ranges)."""


class AllocationError(ValueError):
    """The split, channels or caps cannot give a valid allocation."""


@dataclass(frozen=True)
class Channel:
    """A channel, its tier and what one conversion is worth."""

    name: str
    tier: str
    value_per_conversion: float = 100.0
    monthly_cap_usd: float | None = None

    def __post_init__(self) -> None:
        if self.tier not in TIERS:
            raise AllocationError(f"channel {self.name}: tier '{self.tier}' is not one of {', '.join(TIERS)}")
        if self.value_per_conversion <= 0:
            raise AllocationError(f"channel {self.name}: value per conversion must be positive")


@dataclass(frozen=True)
class Observed:
    """What a channel has spent and returned so far."""

    spend_usd: float = 0.0
    conversions: int = 0
    leads: int = 0


@dataclass(frozen=True)
class ChannelPlan:
    """One channel's share with its expected return."""

    channel: str
    tier: str
    share: float
    budget_usd: float
    expected_roas: float
    roas_low: float
    roas_high: float
    """90% credible interval of ROAS."""
    prob_best: float

    def as_dict(self) -> dict[str, object]:
        return {
            "channel": self.channel,
            "tier": self.tier,
            "share_pct": round(100 * self.share, 2),
            "budget_usd": round(self.budget_usd, 2),
            "expected_roas": round(self.expected_roas, 3),
            "roas_ci90": [round(self.roas_low, 3), round(self.roas_high, 3)],
            "prob_best": round(self.prob_best, 4),
        }


@dataclass(frozen=True)
class Allocation:
    """The recommended split of the monthly budget."""

    total_usd: float
    channels: tuple[ChannelPlan, ...]
    tiers: dict[str, float]
    """Percent per tier (adds up to 100)."""
    evidence_weight: float
    """How much the data (vs the prior split) decided: conversions / (conversions + pseudo-conversions)."""

    def shares(self) -> dict[str, float]:
        return {c.channel: c.share for c in self.channels}


def check_split(split: Sequence[float]) -> dict[str, float]:
    """The proven / growth / experimental split as a dict, or an `AllocationError` saying what is wrong."""
    if len(split) != 3:
        raise AllocationError(f"budget split {list(split)} must have 3 parts: proven, growth, experimental")
    total = sum(split)
    if abs(total - 100) > 1e-6:
        raise AllocationError(f"budget split {list(split)} adds up to {total:g}%, not 100%")
    out = dict(zip(TIERS, (float(x) for x in split), strict=True))
    for tier, value in out.items():
        low, high = TIER_RANGES[tier]
        if not low <= value <= high:
            raise AllocationError(f"budget split: {tier} {value:g}% is outside {low:g}-{high:g}%")
    return out


def _caps(channels: Sequence[Channel], total: float) -> npt.NDArray[np.float64]:
    return np.array([min(1.0, c.monthly_cap_usd / total) if c.monthly_cap_usd is not None else 1.0 for c in channels])


def prior_allocation(channels: Sequence[Channel], split: Mapping[str, float], total: float) -> npt.NDArray[np.float64]:
    """The prior: each tier's share split equally among its channels (a tier with no channel passes its share on)."""
    shares = np.zeros(len(channels))
    present = [t for t in TIERS if any(c.tier == t for c in channels)]
    if not present:
        raise AllocationError("no channel to allocate budget to")
    missing = sum(split[t] for t in TIERS if t not in present)
    for t in present:
        idx = [i for i, c in enumerate(channels) if c.tier == t]
        tier_share = (split[t] + missing * split[t] / sum(split[p] for p in present)) / 100
        for i in idx:
            shares[i] = tier_share / len(idx)
    return _respect_caps(shares, channels, total)


def _respect_caps(
    shares: npt.NDArray[np.float64], channels: Sequence[Channel], total: float
) -> npt.NDArray[np.float64]:
    caps = _caps(channels, total)
    out = np.minimum(shares, caps)
    spare = 1.0 - out.sum()
    for _ in range(len(channels)):
        room = caps - out
        if spare <= 1e-12 or room.sum() <= 1e-12:
            break
        add = np.minimum(room, spare * room / room.sum())
        out += add
        spare -= add.sum()
    return out


def best_allocation(
    rates: npt.NDArray[np.float64], channels: Sequence[Channel], total: float, bounds: Mapping[str, tuple[float, float]]
) -> npt.NDArray[np.float64]:
    """The allocation maximising Σ rate·spend under per-tier bounds (percent) and channel caps (greedy fill)."""
    caps = _caps(channels, total)
    shares = np.zeros(len(channels))
    order = sorted(range(len(channels)), key=lambda i: -rates[i])
    tier_of = [c.tier for c in channels]
    used = dict.fromkeys(TIERS, 0.0)
    present = {t for t in tier_of}
    # every present tier first gets its minimum, from its best channels
    for t in TIERS:
        if t not in present:
            continue
        need = bounds[t][0] / 100
        for i in order:
            if tier_of[i] == t and need > 1e-12:
                take = min(need, caps[i] - shares[i])
                shares[i] += take
                need -= take
        used[t] = bounds[t][0] / 100 - need
    left = 1.0 - shares.sum()
    for i in order:
        if left <= 1e-12:
            break
        t = tier_of[i]
        take = min(left, caps[i] - shares[i], bounds[t][1] / 100 - used[t])
        if take > 0:
            shares[i] += take
            used[t] += take
            left -= take
    if left > 1e-9:  # tier maxima or caps leave money over: spread it on the remaining room, best first
        for i in order:
            take = min(left, caps[i] - shares[i])
            if take > 0:
                shares[i] += take
                left -= take
    return shares


def allocate(
    channels: Sequence[Channel],
    observed: Mapping[str, Observed],
    split: Sequence[float],
    total_usd: float,
    *,
    seed: int = 0,
    draws: int = 400,
    prior_conversions: float = 50.0,
    prior_rate: float | None = None,
) -> Allocation:
    """Recommend a monthly split: Thompson sampling over Gamma posteriors of conversions per dollar.

    `prior_rate` (conversions per dollar) centres every channel's prior; by default the pooled observed rate, or
    1 per $100 when nothing was observed. The prior is weak (one pseudo-conversion), so the channels' own data
    decide quickly; the blend with the prior split uses `prior_conversions` pseudo-conversions.
    """
    if not channels:
        raise AllocationError("no channel to allocate budget to")
    names = [c.name for c in channels]
    if len(set(names)) != len(names):
        raise AllocationError(f"channels listed twice: {sorted({n for n in names if names.count(n) > 1})}")
    unknown = sorted(set(observed) - set(names))
    if unknown:
        raise AllocationError(f"results for channels not in the plan: {', '.join(unknown)}")
    if total_usd <= 0:
        raise AllocationError(f"total budget {total_usd} must be positive")
    tiers = check_split(split)
    caps = _caps(channels, total_usd)
    if caps.sum() < 1 - 1e-9:
        raise AllocationError(f"channel caps add up to {caps.sum() * total_usd:.0f} USD, under the budget {total_usd}")
    obs = [observed.get(c.name, Observed()) for c in channels]
    spend = np.array([o.spend_usd for o in obs])
    conv = np.array([o.conversions for o in obs], dtype=float)
    if (spend < 0).any() or (conv < 0).any():
        raise AllocationError("spend and conversions must not be negative")
    rate0 = prior_rate if prior_rate is not None else (conv.sum() / spend.sum() if conv.sum() > 0 else 0.01)
    a = 1.0 + conv
    b = 1.0 / rate0 + spend
    values = np.array([c.value_per_conversion for c in channels])
    rng = np.random.default_rng(seed)
    sampled = rng.gamma(a, 1.0 / b, size=(draws, len(channels)))
    # the tier ranges bound the bandit: it may move budget between tiers only within them
    bounds = dict(TIER_RANGES)
    ts = np.mean([best_allocation(s * values, channels, total_usd, bounds) for s in sampled], axis=0)
    prob_best = np.bincount(np.argmax(sampled * values, axis=1), minlength=len(channels)) / draws
    prior = prior_allocation(channels, tiers, total_usd)
    weight = float(conv.sum() / (conv.sum() + prior_conversions))
    shares = _respect_caps((1 - weight) * prior + weight * ts, channels, total_usd)
    plans = []
    for i, ch in enumerate(channels):
        mean = a[i] / b[i] * ch.value_per_conversion
        low = float(np.quantile(sampled[:, i], 0.05)) * ch.value_per_conversion
        high = float(np.quantile(sampled[:, i], 0.95)) * ch.value_per_conversion
        plans.append(
            ChannelPlan(ch.name, ch.tier, float(shares[i]), float(shares[i] * total_usd), mean, low, high, prob_best[i])
        )
    tier_pct = {t: round(100 * float(sum(shares[i] for i, c in enumerate(channels) if c.tier == t)), 2) for t in TIERS}
    drift = 100 - sum(tier_pct.values())
    if not math.isclose(drift, 0, abs_tol=1e-9):  # rounding: give the cent to a tier with room for it
        room = [t for t in TIERS if TIER_RANGES[t][0] <= tier_pct[t] + drift <= TIER_RANGES[t][1]]
        top = max(room or list(TIERS), key=lambda t: tier_pct[t])
        tier_pct[top] = round(tier_pct[top] + drift, 2)
    return Allocation(total_usd, tuple(plans), tier_pct, weight)
