"""Stage-17 budget allocation: the 70/20/10 prior, Thompson sampling towards the channels that return most."""

from __future__ import annotations

import pytest

from venturegate.crews.stage17.budget import AllocationError, Channel, Observed, allocate, check_split

CHANNELS = [
    Channel("email", "proven"),
    Channel("linkedin", "growth"),
    Channel("content_marketing", "experimental"),
    Channel("webinars", "experimental"),
]


def test_no_data_gives_the_prior_split() -> None:
    a = allocate(CHANNELS, {}, [70, 20, 10], 10_000)
    assert a.evidence_weight == 0
    assert a.tiers == {"proven": 70.0, "growth": 20.0, "experimental": 10.0}
    assert a.shares()["webinars"] == pytest.approx(0.05)
    assert sum(c.budget_usd for c in a.channels) == pytest.approx(10_000)


def test_thompson_moves_budget_to_the_better_channel_within_the_tier_ranges() -> None:
    observed = {
        "email": Observed(7000, 70),  # 1 per $100
        "linkedin": Observed(2000, 60),  # 3 per $100
        "content_marketing": Observed(500, 2),
        "webinars": Observed(500, 20),  # 4 per $100
    }
    a = allocate(CHANNELS, observed, [70, 20, 10], 10_000, seed=1)
    shares = a.shares()
    assert shares["linkedin"] > 0.2 and shares["webinars"] > 0.05
    assert shares["content_marketing"] < 0.05
    assert 50 <= a.tiers["proven"] <= 80 and 10 <= a.tiers["growth"] <= 30 and 5 <= a.tiers["experimental"] <= 20
    assert sum(a.tiers.values()) == pytest.approx(100)
    best = {c.channel: c for c in a.channels}
    assert best["webinars"].expected_roas > best["email"].expected_roas
    assert best["webinars"].roas_low < best["webinars"].expected_roas < best["webinars"].roas_high


def test_caps_are_respected() -> None:
    capped = [Channel("email", "proven", monthly_cap_usd=6000), *CHANNELS[1:]]
    a = allocate(capped, {}, [70, 20, 10], 10_000)
    assert a.shares()["email"] == pytest.approx(0.6)
    assert sum(a.shares().values()) == pytest.approx(1)


@pytest.mark.parametrize(
    ("split", "words"),
    [([70, 20, 20], "adds up to 110%"), ([90, 5, 5], "proven 90%"), ([70, 30], "3 parts")],
)
def test_bad_split(split: list[float], words: str) -> None:
    with pytest.raises(AllocationError, match=words):
        check_split(split)


def test_bad_channels() -> None:
    with pytest.raises(AllocationError, match="tier"):
        Channel("x", "viral")
    with pytest.raises(AllocationError, match="not in the plan"):
        allocate(CHANNELS, {"tiktok": Observed(1, 1)}, [70, 20, 10], 1000)
    with pytest.raises(AllocationError, match="caps add up"):
        allocate([Channel("a", "proven", monthly_cap_usd=10)], {}, [70, 20, 10], 1000)
