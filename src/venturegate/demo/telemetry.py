"""The demo's hourly data: every venture's samples for each hour of the story."""

from __future__ import annotations

from datetime import timedelta

from venturegate.demo.story import C, K, L, Q, StoryBase, T
from venturegate.engine import SampleIn


class Telemetry(StoryBase):
    """Builds the hour's batch of samples: uptime, API health, cache readings, load data, test results."""

    def hour_batch(self, hour: int) -> list[SampleIn]:
        """Every venture's samples for the hour ending at `at(hour)`."""
        batch: list[SampleIn] = []
        if self.stage[K] == 14:
            batch += self.keystone(hour)
        if self.stage[T] == 19:
            batch += self.integrations(T, hour, reliability=99.6, spread=0.2)
        if self.stage[C] == 19:
            batch += self.integrations(C, hour, reliability=99.955, spread=0.03)
        batch += self.performance(L, hour)
        batch += self.performance(Q, hour)
        return batch

    def keystone(self, hour: int) -> list[SampleIn]:
        """Stage 14: 5-minute uptime, a CI run every three hours, the daily preparation report."""
        end = self.at(hour)
        batch = [
            self.sample(K, "infrastructure_stability", self.noisy(99.82, 0.17), end - timedelta(minutes=55 - 5 * i))
            for i in range(12)
        ]
        if hour % 3 == 2:
            failed = hour == 2
            batch += [
                self.sample(K, "ci_cd_consecutive_failures", 1 if failed else 0, end),
                self.sample(K, "ci_cd_critical_test_failures", 2 if failed else 0, end),
                self.sample(K, "ci_cd_pipeline_coverage", 81.2 if failed else self.noisy(84.5, 0.4), end),
                self.sample(K, "provisioning_failures", 0, end),
            ]
        if hour in (2, 26):
            d = 0 if hour == 2 else 1
            report = {
                "readiness_score": (66, 71)[d],
                "dev_environment_access_rate": (83.3, 100)[d],
                "required_environments_ready": (50, 100)[d],
                "tool_access_rate": 80,
                "roles_filled_percent": (75, 87.5)[d],
                "onboarding_completion_rate": (33.3, 50)[d],
                "raci_approval_rate": (0, 42.9)[d],
                "prioritized_backlog_sprints": (1, 1.5)[d],
                "team_velocity": 24,
                "velocity_benchmark_deviation": 12,
                "incompatible_tools": 0,
            }
            batch += [self.sample(K, m, v, end) for m, v in report.items()]
        return batch

    def integrations(self, venture: str, hour: int, reliability: float, spread: float) -> list[SampleIn]:
        """Stage 19: continuous API health, plus the results of the crew's runs."""
        end = self.at(hour)
        batch = [
            self.sample(venture, "api_reliability", self.noisy(reliability, spread), end),
            self.sample(venture, "api_error_rate", self.noisy(0.4 if venture == T else 0.1, 0.15), end),
            self.sample(venture, "circuit_breaker_activations", 0, end),
        ]
        runs: dict[int, dict[str, float]]
        if venture == T:
            runs = {
                1: {"integration_success_rate": 96.8, "endpoint_test_coverage": 88},
                3: {"latency_p95": 640, "throughput": 150},
                5: {"fallback_coverage": 100, "circuit_breaker_test_pass_rate": 100},
            }
        else:
            runs = {
                2: {"latency_p95": 410, "throughput": 180},
                6: {"fallback_coverage": 100, "circuit_breaker_test_pass_rate": 100},
                24: {"integration_success_rate": 92.3, "endpoint_test_coverage": 91},
            }
        batch += [self.sample(venture, m, v, end - timedelta(minutes=2)) for m, v in runs.get(hour, {}).items()]
        return batch

    def cache_level(self, venture: str, hour: int) -> float:
        """The hit rate a stage-28 venture's cache runs at in an hour of the story."""
        if venture == Q:
            return 84.0
        if hour <= 24:
            return 77.0
        return {25: 68.9, 26: 76.5, 27: 68.4, 28: 76.0, 29: 67.8}.get(hour, 81.0)

    def performance(self, venture: str, hour: int) -> list[SampleIn]:
        """Stage 28: 5-minute cache readings once the cache is live, daily page load, per-minute load at the end."""
        end = self.at(hour)
        batch: list[SampleIn] = []
        if hour >= 5:  # the caches go live a little after 11:00
            level = self.cache_level(venture, hour)
            bad = level < 70
            values = self.readings(level, 2.5, last_at_least=70.2 if bad else None)
            batch += [
                self.sample(venture, "cache_hit_rate", v, end - timedelta(minutes=55 - 5 * i))
                for i, v in enumerate(values)
            ]
            penalty = 60.0 if venture == L else 45.0
            batch.append(self.sample(venture, "cache_miss_penalty", self.noisy(penalty, 8, 0, 1000), end))
        if hour in (2, 26):
            page = self.after(venture).page_load - (0 if hour == 2 else 15)
            batch += [
                self.sample(venture, "page_load_time", page, end),
                self.sample(venture, "slow_query_count", 0, end),
            ]
        if venture == Q and hour >= 31:
            for minute in range(60):
                at = end - timedelta(minutes=59 - minute)
                batch += [
                    self.sample(Q, "api_response_time_p95", self.noisy(168, 15, 0, 10_000), at),
                    self.sample(Q, "api_response_time_p99", self.noisy(390, 40, 0, 10_000), at),
                    self.sample(Q, "cpu_utilization", self.noisy(50, 7), at),
                    self.sample(Q, "memory_utilization", self.noisy(62, 3), at),
                ]
        return batch
