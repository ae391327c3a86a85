"""Pure classification with the bundled taxonomies of stages 19, 28 and 30, and the runbook text."""

from __future__ import annotations

import socket

import pytest

from venturegate.core.error_policy import (
    ErrorInfo,
    chain,
    classify,
    describe,
    escalation_roles,
    info_from,
    raised_timeout,
    recovery_words,
    runbook,
    time_cap,
    type_matches,
)
from venturegate.definitions.loader import LoadedWorkflow
from venturegate.definitions.model import Stage


def _stage(studio: LoadedWorkflow, stage_id: int) -> Stage:
    stage = studio.workflow.stage(stage_id)
    assert stage is not None
    return stage


class HTTPStatusError(Exception):
    """An HTTP client error carrying its response, as requests and httpx do."""

    def __init__(self, message: str, status_code: int) -> None:
        super().__init__(message)
        self.response = type("Response", (), {"status_code": status_code})()


class ClientResponseError(Exception):
    """aiohttp's shape: the status on the exception itself."""

    def __init__(self, message: str, status: int) -> None:
        super().__init__(message)
        self.status = status


class HealthCheckError(Exception):
    """A stage-30 health check failure (named in the taxonomy)."""


@pytest.mark.parametrize(
    ("stage_id", "error", "rule", "category"),
    [
        (19, ClientResponseError("429, message='Too Many Requests'", 429), "E19-RATE-LIMIT", "api"),
        (19, HTTPStatusError("401 Client Error: Unauthorized", 401), "E19-AUTH", "api"),
        (19, HTTPStatusError("HTTP 401", 401), "E19-AUTH", "api"),
        (19, ConnectionRefusedError(111, "Connection refused"), "E19-PROVIDER-DOWN", "api"),
        (19, HTTPStatusError("502 Bad Gateway", 502), "E19-PROVIDER-DOWN", "api"),
        (19, HTTPStatusError("500 Internal Server Error: token expired", 500), "E19-SERVER-ERROR", "api"),
        (19, TimeoutError(), "E19-TIMEOUT", "network"),
        (19, OSError(110, "Connection timed out"), "E19-TIMEOUT", "network"),
        (19, socket.gaierror(-2, "Name or service not known"), "E19-NETWORK", "network"),
        (19, RuntimeError("integration tests below 90%"), "E19-TESTS-FAILING", "api"),
        (19, RuntimeError("throughput 40 rps below the 100 rps required"), "E19-THROUGHPUT", "performance"),
        (28, ConnectionRefusedError("redis connection refused"), "E28-CACHE-UNREACHABLE", "network"),
        (28, TimeoutError(), "E28-PROFILING-TIMEOUT", "network"),
        (28, HTTPStatusError("403 Forbidden", 403), "E28-APM-AUTH", "api"),
        (28, ClientResponseError("Service Unavailable", 503), "E28-APM-UNAVAILABLE", "api"),
        (28, RuntimeError("p95 regression: slower than baseline"), "E28-OPTIMIZATION-REGRESSION", "performance"),
        (28, RuntimeError("approval expired after 24h"), "E28-APPROVAL-EXPIRED", "approval"),
        (30, HealthCheckError("database endpoint answered 500"), "E30-HEALTH-CHECK", "provisioning"),
        (30, RuntimeError("smoke test /login failed"), "E30-SMOKE", "api"),
        (30, RuntimeError("backup checksum mismatch"), "E30-BACKUP", "data"),
    ],
)
def test_bundled_rules_classify(
    studio: LoadedWorkflow, stage_id: int, error: Exception, rule: str, category: str
) -> None:
    found = classify(_stage(studio, stage_id).errors, describe(error), "exec")
    assert (found.rule.id, found.category, found.matched) == (rule, category, True)
    assert found.reasons


def test_first_match_wins_and_the_rules_passed_over_say_why(studio: LoadedWorkflow) -> None:
    found = classify(_stage(studio, 19).errors, info_from([], 500, "token expired"), "exec")
    assert found.rule.id == "E19-SERVER-ERROR"
    passed = {c.rule_id: c.reasons for c in found.passed_over}
    assert list(passed) == ["E19-AUTH", "E19-RATE-LIMIT", "E19-PROVIDER-DOWN"]
    assert passed["E19-AUTH"] == ("status 500 is not one of [401]",)


def test_a_listed_status_rules_out_other_statuses_even_when_the_message_matches(studio: LoadedWorkflow) -> None:
    rules = _stage(studio, 19).errors
    assert classify(rules, info_from([], None, "Unauthorized"), "exec").rule.id == "E19-AUTH"
    assert classify(rules, info_from([], 404, "Unauthorized"), "exec").rule.id == "unclassified"


@pytest.mark.parametrize(
    ("info", "category"),
    [
        (info_from([], 418, "I'm a teapot"), "api"),
        (info_from(["ConnectionResetError"], None, "peer reset"), "network"),
        (info_from(["KeyError"], None, "'x'"), "crew"),
        (ErrorInfo(), "crew"),
    ],
)
def test_unmatched_errors_fall_to_the_default_rule(studio: LoadedWorkflow, info: ErrorInfo, category: str) -> None:
    found = classify(_stage(studio, 19).errors, info, "exec")
    assert (found.rule.id, found.category, found.matched) == ("unclassified", category, False)
    assert found.rule.recovery.action == "escalate" and found.rule.recovery.role == "exec"
    assert len(found.passed_over) == len(_stage(studio, 19).errors)


def test_describe_reads_the_class_hierarchy_and_status() -> None:
    info = describe(ConnectionRefusedError("refused"))
    assert info.types[:3] == ("ConnectionRefusedError", "ConnectionError", "OSError")
    assert info.status is None and info.message == "refused"
    assert describe(HTTPStatusError("x", 503)).status == 503
    assert describe(ClientResponseError("x", 429)).status == 429
    assert describe(ClientResponseError("x", 7)).status is None
    assert describe(HTTPStatusError("x", 503)).types[0] == f"{__name__}.HTTPStatusError"


def test_names_given_by_hand_bring_builtin_bases_along() -> None:
    info = info_from(["ConnectionRefusedError", "acme.ProviderDown"], 503, "down")
    assert info.types[:2] == ("ConnectionRefusedError", "ConnectionError")
    assert "acme.ProviderDown" in info.types and info.status == 503
    with pytest.raises(ValueError, match="between 100 and 599"):
        info_from([], 42)


@pytest.mark.parametrize(
    ("listed", "qualified", "expected"),
    [
        ("TimeoutError", "TimeoutError", True),
        ("ConnectionError", "redis.exceptions.ConnectionError", True),
        ("aiohttp.ClientError", "aiohttp.client_exceptions.ClientError", True),
        ("redis.exceptions.ConnectionError", "redis.exceptions.ConnectionError", True),
        ("redis.exceptions.ConnectionError", "ConnectionError", False),
        ("aiohttp.ClientError", "aiohttp_retry.ClientError", False),
        ("socket.gaierror", "socket.gaierror", True),
        ("TimeoutError", "TimeoutErrorX", False),
    ],
)
def test_exception_names(listed: str, qualified: str, expected: bool) -> None:
    assert type_matches(listed, qualified) is expected


def test_recovery_chain_in_words_and_caps(studio: LoadedWorkflow) -> None:
    auth = next(r for r in _stage(studio, 19).errors if r.id == "E19-AUTH")
    assert [s.action for s in chain(auth.recovery)] == ["refresh_credentials", "retry", "escalate"]
    words = recovery_words(auth.recovery, "exec")
    assert (
        words.startswith("Refresh credentials")
        and "up to 3 times" in words
        and words.endswith("escalate to exec (the venture pauses until the escalation is resolved).")
    )
    assert time_cap(chain(auth.recovery)[1]) == 3 * 30
    assert [raised_timeout(30, n) for n in (1, 2)] == [60, 120]
    timeout = next(r for r in _stage(studio, 19).errors if r.id == "E19-TIMEOUT")
    assert escalation_roles(timeout.recovery, "exec") == ["exec"]


def test_runbook_lists_every_category_rule_and_escalation(studio: LoadedWorkflow) -> None:
    stage = _stage(studio, 28)
    text = runbook(stage, "chairman", "workflow studio 1")
    assert text.startswith(f"# Stage 28 — {stage.title}: error runbook")
    for category in ("api", "network", "configuration", "performance", "provisioning", "data", "approval", "crew"):
        assert f"\n## {category}\n" in text
    for rule in stage.errors:
        assert f"### {rule.id} (rule {stage.errors.index(rule) + 1})" in text
    section = text.split("### E28-CACHE-UNREACHABLE")[1].split("###")[0]
    assert "exception `ConnectionRefusedError`" in section
    assert (
        "Retry the call up to 3 times (backoff 1s doubling up to 30s, with jitter); "
        "if that fails, switch to the registered fallback (once); if that fails, escalate to exec"
    ) in section
    stale = text.split("### E28-CACHE-STALE")[1].split("###")[0]
    assert "**Escalated to:** lead, exec" in stale
    approval = text.split("### E28-APPROVAL-EXPIRED")[1].split("##")[0]
    assert "**Escalated to:** chairman" in approval
    assert "## Unmatched errors" in text and "escalated to **exec**" in text
