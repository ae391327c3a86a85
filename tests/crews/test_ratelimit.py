"""Rate-limit discovery against limiters of different kinds and sizes on loopback: within 5 % of the true limit."""

from __future__ import annotations

import pytest

from tests.crews.stage19_targets import Target, ledger, notes
from venturegate.crews.stage19.ratelimit import discover_sync, header_limit


@pytest.mark.parametrize(
    ("target", "path"),
    [(notes(rate=50.0, burst=10), "/notes")],
    ids=["token-bucket-50"],  # the fixed window of 20 req/s is measured in the crew's full run (test_stage19)
)
def test_discovery_is_within_five_percent(target: Target, path: str) -> None:
    assert target.true_limit is not None
    with target.running() as served:
        found = discover_sync(served.base_url + path, start_rate=5.0, probe_seconds=1.0, hold_seconds=1.5)
    assert found.limit_req_sec is not None and found.held
    assert abs(found.limit_req_sec - target.true_limit) <= 0.05 * target.true_limit, found.as_dict()
    assert found.bracket is not None and found.bracket[0] <= found.bracket[1]
    assert found.header_limit_req_sec == target.true_limit  # read, and reported beside the measurement
    assert found.retry_after_s == 1.0


def test_no_limit_is_reported_as_none_up_to_the_bound() -> None:
    with ledger(limit=None).running() as served:
        found = discover_sync(served.base_url + "/health", start_rate=20.0, max_rate=40.0, probe_seconds=0.6)
    assert found.limit_req_sec is None and found.bracket is None
    assert [p.rate for p in found.probes] == [20.0, 40.0]


@pytest.mark.parametrize(
    ("headers", "expected"),
    [
        ({"RateLimit-Policy": "100;w=60"}, 100 / 60),
        ({"RateLimit-Policy": "50;w=1"}, 50.0),
        ({"RateLimit": "limit=10, remaining=3, reset=1"}, 10.0),
        ({"X-RateLimit-Limit": "25"}, 25.0),
        ({"ratelimit-limit": "7, 7;w=1"}, 7.0),
        ({"Retry-After": "3"}, None),
    ],
)
def test_rate_limit_headers_are_read(headers: dict[str, str], expected: float | None) -> None:
    assert header_limit(headers) == (pytest.approx(expected) if expected is not None else None)
