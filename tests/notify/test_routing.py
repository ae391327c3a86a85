"""Pure parts: severity mapping, route matching, group keys, message limits, signatures, config validation."""

from __future__ import annotations

import time
from datetime import UTC, datetime
from pathlib import Path

import pytest

from tests.conftest import MINI
from venturegate.definitions.loader import load_workflow
from venturegate.definitions.model import Notifications, Route
from venturegate.definitions.source import DefinitionError
from venturegate.engine.outbox import backoff_seconds
from venturegate.notify.channels import DeliveryError, expand, sign, verify_signature
from venturegate.notify.messages import Batch, Item, slack_payload
from venturegate.notify.routing import RoutingPlan


def _plan(*routes: Route, **extra: object) -> RoutingPlan:
    cfg = Notifications.model_validate({"routes": [r.model_dump() for r in routes], **extra})
    return RoutingPlan(cfg, {"PERF-1": "P1", "CHEAP-1": "P3"})


@pytest.mark.parametrize(
    ("kind", "data", "severity"),
    [
        ("rollback.failed", None, "P0"),
        ("rollback.completed", None, "P1"),
        ("escalation.opened", {"trigger": "CHEAP-1"}, "P1"),
        ("approval.bypassed", None, "P1"),
        ("approval.requested", {"trigger": "PERF-1"}, "P2"),
        ("approval.expired", None, "P2"),
        ("trigger.fired", {"trigger": "PERF-1"}, "P1"),
        ("recursion", {"trigger": "CHEAP-1"}, "P3"),
        ("recursion", {"trigger": "UNKNOWN"}, "P2"),
        ("alert", {"trigger": "PERF-1", "severity": "P0"}, "P0"),
        ("trigger.notified", {"severity": "P3"}, "P3"),
        ("stage.entered", None, "P3"),
    ],
)
def test_builtin_severity_mapping(kind: str, data: dict[str, str] | None, severity: str) -> None:
    assert _plan().severity(kind, data) == severity


def test_configured_severities_come_first() -> None:
    plan = _plan(severities={"approval.*": "P0", "venture.*": "P1"})
    assert plan.severity("approval.requested", None) == "P0"
    assert plan.severity("venture.paused", None) == "P1"
    assert plan.severity("rollback.completed", None) == "P1"


def test_route_by_kind_glob_severity_and_stage() -> None:
    plan = _plan(
        Route(kinds=["rollback.*"], channels=["slack"]),
        Route(severity=["P0"], channels=["slack", "chair"]),
        Route(kinds=["approval.requested"], stages=[19], channels=["hook"]),
    )
    assert [r.channel for r in plan.route("rollback.completed", 1, 19, None)] == ["slack"]
    assert [r.channel for r in plan.route("rollback.failed", 1, 19, None)] == ["slack", "chair"]
    assert [r.channel for r in plan.route("approval.requested", 1, 19, None)] == ["hook"]
    assert plan.route("approval.requested", 1, 18, None) == []
    assert plan.route("approval.requested", 1, None, None) == []
    assert plan.route("stage.entered", 1, 19, None) == []
    assert plan.route("rollbackX", 1, 19, None) == []


def test_outbox_events_never_notify_and_empty_plan_routes_nothing() -> None:
    plan = _plan(Route(channels=["slack"]))
    assert plan.route("outbox.retried", 1, 2, None) == []
    assert [r.channel for r in plan.route("venture.created", 1, 2, None)] == ["slack"]
    assert RoutingPlan(None).empty
    assert RoutingPlan(None).route("rollback.failed", 1, 2, None) == []


def test_group_keys() -> None:
    plan = _plan(Route(channels=["slack"]))
    (a,) = plan.route("rollback.completed", 7, 19, None)
    (b,) = plan.route("rollback.failed", 7, 19, None)
    (c,) = plan.route("rollback.completed", 8, 19, None)
    assert a.group_key == b.group_key == "slack|v7|rollback"
    assert c.group_key != a.group_key
    by_kind = _plan(Route(channels=["slack"]), group_by=["kind", "stage"])
    (d,) = by_kind.route("rollback.completed", None, None, None)
    assert d.group_key == "slack|rollback.completed|s-"


def _batch(n: int, reason: str = "x" * 200) -> Batch:
    at = datetime(2026, 11, 2, tzinfo=UTC)
    items = tuple(
        Item(i, 100 + i, "rollback.completed", "P1", "acme", 19, f"{i} {reason}", at, "system") for i in range(n)
    )
    return Batch("d-1", "slack", "slack|v1|rollback", items)


def test_slack_payload_stays_within_slack_limits() -> None:
    payload = slack_payload(_batch(2000))
    blocks = payload["blocks"]
    assert len(blocks) <= 50
    assert blocks[0]["type"] == "header" and len(blocks[0]["text"]["text"]) <= 150
    sections = [b["text"]["text"] for b in blocks if b["type"] == "section"]
    assert all(len(s) <= 3000 for s in sections)
    shown = sum(s.count("• ") for s in sections)
    more = blocks[-2]["elements"][0]["text"]
    assert more == f"…and {2000 - shown} more"
    assert payload["text"].startswith("[P1] 2000 × rollback.completed · acme")


def test_small_batch_lists_every_item() -> None:
    payload = slack_payload(_batch(3, "cache config restored"))
    assert [b["type"] for b in payload["blocks"]] == ["header", "section", "context"]
    assert payload["blocks"][1]["text"]["text"].count("cache config restored") == 3


def test_signature_round_trip_and_rejections() -> None:
    body = b'{"delivery":"d-1"}'
    now = time.time()
    stamp = str(int(now))
    sig = sign(b"k", stamp, body)
    assert sig.startswith("sha256=") and len(sig) == 7 + 64
    assert verify_signature(b"k", stamp, body, sig, now)
    assert not verify_signature(b"k", stamp, body + b" ", sig, now)
    assert not verify_signature(b"other", stamp, body, sig, now)
    assert not verify_signature(b"k", stamp, body, sig, now + 301)
    assert not verify_signature(b"k", "soon", body, sig, now)


def test_environment_references(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("NOTIFY_TEST_HOST", "mail.test")
    assert expand("smtp://${NOTIFY_TEST_HOST}:25", "chair", "smtp_host") == "smtp://mail.test:25"
    monkeypatch.delenv("NOTIFY_TEST_MISSING", raising=False)
    with pytest.raises(DeliveryError, match=r"channel 'slack': url reads \$\{NOTIFY_TEST_MISSING\}, which is not set"):
        expand("${NOTIFY_TEST_MISSING}", "slack", "url")


def test_backoff_doubles_up_to_the_cap() -> None:
    assert [backoff_seconds(n, "30s", "5m") for n in range(1, 7)] == [30, 60, 120, 240, 300, 300]


def _load(tmp_path: Path, section: str) -> DefinitionError:
    path = tmp_path / "wf.yaml"
    path.write_text(f"extends: {MINI}\nnotifications:\n{section}", encoding="utf-8")
    with pytest.raises(DefinitionError) as caught:
        load_workflow(path)
    return caught.value


def test_route_to_unknown_channel_is_located(tmp_path: Path) -> None:
    err = _load(
        tmp_path,
        "  channels:\n    slack: {type: slack, url: '${X_URL}'}\n  routes:\n    - {kinds: ['*'], channels: [slak]}\n",
    )
    (problem,) = err.problems
    assert (Path(problem.file).name, problem.line) == ("wf.yaml", 6)
    assert "unknown channel 'slak'" in problem.message and "slack" in problem.hint


def test_incomplete_channel_is_located(tmp_path: Path) -> None:
    err = _load(tmp_path, "  channels:\n    hook: {type: webhook, url: 'http://h/x'}\n")
    (problem,) = err.problems
    assert problem.line == 4 and "needs `secret`" in problem.message


def test_malformed_environment_reference_is_located(tmp_path: Path) -> None:
    err = _load(tmp_path, "  channels:\n    mail: {type: email, to: [chair@studio.test, '$CHAIR']}\n")
    (problem,) = err.problems
    assert problem.line == 4 and "'$CHAIR' has a `$` that is not a `${NAME}` reference" in problem.message


def test_bundled_workflow_routes_the_studio_events() -> None:
    plan = RoutingPlan.for_workflow(load_workflow().workflow)
    assert {r.channel for r in plan.route("rollback.failed", 1, 19, None)} == {"slack", "chairman-email"}
    assert {r.channel for r in plan.route("escalation.opened", 1, 19, None)} == {"slack", "chairman-email"}
    for kind in ("approval.requested", "approval.expired", "recursion", "rollback.completed"):
        assert [r.channel for r in plan.route(kind, 1, 19, None)] == ["slack"], kind
    assert plan.route("stage.entered", 1, 19, None) == []
