"""The deployment-driver contract: how the stage-30 crew starts versions and moves traffic between them.

A driver owns one blue/green pair behind one traffic switch. The built-in `local` driver
(`venturegate.crews.stage30.haproxy.LocalDriver`) runs each version as a local process behind HAProxy;
a driver for another platform (a Kubernetes Service, a cloud load balancer) implements the same
methods. Weights are percentages of new requests; changing them must not drop a request in flight.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol, runtime_checkable


@dataclass(frozen=True)
class TrafficCounters:
    """Cumulative counters of one version since its server was created (monotonic; diff two readings)."""

    requests: int
    """Responses plus failed attempts: every request the switch sent to this version."""
    responses_5xx: int
    errors: int
    """Requests that got no HTTP answer from the version (connection or response errors)."""
    in_flight: int
    """Requests being served by, or queued for, the version right now."""
    weight: int
    up: bool
    """The switch's own health check sees the version up."""
    down_transitions: int = 0
    """Times the switch's health check marked the version down (up → down) since its server was created."""
    check_failures: int = 0
    """Failed health checks since the server was created."""

    @property
    def failed(self) -> int:
        """Requests that failed: answered 5xx or not answered at all."""
        return self.responses_5xx + self.errors


@runtime_checkable
class DeploymentDriver(Protocol):
    """Starts versions, reports their health and traffic, and splits traffic between blue and green."""

    @property
    def url(self) -> str:
        """Where clients send traffic (the switch's frontend)."""

    def start_version(self, version: str) -> str:
        """Start `version` in the free slot (blue first, then green); return its backend address host:port."""

    def health(self, version: str) -> bool:
        """Whether `version` answers its health check and the switch sees it up."""

    def set_weights(self, blue: int, green: int) -> None:
        """Send `blue`/`green` percent of new requests to each slot, without a reload or dropped request."""

    def counters(self, version: str) -> TrafficCounters:
        """The switch's counters for `version`."""

    def frontend_counters(self) -> TrafficCounters:
        """What clients got from the switch: every request and every 5xx, the switch's own 503/504 too."""

    def stop(self, version: str) -> None:
        """Drain `version` (no new requests, wait for those in flight) and stop it."""

    def close(self) -> None:
        """Stop every version and the switch; leave no process behind."""
