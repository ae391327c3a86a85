"""`handle_error` on SQLite and PostgreSQL: retries with stamina, credentials, timeouts, fallbacks, recursion,
escalation, abort, the error log's figures, and bad input that changes nothing."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import AGENT, CHAIR, T0
from tests.triggers.helpers import at_stage, data, events, subs
from venturegate.core.error_policy import ErrorInfo, info_from
from venturegate.engine import BadInput, Conflict, Engine
from venturegate.engine.error_recovery import ErrorContext
from venturegate.engine.secrets import SecretGrant


class ClientResponseError(Exception):
    """An HTTP error with its status, as aiohttp raises it."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


def rate_limited() -> ClientResponseError:
    return ClientResponseError(429, "429, message='Too Many Requests'")


def flaky(failures: list[Exception], value: Any = "ok") -> tuple[Callable[..., Any], list[dict[str, Any]]]:
    """An operation that raises each of `failures` in turn, then returns `value`; and the kwargs of each call."""
    calls: list[dict[str, Any]] = []

    def operation(**kwargs: Any) -> Any:
        calls.append(kwargs)
        if len(calls) <= len(failures):
            raise failures[len(calls) - 1]
        return value

    return operation, calls


def test_retry_resolves_a_rate_limit_automatically(bundled: Engine) -> None:
    v = at_stage(bundled, "retry", 19).id
    op, calls = flaky([rate_limited(), rate_limited()], {"status": "green"})
    out = bundled.handle_error(v, 19, rate_limited(), op, actor=AGENT, now=T0)
    r = out.record
    assert out.resolved and out.result == {"status": "green"}
    assert (r.rule_id, r.category, r.status, r.resolved_automatically, r.attempts) == (
        "E19-RATE-LIMIT",
        "api",
        "resolved",
        True,
        3,
    )
    assert len(calls) == 3 and r.http_status == 429 and r.operation is not None
    assert r.time_to_resolve_ms is not None and r.time_to_resolve_ms >= 0
    assert [s["outcome"] for s in r.steps] == ["succeeded"]
    assert data(bundled, v, "error.resolved", "error") == [r.id]
    assert data(bundled, v, "error.reported", "error") == [r.id]
    assert bundled.venture(v).status == "active"


def test_exhausted_retries_escalate_to_the_rule_role(bundled: Engine) -> None:
    v = at_stage(bundled, "exhausted", 19).id
    op, calls = flaky([rate_limited()] * 5)
    r = bundled.handle_error(v, 19, rate_limited(), op, actor=AGENT, now=T0).record
    assert len(calls) == 3 and r.attempts == 3
    assert (r.status, r.resolved_automatically, r.escalation_code) == ("escalated", False, "SD-19-ESCALATION-1")
    assert r.time_to_resolve_ms is None
    assert [(s["action"], s["outcome"]) for s in r.steps] == [("retry", "failed"), ("escalate", "escalated")]
    esc = bundled.escalations(ref=v)[0]
    assert (esc.code, esc.role, esc.status) == ("SD-19-ESCALATION-1", "exec", "open")
    venture = bundled.venture(v)
    assert venture.status == "paused" and venture.status_detail == {"escalation": esc.code, "reason": esc.reason}
    assert data(bundled, v, "error.escalated", "error") == [r.id]


def test_a_different_failure_stops_retrying_and_moves_down_the_chain(bundled: Engine) -> None:
    v = at_stage(bundled, "switch", 19).id
    op, calls = flaky([KeyError("unexpected")])
    r = bundled.handle_error(v, 19, rate_limited(), op, actor=AGENT, now=T0).record
    assert len(calls) == 1 and r.status == "escalated"
    assert r.steps[0]["detail"] == "KeyError: 'unexpected'"


def test_refresh_credentials_through_the_registered_hook_then_retry(bundled: Engine) -> None:
    v = at_stage(bundled, "creds", 19).id
    refreshed: list[ErrorContext] = []
    token = {"value": "stale"}

    def refresh(ctx: ErrorContext) -> None:
        refreshed.append(ctx)
        token["value"] = "fresh"

    def call() -> str:
        if token["value"] != "fresh":
            raise ClientResponseError(401, "Unauthorized")
        return "authorised"

    bundled.register_credentials_hook(19, refresh)
    out = bundled.handle_error(v, 19, ClientResponseError(401, "Unauthorized"), call, actor=AGENT, now=T0)
    assert out.resolved and out.result == "authorised"
    assert (out.record.rule_id, out.record.attempts) == ("E19-AUTH", 1)
    assert [(c.venture, c.stage, c.rule_id, c.category, c.attempt) for c in refreshed] == [
        ("creds", 19, "E19-AUTH", "api", 1)
    ]


def test_without_a_credentials_hook_the_chain_moves_on_to_retry(bundled: Engine) -> None:
    v = at_stage(bundled, "nohook", 19).id
    op, calls = flaky([ClientResponseError(401, "Unauthorized")])
    r = bundled.handle_error(v, 19, ClientResponseError(401, "Unauthorized"), op, actor=AGENT, now=T0).record
    assert [(s["action"], s["outcome"]) for s in r.steps] == [
        ("refresh_credentials", "skipped"),
        ("retry", "succeeded"),
    ]
    assert (r.status, r.attempts, len(calls)) == ("resolved", 2, 2)


def test_the_stage19_crews_declared_hook_refreshes_only_a_venture_with_a_run_in_progress(bundled: Engine) -> None:
    """E19-AUTH's hook is declared on the crew class (installed with the crews' hooks, not by a run): it refreshes
    the credentials of the venture's run in progress, and without one the step is skipped as if there were no hook."""
    from venturegate.crews.stage19.crew import IntegrationVerificationCrew, measuring, refresh_credentials
    from venturegate.crews.stage19.inputs import Credentials

    assert IntegrationVerificationCrew().hooks().credentials == {"19": refresh_credentials}
    measured, idle = at_stage(bundled, "measured", 19).id, at_stage(bundled, "idle", 19).id
    creds = Credentials("catalog", {}, Path.cwd(), SecretGrant(), "http://127.0.0.1:1")
    with measuring(measured, [creds]):
        op, _ = flaky([])
        r = bundled.handle_error(measured, 19, ClientResponseError(401, "Unauthorized"), op, actor=AGENT, now=T0).record
        assert [(s["action"], s["outcome"]) for s in r.steps] == [("refresh_credentials", "succeeded")]
        assert creds.refreshes == 1
        op, _ = flaky([])
        r = bundled.handle_error(idle, 19, ClientResponseError(401, "Unauthorized"), op, actor=AGENT, now=T0).record
        assert [(s["action"], s["outcome"]) for s in r.steps] == [
            ("refresh_credentials", "skipped"),
            ("retry", "succeeded"),
        ]
        assert "no credentials of venture idle" in r.steps[0]["detail"] and creds.refreshes == 1


def test_raise_timeout_passes_a_doubled_timeout_to_the_operation(bundled: Engine) -> None:
    v = at_stage(bundled, "slow", 19).id
    op, calls = flaky([TimeoutError("timed out")])
    out = bundled.handle_error(v, 19, TimeoutError("timed out"), op, actor=AGENT, now=T0, timeout=10)
    assert out.resolved and out.record.rule_id == "E19-TIMEOUT" and out.record.category == "network"
    assert calls == [{"timeout": 20.0}, {"timeout": 40.0}]


def test_exhausted_timeouts_send_the_venture_back_to_stage_10(bundled: Engine) -> None:
    v = at_stage(bundled, "slower", 19).id
    op, calls = flaky([TimeoutError("timed out")] * 5)
    r = bundled.handle_error(v, 19, TimeoutError(), op, actor=AGENT, now=T0).record
    assert [c["timeout"] for c in calls] == [60.0, 120.0]
    assert (r.status, r.resolved_automatically, r.resolution) == ("recursed", True, "back to stage 10")
    assert bundled.venture(v).stage == 10
    assert data(bundled, v, "recursion", "to") == [10]


def test_recursion_to_a_substage_reopens_it(bundled: Engine) -> None:
    v = at_stage(bundled, "throughput", 19).id
    for sub in ("19.1", "19.2", "19.3"):
        bundled.complete_substage(v, sub, actor=AGENT, now=T0)
    error = ErrorInfo(message="throughput 40 rps below target")
    r = bundled.handle_error(v, None, error, actor=AGENT, now=T0).record
    assert (r.rule_id, r.category, r.status) == ("E19-THROUGHPUT", "performance", "recursed")
    assert subs(bundled, v)["19.1"] == "done"
    assert subs(bundled, v)["19.2"] == "open" and subs(bundled, v)["19.3"] == "open"


def test_a_recursion_that_cannot_happen_escalates(bundled: Engine) -> None:
    v = at_stage(bundled, "moved", 19).id
    bundled.pause(v, actor=CHAIR, now=T0)
    r = bundled.handle_error(v, 19, ErrorInfo(message="latency SLA missed"), actor=AGENT, now=T0).record
    assert (r.rule_id, r.status) == ("E19-LATENCY-SLA", "escalated")
    assert "the venture is paused" in r.resolution and bundled.venture(v).stage == 19


def test_fallback_after_retries_and_by_rule_scope(bundled: Engine) -> None:
    v = at_stage(bundled, "cache", 28).id
    used: list[str] = []

    def fallback(answer: str) -> Callable[[ErrorContext], str]:
        def use(ctx: ErrorContext) -> str:
            used.append(f"{ctx.rule_id}: {answer}")
            return answer

        return use

    bundled.register_fallback("*", fallback("any"))
    bundled.register_fallback("E28-CACHE-UNREACHABLE", fallback("read-through"))
    op, calls = flaky([ConnectionRefusedError("redis connection refused")] * 5)
    out = bundled.handle_error(v, 28, ConnectionRefusedError("redis connection refused"), op, actor=AGENT, now=T0)
    assert out.resolved and out.result == "read-through" and used == ["E28-CACHE-UNREACHABLE: read-through"]
    assert len(calls) == 3 and out.record.attempts == 4
    assert [(s["action"], s["outcome"]) for s in out.record.steps] == [("retry", "failed"), ("fallback", "succeeded")]


def test_abort_closes_the_error_without_resolving_it(bundled: Engine) -> None:
    v = at_stage(bundled, "deploy", 30).id
    r = bundled.handle_error(v, 30, RuntimeError("green environment unhealthy"), actor=AGENT, now=T0).record
    assert (r.rule_id, r.status, r.resolved_automatically) == ("E30-GREEN-UNHEALTHY", "aborted", False)
    assert bundled.venture(v).status == "active" and events(bundled, v, "error.aborted")


def test_a_manual_report_skips_retries_and_follows_the_policy(bundled: Engine) -> None:
    v = at_stage(bundled, "manual", 19).id
    r = bundled.handle_error(v, 19, info_from([], 429, "Too Many Requests"), actor=CHAIR, now=T0).record
    assert [(s["action"], s["outcome"]) for s in r.steps] == [("retry", "skipped"), ("escalate", "escalated")]
    assert r.actor == CHAIR.name and r.attempts == 0


def test_report_counts_mean_time_and_share(bundled: Engine) -> None:
    v = at_stage(bundled, "figures", 19).id
    op, _ = flaky([rate_limited()])
    auto = bundled.handle_error(v, 19, rate_limited(), op, actor=AGENT, now=T0, occurred_at=T0 - timedelta(seconds=2))
    escalated = bundled.handle_error(v, 19, ErrorInfo(message="missing test account"), actor=AGENT, now=T0)
    bundled.handle_error(v, 19, ErrorInfo(("KeyError",), None, "'x'"), actor=AGENT, now=T0)
    assert auto.record.time_to_resolve_ms is not None and 2000 <= auto.record.time_to_resolve_ms < 3000
    code = escalated.record.escalation_code
    assert code is not None
    bundled.resolve_escalation(code, "19", actor=CHAIR, now=T0 + timedelta(hours=1))
    report = bundled.error_report(v)
    assert (report.errors, report.open, report.resolved_automatically, report.resolved_by_people) == (3, 0, 1, 1)
    assert report.automatic_share == pytest.approx(1 / 3, abs=1e-4) and report.meets_target is False
    assert report.mean_time_to_resolve_ms == pytest.approx((auto.record.time_to_resolve_ms + 3_600_000) / 2, abs=1)
    cats = {c.category: c for c in report.by_category}
    assert set(cats) == {"api", "configuration", "crew"}
    assert (cats["api"].errors, cats["api"].resolved_automatically, cats["api"].automatic_share) == (1, 1, 1.0)
    assert (cats["configuration"].resolved_by_people, cats["configuration"].mean_time_to_resolve_ms) == (1, 3_600_000)
    assert (cats["crew"].escalated, cats["crew"].mean_time_to_resolve_ms) == (1, None)
    assert bundled.error_report(stage=28).errors == 0
    assert [r.rule_id for r in bundled.error_records(v)] == ["unclassified", "E19-TEST-CONFIG", "E19-RATE-LIMIT"]
    assert [r.id for r in bundled.error_records(status="resolved")] == [auto.record.id]


def test_the_error_log_survives_a_reopen(bundled: Engine, reopen: Callable[[Engine], Engine]) -> None:
    v = at_stage(bundled, "durable", 19).id
    op, _ = flaky([])
    first = bundled.handle_error(v, 19, rate_limited(), op, actor=AGENT, now=T0).record
    again = reopen(bundled)
    assert again.error_records(v) == [first]
    assert again.error_report(v).resolved_automatically == 1


def test_an_error_that_kills_the_handler_stays_open(bundled: Engine) -> None:
    v = at_stage(bundled, "crash", 19).id

    def dies() -> None:
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        bundled.handle_error(v, 19, rate_limited(), dies, actor=AGENT, now=T0)
    (r,) = bundled.error_records(v)
    assert (r.status, r.rule_id) == ("open", "E19-RATE-LIMIT")
    assert bundled.error_report(v).open == 1


def test_bad_input_changes_nothing(bundled: Engine) -> None:
    v = at_stage(bundled, "bad", 19).id
    with pytest.raises(BadInput, match="stage 99 is not in workflow"):
        bundled.handle_error(v, 99, rate_limited(), actor=AGENT, now=T0)
    with pytest.raises(BadInput, match="timeout must be positive"):
        bundled.handle_error(v, 19, rate_limited(), actor=AGENT, now=T0, timeout=0)
    with pytest.raises(BadInput, match="occurred after"):
        bundled.handle_error(v, 19, rate_limited(), actor=AGENT, now=T0, occurred_at=T0 + timedelta(seconds=1))
    with pytest.raises(BadInput, match="must be an exception"):
        bundled.handle_error(v, 19, "boom", actor=AGENT, now=T0)  # type: ignore[arg-type]
    with pytest.raises(BadInput, match="not a scope"):
        bundled.register_fallback(0, lambda ctx: None)
    with pytest.raises(BadInput, match="no error status"):
        bundled.error_records(status="fine")
    bundled.kill(v, actor=CHAIR, now=T0)
    with pytest.raises(Conflict, match="killed"):
        bundled.handle_error(v, 19, rate_limited(), actor=AGENT, now=T0)
    assert bundled.error_records(v) == [] and not events(bundled, v, "error.reported")
