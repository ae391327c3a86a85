"""PostDeploymentVerifier (30.3): the smoke suite and the rollback rehearsal (monitoring is `monitoring.py`).

Engine-free: the crew records `smoke_test_pass_rate` (`SmokeReport.pass_rate`) and
`rollback_test_pass_rate` (`Rehearsal.pass_rate`), stores `MonitoringSetup.artifact(test_alert)` as the
`monitoring_setup` artifact, and passes `SmokeReport.error()` (a `SmokeTestFailure`) to the stage's
error rules.

- **Smoke suite** (`run_smoke`): each `SmokeCheck` is an HTTP request against the base URL (the
  switch's frontend; redirects are not followed, so `expect_status` sees the real answer; `contains`
  looks in the first MiB of the body) or a command (exit 0 passes; `{base_url}` in its arguments is
  replaced; output kept); `run_smoke(command=...)` adds a whole-suite command (a venture's own smoke
  tests) as one more critical check. A failing suite is run again as a whole `retries` times (the
  studio's 1) after `retry_delay` (default none); the whole run, retries included, is bounded by
  `timeout` (`smoke_tests.timeout`, in seconds here), checks not started in time fail as "not run".
  `critical_only` (`smoke_tests.critical_flows_only`) keeps the critical checks only.
- **Monitoring** and the **test alert** live in `monitoring.py`.
- **Rollback rehearsal** (`rehearse_rollback`): reads the switch, checks blue (the standby) is healthy,
  that the rollback's weights (blue 100, green 0) are valid and would land on a server the switch sees
  up, and runs the engine's dry-run rollback - without moving any traffic (the last step checks that).
"""

from __future__ import annotations

import subprocess
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from typing import Any

from venturegate.crews.stage30.driver import DeploymentDriver

CHANNELS = ("slack", "email", "pagerduty", "sms")
Clock = Callable[[], float]
Now = Callable[[], datetime]


def _utcnow() -> datetime:
    return datetime.now(UTC)


class SmokeTestFailure(RuntimeError):
    """The smoke suite did not fully pass (matched by the stage's E30-SMOKE rule)."""


# -- smoke tests ----------------------------------------------------------------------------------
@dataclass(frozen=True)
class SmokeCheck:
    """One smoke test: an HTTP request to `path` on the base URL, or `command` when given."""

    name: str
    path: str = "/"
    method: str = "GET"
    expect_status: int = 200
    contains: str | None = None
    critical: bool = True
    command: Sequence[str] | None = None
    timeout: float = 10.0

    def __post_init__(self) -> None:
        if self.command is not None:
            object.__setattr__(self, "command", tuple(self.command))
            if not self.command:
                raise ValueError(f"smoke check {self.name!r}: the command is empty")


@dataclass(frozen=True)
class SmokeResult:
    """One check in one run of the suite."""

    name: str
    ok: bool
    detail: str
    ms: float
    critical: bool = True
    status: int | None = None
    output: str = ""


@dataclass(frozen=True)
class SmokeReport:
    """Every run of the suite (the last one counts) and whether the time limit cut it short."""

    runs: tuple[tuple[SmokeResult, ...], ...]
    timed_out: bool = False
    ms: float = 0.0

    @property
    def results(self) -> tuple[SmokeResult, ...]:
        """The last run's results."""
        return self.runs[-1]

    @property
    def total(self) -> int:
        """Checks in the suite."""
        return len(self.results)

    @property
    def passed(self) -> int:
        """Checks that passed in the last run."""
        return sum(1 for r in self.results if r.ok)

    @property
    def attempts(self) -> int:
        """Runs of the suite (1 + retries used)."""
        return len(self.runs)

    @property
    def pass_rate(self) -> float:
        """Percent of the last run's checks that passed (`smoke_test_pass_rate`)."""
        return 100.0 * self.passed / self.total

    @property
    def ok(self) -> bool:
        """Every check passed."""
        return self.passed == self.total

    @property
    def failures(self) -> list[str]:
        """One line per failed check of the last run."""
        return [f"{r.name}: {r.detail}" for r in self.results if not r.ok]

    def error(self) -> SmokeTestFailure | None:
        """The typed exception for the stage's error rules, or None when the suite passed."""
        if self.ok:
            return None
        runs = f"{self.attempts} run{'s' * (self.attempts > 1)}"
        return SmokeTestFailure(
            f"smoke tests failed ({self.passed}/{self.total} after {runs}): " + "; ".join(self.failures)
        )

    def artifact(self) -> dict[str, Any]:
        """The `smoke_tests` part of the `production_deployment` artifact."""
        return {"total": self.total, "passed": self.passed, "flows": [r.name for r in self.results]}

    def as_dict(self) -> dict[str, Any]:
        """JSON form."""
        return {
            "ok": self.ok,
            "total": self.total,
            "passed": self.passed,
            "attempts": self.attempts,
            "pass_rate": self.pass_rate,
            "timed_out": self.timed_out,
            "failures": self.failures,
            "results": [asdict(r) for r in self.results],
            "runs": [[asdict(r) for r in run] for run in self.runs],
            "ms": self.ms,
        }


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args: Any, **kwargs: Any) -> None:
        return None


_OPENER = urllib.request.build_opener(_NoRedirect)


def _http(base_url: str, check: SmokeCheck, timeout: float) -> tuple[bool, int | None, str]:
    url = base_url.rstrip("/") + "/" + check.path.lstrip("/")
    request = urllib.request.Request(url, method=check.method, headers={"User-Agent": "venturegate-smoke"})
    try:
        try:
            with _OPENER.open(request, timeout=timeout) as response:
                status, body = int(response.status), response.read(1 << 20)
        except urllib.error.HTTPError as e:
            status, body = int(e.code), e.read(1 << 20)
            e.close()
    except (urllib.error.URLError, OSError, ValueError) as e:
        reason = e.reason if isinstance(e, urllib.error.URLError) else e
        return False, None, f"{check.method} {url}: no answer ({reason})"
    if status != check.expect_status:
        return False, status, f"{check.method} {url} answered {status}, expected {check.expect_status}"
    if check.contains is not None and check.contains not in body.decode(errors="replace"):
        return False, status, f"{check.method} {url} answered {status} without {check.contains!r} in the body"
    return True, status, f"{check.method} {url} answered {status}"


def _command(base_url: str, argv: Sequence[str], timeout: float) -> tuple[bool, str, str]:
    args = [a.replace("{base_url}", base_url) for a in argv]
    try:
        done = subprocess.run(
            args, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, timeout=timeout, check=False
        )
    except subprocess.TimeoutExpired as e:
        out = e.output.decode(errors="replace") if isinstance(e.output, bytes) else e.output or ""
        return False, f"`{' '.join(args)}` timed out after {timeout:g} s", out[-2000:]
    except OSError as e:
        return False, f"`{' '.join(args)}` could not run: {e}", ""
    return done.returncode == 0, f"`{' '.join(args)}` exited {done.returncode}", done.stdout[-2000:]


def run_smoke(
    base_url: str,
    checks: Sequence[SmokeCheck],
    *,
    command: Sequence[str] | None = None,
    timeout: float = 1800.0,
    critical_only: bool = False,
    retries: int = 1,
    retry_delay: float = 0.0,
    sleep: Callable[[float], None] = time.sleep,
    clock: Clock = time.monotonic,
    checkpoint: Callable[[], None] = lambda: None,
) -> SmokeReport:
    """Run the suite against `base_url` (plus `command` as a critical check named `command`); rerun it on failure.

    `timeout` bounds the whole run in seconds, retries included (`smoke_tests.timeout`); `critical_only`
    is `smoke_tests.critical_flows_only`; `retries` reruns of a failing suite (the studio's 1), each
    after `retry_delay` seconds.
    """
    if retries < 0 or timeout <= 0 or retry_delay < 0:
        raise ValueError("retries and retry_delay must be >= 0 and timeout > 0")
    suite = [c for c in checks if c.critical or not critical_only]
    if command is not None:
        suite.append(SmokeCheck("command", command=command, timeout=timeout))
    if not suite:
        raise ValueError("no smoke checks to run" + (" (critical_only kept none)" if checks else ""))
    started = time.perf_counter()
    deadline = clock() + timeout
    runs: list[tuple[SmokeResult, ...]] = []
    timed_out = False
    for attempt in range(retries + 1):
        if attempt:
            sleep(min(retry_delay, max(0.0, deadline - clock())))
        run: list[SmokeResult] = []
        for check in suite:
            checkpoint()
            left = deadline - clock()
            if left <= 0:
                timed_out = True
                why = f"not run: the smoke suite's time limit of {timeout:g} s ran out"
                run.append(SmokeResult(check.name, False, why, 0.0, check.critical))
                continue
            run.append(_run_check(base_url, check, min(check.timeout, left)))
        runs.append(tuple(run))
        if all(r.ok for r in run) or timed_out:
            break
    return SmokeReport(tuple(runs), timed_out, (time.perf_counter() - started) * 1000)


def _run_check(base_url: str, check: SmokeCheck, limit: float) -> SmokeResult:
    t0 = time.perf_counter()
    if check.command is not None:
        ok, detail, output = _command(base_url, check.command, limit)
        status = None
    else:
        ok, status, detail = _http(base_url, check, limit)
        output = ""
    return SmokeResult(check.name, ok, detail, (time.perf_counter() - t0) * 1000, check.critical, status, output)


# -- rollback rehearsal --------------------------------------------------------------------------
@dataclass(frozen=True)
class RehearsalStep:
    """One step of the rollback rehearsal."""

    name: str
    ok: bool
    detail: str


@dataclass(frozen=True)
class Rehearsal:
    """The rollback dry-run: its steps and when it ran."""

    steps: tuple[RehearsalStep, ...]
    ran_at: datetime = field(default_factory=_utcnow)

    @property
    def pass_rate(self) -> float:
        """Percent of the steps that passed (`rollback_test_pass_rate`)."""
        return 100.0 * sum(1 for s in self.steps if s.ok) / len(self.steps)

    @property
    def ok(self) -> bool:
        """Every step passed."""
        return all(s.ok for s in self.steps)

    def artifact(self) -> dict[str, Any]:
        """The `rollback_dry_run` part of the `production_deployment` artifact."""
        return {"passed": self.ok, "ran_at": self.ran_at.isoformat()}

    def as_dict(self) -> dict[str, Any]:
        """JSON form."""
        return {
            "ok": self.ok,
            "pass_rate": self.pass_rate,
            "ran_at": self.ran_at.isoformat(),
            "steps": [asdict(s) for s in self.steps],
        }


ROLLBACK_WEIGHTS = (100, 0)
"""What a traffic rollback sets: all of blue, none of green."""


def rehearse_rollback(
    driver: DeploymentDriver,
    blue: str,
    green: str,
    *,
    engine_dry_run: Callable[[], object] | None,
    now: Now = _utcnow,
) -> Rehearsal:
    """Check, without moving traffic, that a rollback to `blue` would work; `engine_dry_run` None skips that step."""
    ran_at = now()
    steps: list[RehearsalStep] = []

    def weights() -> tuple[int, int, bool]:
        b, g = driver.counters(blue), driver.counters(green)
        return b.weight, g.weight, b.up

    try:
        before = weights()
        steps.append(RehearsalStep("switch answers", True, f"weights blue {before[0]}, green {before[1]}"))
    except Exception as e:
        before = None
        steps.append(RehearsalStep("switch answers", False, f"cannot read the switch's counters: {e}"))
    try:
        healthy = driver.health(blue)
        steps.append(
            RehearsalStep("blue healthy", healthy, f"blue {blue!r} is {'healthy' if healthy else 'unhealthy'}")
        )
    except Exception as e:
        steps.append(RehearsalStep("blue healthy", False, f"blue {blue!r} health unknown: {e}"))
    b, g = ROLLBACK_WEIGHTS
    valid = 0 <= b <= 100 and 0 <= g <= 100 and b + g > 0
    if before is None:
        steps.append(RehearsalStep("rollback weights", False, "not checked: the switch did not answer"))
    else:
        up = before[2]
        why = f"blue {b} / green {g} " + (
            "would go to a server the switch sees up" if up else "but the switch sees blue down"
        )
        steps.append(RehearsalStep("rollback weights", valid and up, why))
    if engine_dry_run is not None:
        try:
            outcome = engine_dry_run()
            shown = getattr(outcome, "outcome", None) or type(outcome).__name__
            steps.append(RehearsalStep("engine dry-run", True, f"engine rollback dry-run: {shown}"))
        except Exception as e:
            steps.append(RehearsalStep("engine dry-run", False, f"engine rollback dry-run failed: {e}"))
    try:
        after = weights()
        same = before is not None and after[:2] == before[:2]
        steps.append(RehearsalStep("traffic untouched", same, f"weights blue {after[0]}, green {after[1]}"))
    except Exception as e:
        steps.append(RehearsalStep("traffic untouched", False, f"cannot read the switch's counters: {e}"))
    return Rehearsal(tuple(steps), ran_at)
