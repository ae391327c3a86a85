"""The before/after judgement: Mann-Whitney U with an effect floor, endpoint by endpoint."""

from __future__ import annotations

import random

import pytest

from venturegate.crews.stage28.optimizer import compare, judge

KW = {"min_effect_percent": 5.0, "significance": 0.05, "regression_margin_percent": 10.0}


def _sample(mu: float, n: int = 200, seed: int = 1) -> list[float]:
    rng = random.Random(seed)
    return [rng.lognormvariate(mu, 0.3) for _ in range(n)]


def test_a_faster_sample_is_kept_a_slower_one_is_a_regression_and_noise_is_no_effect() -> None:
    base = _sample(3.0)
    assert compare(base, _sample(2.7, seed=2), **KW).verdict == "kept"
    assert compare(base, _sample(3.4, seed=3), **KW).verdict == "regression"
    assert compare(base, _sample(3.0, seed=4), **KW).verdict == "no effect"


def test_a_significant_but_tiny_gain_is_no_effect() -> None:
    base = _sample(3.0, n=4000)
    assert compare(base, [x * 0.98 for x in base], **KW).verdict == "no effect"  # 2% < the 5% floor


def test_judge_decides_on_the_endpoint_that_moved() -> None:
    before = {"GET /a": _sample(3.0), "GET /b": _sample(2.0, seed=5)}
    after = {"GET /a": _sample(3.0, seed=6), "GET /b": _sample(1.5, seed=7)}
    got = judge(before, after, **KW)
    assert (got.verdict, got.endpoint) == ("kept", "GET /b")
    worse = judge(before, {"GET /a": _sample(3.6, seed=8), "GET /b": _sample(2.0, seed=9)}, **KW)
    assert (worse.verdict, worse.endpoint) == ("regression", "all endpoints")  # judged on the service's p95


def test_too_few_latencies_are_refused() -> None:
    with pytest.raises(ValueError, match="at least 8"):
        compare([1.0] * 3, [1.0] * 3, **KW)
