"""28.1 on the real shop: slow statements from pg_stat_statements, N+1 detection, plans, hypopg index advice,
py-spy hot paths — each defect found when switched on and not reported when off."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from tests.conftest import PG_URL
from venturegate.crews.stage28 import database
from venturegate.crews.stage28.demo_target import ShopProcess, spec
from venturegate.crews.stage28.profiler import Measurement, hot_paths, measure
from venturegate.crews.stage28.target import Target, read_target
from venturegate.crews.stage28.traffic import Workload, endpoints_from_spec
from venturegate.engine.exceptions import BadInput

Shop = Callable[..., ShopProcess]


def _target(proc: ShopProcess, db: str, redis_url: str, **extra: str) -> Target:
    env = {"DB": db, "RD": redis_url}
    options = {"base_url": proc.base_url, "database_env": "DB", "redis_env": "RD", "pid": str(proc.pid), **extra}
    return read_target(options, env)


def _profile(
    proc: ShopProcess, db: str, redis_url: str, tmp_path: Path, n: int = 120
) -> tuple[Measurement, list[database.IndexAdvice]]:
    target = _target(proc, db, redis_url)
    requests = Workload(endpoints_from_spec(spec()), seed=5).take(n)
    m = measure(target, requests, 40.0, profile_to=tmp_path / "spy.txt")
    with database.connect(db) as conn:
        for s in m.statements[:5]:
            database.explain(conn, s, large_table_rows=10_000)
        advice = database.advise_indexes(conn, m.statements, min_factor=2.0)
    return m, advice


def test_each_defect_is_found(shop: Shop, shop_db: str, redis28: str, tmp_path: Path) -> None:
    proc = shop("n_plus_one,missing_index,hot_cpu,uncached")
    m, advice = _profile(proc, shop_db, redis28, tmp_path)
    n1 = [s for s in m.statements if s.n_plus_one]
    assert [s.query for s in n1] == ["SELECT name FROM customers WHERE id = $1"]
    assert [(a.table, a.columns) for a in advice] == [("orders", ("customer_id",))]
    assert advice[0].factor >= 2
    assert "customer_id = $1" in advice[0].queries[0]
    assert m.profile is not None and m.profile.ok, m.profile
    assert "_related_naive" in m.profile.hot[0].function
    ranked = hot_paths(m, advice)
    causes = " | ".join(r.get("suspected_cause", "") for r in ranked)
    assert "N+1" in causes and "missing index" in causes and "Python hot path" in causes
    assert m.pool_in_use_max >= 1 and m.max_connections == 60


def test_a_clean_shop_reports_none_of_them(shop: Shop, shop_db: str, redis28: str, tmp_path: Path) -> None:
    proc = shop("none")  # without missing_index the shop has its orders.customer_id index
    m, advice = _profile(proc, shop_db, redis28, tmp_path)
    assert not [s for s in m.statements if s.n_plus_one]
    assert advice == []
    assert m.profile is not None and m.profile.ok
    assert not any("_related_naive" in h.function for h in m.profile.hot[:3])


def test_a_database_without_pg_stat_statements_preloaded_is_refused(postgres_ok: bool) -> None:
    assert postgres_ok, "the machine's PostgreSQL (5432, no preload) is the database without pg_stat_statements"
    with (
        database.connect(PG_URL.replace("+psycopg", "")) as conn,
        pytest.raises(database.DatabaseSetupError, match="pg_stat_statements is not in shared_preload"),
    ):
        database.check_extensions(conn)


def test_an_unreachable_database_names_no_password() -> None:
    with pytest.raises(database.DatabaseSetupError, match="database unreachable") as got:
        database.connect("postgresql://app:s3cret@127.0.0.1:1/x")
    assert "s3cret" not in str(got.value)


def test_endpoints_must_match_the_spec(shop_db: str, redis28: str, tmp_path: Path) -> None:
    import json

    (tmp_path / "spec.json").write_text(json.dumps(spec()), encoding="utf-8")  # the shop's spec, no shop needed

    def target(endpoints: str) -> Target:
        options = {"base_url": "http://127.0.0.1:9", "openapi": "spec.json", "endpoints": endpoints}
        return read_target(options | {"database_env": "DB", "redis_env": "RD"}, {"DB": shop_db, "RD": redis28},
                           root=tmp_path)  # fmt: skip

    with pytest.raises(BadInput, match="'GET /nope' is not in the service's OpenAPI spec"):
        target("GET /products/{id}, GET /nope")
    assert [e.name for e in target("get /products/{id}").endpoints] == ["GET /products/{id}", "POST /orders"]


def test_one_sampler_reads_a_process_the_host_or_anything_and_ends_quietly_with_the_process() -> None:
    import subprocess
    import sys
    import time

    from venturegate.crews.stage28.process import Sampler, host_reading, process_reading

    child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)"])
    try:
        with Sampler(process_reading(child.pid), interval=0.02) as proc, Sampler(host_reading(), interval=0.02) as host:
            time.sleep(0.15)
            child.kill()
            child.wait(5)
            time.sleep(0.1)  # readings after the exit end the process sampler, not the block
        got = proc.summary()
        assert set(got) == {
            f"{k}_{s}" for k in ("cpu_percent", "memory_percent", "rss_mb") for s in ("avg", "peak")
        } | {"samples"}
        assert 1 <= got["samples"] < 15 and got["rss_mb_peak"] > 1, got
        assert host.summary()["samples"] >= 5 and 0 < host.summary()["memory_percent_avg"] <= 100
    finally:
        child.kill()
        child.wait(5)
    once = Sampler(lambda: {"in_use": 3}, interval=60)
    with once:
        pass
    assert once.summary() == {"in_use_avg": 3.0, "in_use_peak": 3.0, "samples": 1.0}  # one reading at the end
