"""Stage-30 cutover under load through a real HAProxy, one release per kind of defect: prints JSON.

Run: `.venv/bin/python benchmarks/deploy.py [--rate 200] [--soak 3] [--only good,one_route]`. Each scenario
starts blue and a green with one fault of the demo service, sends the benchmark's own client traffic
through HAProxy's front end over every route of the service's OpenAPI document, and cuts over with the
default reading interval (1 s) and a 1 s persistence. Per scenario: how the cutover ended and why, the
client-visible failed requests (the client's own count and HAProxy's front-end count, which must agree),
and the goal for a bad release: no more failed requests than one reading interval of requests at the
step's share of traffic (`rate x interval x share`).
"""

from __future__ import annotations

import argparse
import asyncio
import json
from typing import Any

from venturegate.crews.stage30.demo_service import Faults, command, spec
from venturegate.crews.stage30.haproxy import LocalDriver
from venturegate.crews.stage30.orchestrator import CanaryConfig, cutover
from venturegate.crews.stage30.routes import routes_from_openapi
from venturegate.crews.stage30.traffic import Load

SCENARIOS: dict[str, Faults] = {
    "good": Faults(),
    "one_route_fails_15pct": Faults(fail_route="/orders", fail_rate=0.15),
    "slow_after_4s": Faults(latency_ms=600, slow_after=4.0),
    "flapping_health": Faults(flap_period=3.0, flap_down=1.0, flap_routes=1),
    "wrong_body_on_one_route": Faults(wrong_body_route="/items/{id}"),
    "leak_slows_under_load": Faults(leak_ms=1.0),
    "all_routes_fail_10pct": Faults(error_rate=0.1),
}


async def _run(name: str, faults: Faults, rate: float, config: CanaryConfig) -> dict[str, Any]:
    routes = routes_from_openapi(spec("bench"))
    with LocalDriver(command(), overrides={"green": command(faults=faults)}) as driver:
        await asyncio.to_thread(driver.start_version, "blue")
        address = await asyncio.to_thread(driver.start_version, "green")
        client = Load(driver.url, routes.routes, rate)
        sending = asyncio.create_task(client.run())
        front0 = await asyncio.to_thread(driver.frontend_counters)
        await asyncio.sleep(0.5)
        result = await cutover(
            driver, "blue", "green", config, probe_url=f"http://{address}", routes=routes.routes,
            route_of=routes.match, request_log=driver.request_log(), green_server=driver.slot_of("green"),
        )  # fmt: skip
        await asyncio.sleep(0.5)
        client.stop()
        await sending
        front1 = await asyncio.to_thread(driver.frontend_counters)
    share = result.steps[-1].green_percent if result.steps else 0
    bound = rate * config.sample_interval * share / 100
    out: dict[str, Any] = {
        "scenario": name,
        "status": result.status,
        "cause": result.rollback.cause if result.rollback else None,
        "reason": result.rollback.reason if result.rollback else "; ".join(result.held_because) or None,
        "decided_at_step_percent": share if result.status != "completed" else None,
        "client_requests": client.sent,
        "client_visible_failed": client.failed_5xx + client.refused,
        "haproxy_frontend_failed": front1.failed - front0.failed,
        "counts_agree": client.failed_5xx == front1.failed - front0.failed,
        "downtime_s": round(result.downtime_s, 3),
        "green_marked_down": result.green_down_transitions,
        "one_reading_bound": round(bound, 1),
        "within_one_reading": name == "good" or client.failed_5xx + client.refused <= bound,
        "seconds": round(result.seconds, 2),
    }
    if result.rollback is not None:
        out["decision_to_all_traffic_on_blue_ms"] = round(1000 * result.rollback.drain_s, 2)
    return out


def main() -> None:
    """Run the scenarios and print their JSON."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rate", type=float, default=200.0)
    parser.add_argument("--soak", type=float, default=3.0)
    parser.add_argument("--only", default="", help="comma-separated scenario names")
    args = parser.parse_args()
    config = CanaryConfig(
        soak_seconds=args.soak,
        error_rate_duration=1.0,
        window_seconds=2.0,
        sample_interval=1.0,
        min_requests=10,
        response_time_threshold=300,
        probe_interval=0.05,
    )
    chosen = [n for n in (args.only.split(",") if args.only else SCENARIOS) if n]
    results = [asyncio.run(_run(n, SCENARIOS[n], args.rate, config)) for n in chosen]
    goals = {
        "good_release_zero_client_failures": all(
            r["client_visible_failed"] == 0 and r["status"] == "completed" for r in results if r["scenario"] == "good"
        ),
        "every_bad_release_stopped": all(r["status"] != "completed" for r in results if r["scenario"] != "good"),
        "failures_within_one_reading_interval": all(r["within_one_reading"] for r in results),
        "client_and_haproxy_counts_agree": all(r["counts_agree"] for r in results),
    }
    print(json.dumps({"rate_req_s": args.rate, "soak_s": args.soak, "scenarios": results, "goals": goals}, indent=2))


if __name__ == "__main__":
    main()
