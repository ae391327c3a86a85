"""Stage-30 cutover under load through a real HAProxy: prints JSON with switch times and failed requests.

Run: `.venv/bin/python benchmarks/deploy.py [--rate 300] [--soak 1.5]`. Three runs: a good green walked
10 → 50 → 100, a green failing 10% of its requests, and a green answering 300 ms late (its probe p95
above a 200 ms line), both rolled back automatically. The peer is the studio's own target: a rollback
within 5 minutes of the decision (`rollback_time` < 5 min), and no failed request during a switch.
"""

from __future__ import annotations

import argparse
import asyncio
import json
from typing import Any

from venturegate.crews.stage19.loadgen import LoadProfile, run_profile
from venturegate.crews.stage30.demo_service import command
from venturegate.crews.stage30.haproxy import LocalDriver
from venturegate.crews.stage30.orchestrator import CanaryConfig, cutover


async def _run(
    green: str, error_rate: float, rate: float, config: CanaryConfig, latency_ms: float = 0.0
) -> dict[str, Any]:
    seconds = config.soak_seconds * len(config.steps) + 1.0
    with LocalDriver(command(), overrides={green: command(error_rate, latency_ms)}) as driver:
        await asyncio.to_thread(driver.start_version, "blue-v1")
        address = await asyncio.to_thread(driver.start_version, green)
        load = asyncio.create_task(
            run_profile(
                driver.url + "/",
                LoadProfile.constant(rate, seconds),
                max_requests=int(rate * seconds) + 10,
                max_seconds=seconds + 1,
                connections=100,
            )
        )
        await asyncio.sleep(0.3)
        result = await cutover(driver, "blue-v1", green, config, probe_url=f"http://{address}/")
        done = await load
        out: dict[str, Any] = {
            "green": green,
            "green_error_rate_percent": 100 * error_rate,
            "green_latency_ms": latency_ms,
            "status": result.status,
            "requests": done.requests,
            "failed_requests": sum(done.errors_by_status.values()),
            "errors_by_status": done.errors_by_status,
            "p95_ms": done.p95_ms,
            "steps": [s.__dict__ for s in result.steps],
        }
        if result.rollback is not None:
            blue = driver.counters("blue-v1")
            out["rollback"] = {
                "cause": result.rollback.cause,
                "reason": result.rollback.reason,
                "decision_to_weights_ms": round(1000 * result.rollback.switch_s, 2),
                "decision_to_all_traffic_on_blue_ms": round(1000 * result.rollback.drain_s, 2),
                "failed_before_rollback": result.rollback.green_failed_before,
                "failed_after_rollback": out["failed_requests"] - result.rollback.green_failed_before,
                "blue_failed": blue.failed,
            }
        return out


def main() -> None:
    """Run both scenarios and print their JSON."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rate", type=float, default=300.0)
    parser.add_argument("--soak", type=float, default=1.5)
    args = parser.parse_args()
    config = CanaryConfig(
        soak_seconds=args.soak,
        error_rate_duration=0.5,
        window_seconds=1.0,
        sample_interval=0.05,
        min_requests=10,
        response_time_threshold=200,
        probe_interval=0.05,
    )
    good = asyncio.run(_run("green-good", 0.0, args.rate, config))
    bad = asyncio.run(_run("green-bad", 0.1, args.rate, config))
    slow = asyncio.run(_run("green-slow", 0.0, args.rate, config, latency_ms=300))
    goals = {
        "decision_to_all_traffic_on_blue_under_1s": all(
            r["rollback"]["decision_to_all_traffic_on_blue_ms"] < 1000 for r in (bad, slow)
        ),
        "peer_studio_rollback_target_s": 300,
        "zero_failed_requests_good_green": good["failed_requests"] == 0,
        "zero_failed_after_rollback": all(r["rollback"]["failed_after_rollback"] == 0 for r in (bad, slow)),
    }
    print(json.dumps({"rate_req_s": args.rate, "good": good, "bad": bad, "slow": slow, "goals": goals}, indent=2))


if __name__ == "__main__":
    main()
