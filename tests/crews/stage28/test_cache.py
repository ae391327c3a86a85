"""28.2 on the real shop and a private Redis: the design from the trace, the predicted hit rate against the one
Redis measures, and the invalidation proof (a shop whose writes do not invalidate is caught)."""

from __future__ import annotations

from collections.abc import Callable

from venturegate.crews.stage28 import cache
from venturegate.crews.stage28.demo_target import ShopProcess, spec
from venturegate.crews.stage28.profiler import measure
from venturegate.crews.stage28.target import read_target
from venturegate.crews.stage28.traffic import Trace, Workload, endpoints_from_spec

Shop = Callable[..., ShopProcess]


def _design(trace: Trace) -> cache.CacheDesign:
    return cache.design(
        trace,
        endpoints_from_spec(spec()),
        ttls=(300, 3600, 86400),
        staleness={"/reports/category/{category}": 600},
        strategy="event-driven",
        delay_ms=0,
        min_p50_ms=3.0,
        min_hit_rate=0.2,
    )


def test_predicted_hit_rate_matches_redis(shop: Shop, shop_db: str, redis28: str) -> None:
    proc = shop("n_plus_one,missing_index,uncached,hot_cpu")
    target = read_target(
        {"base_url": proc.base_url, "database_env": "DB", "redis_env": "RD", "config_file": str(proc.config)},
        {"DB": shop_db, "RD": redis28},
        root=proc.config.parent,
    )
    requests = Workload(endpoints_from_spec(spec()), seed=3, write_share=0.02).take(150)
    baseline = measure(target, requests, 30.0)
    assert baseline.cache is not None and baseline.cache.hits == 0  # nothing cached yet
    design = _design(baseline.trace)
    by_route = {d.route: d for d in design.decisions}
    assert by_route["/reports/category/{category}"].cache  # 8 keys, an aggregate over 120k orders
    assert by_route["/reports/category/{category}"].invalidated_by == ("POST /orders",)
    assert by_route["/reports/category/{category}"].ttl_seconds == 300  # the longest TTL within 600 s staleness
    target.write_config(cache=design.target_config())
    after = measure(target, requests, 30.0)
    assert after.cache is not None
    assert abs(after.cache.hit_rate - design.predicted) <= 5.0, (after.cache.as_dict(), design.predicted)
    assert after.cache.miss_penalty_ms is not None and after.cache.miss_penalty_ms > 0
    report = "GET /reports/category/{category}"  # the cached aggregate: its median falls (the whole p95 is noise here)
    before_p50 = next(e["p50_ms"] for e in baseline.summary["endpoints"] if e["endpoint"] == report)
    after_p50 = next(e["p50_ms"] for e in after.summary["endpoints"] if e["endpoint"] == report)
    # Quiet, the median falls by far more than half; with the machine loaded (the suite on 5 workers) a run
    # measured 27.8 → 19.5 ms, scheduling waits on both sides. The hit rate above is what proves the cache works;
    # this checks the latency moved the right way by a clear margin.
    assert after_p50 < before_p50 * 0.8, (before_p50, after_p50)


def test_the_invalidation_proof_catches_a_stale_cache(shop: Shop, shop_db: str, redis28: str) -> None:
    write = next(e for e in endpoints_from_spec(spec()) if e.name == "POST /orders")
    body = b'{"customer_id": 7, "product_id": 5, "amount": 10}'
    results = {}
    for defects in ("uncached", "uncached,stale_cache"):
        proc = shop(defects)
        proc.config.write_text('{"cache": {"/customers/{id}/orders": {"ttl": 300}}}', encoding="utf-8")
        results[defects] = cache.invalidation_test(
            proc.base_url, "/customers/7/orders", "/customers/{id}/orders", write, body, delay_ms=0
        )
    assert results["uncached"].fresh, results["uncached"]
    assert not results["uncached,stale_cache"].fresh
    assert "stale read after POST /orders" in results["uncached,stale_cache"].detail


def test_parse_entries_refuses_garbage() -> None:
    assert cache.parse_entries(["/a/{id} ttl=60"]) == {"/a/{id}": {"ttl": 60}}
    for bad in ("/a", "a ttl=5", "/a ttl=x"):
        try:
            cache.parse_entries([bad])
        except ValueError as exc:
            assert "is not 'ROUTE ttl=SECONDS'" in str(exc)
        else:
            raise AssertionError(f"{bad!r} was accepted")
