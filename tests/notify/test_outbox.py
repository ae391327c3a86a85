"""The outbox on SQLite and PostgreSQL, delivering to real loopback endpoints: nothing lost, nothing doubled."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import event as sa_event
from sqlalchemy import func, select
from sqlalchemy.exc import OperationalError

from tests.conftest import CHAIR, LEAD, T0
from tests.notify.conftest import Endpoints
from tests.notify.servers import Mode
from venturegate.definitions.loader import load_workflow
from venturegate.engine import SYSTEM, Collision, Conflict, Engine, NotFound, StoreUnavailable
from venturegate.engine.outbox import LEASE, Outbox
from venturegate.engine.records import Event
from venturegate.store.database import connect, ensure_schema
from venturegate.store.schema import events, outbox


def emit(eng: Engine, vid: int, kind: str, at: datetime, stage: int = 2, reason: str = "") -> None:
    """Append one event (as the engine's operations do), for kinds another layer produces."""
    with eng.tx() as conn:
        eng._event(conn, vid, kind, SYSTEM, at, stage=stage, reason=reason)


def venture(eng: Engine, name: str = "acme") -> int:
    v = eng.create_venture(name, "b2b_smb", 2, actor=LEAD)
    eng.attest(v.id, "Budget approved", actor=LEAD)
    return v.id


def statuses(eng: Engine) -> list[tuple[str, int]]:
    return sorted((e.status, e.attempts) for e in eng.outbox_entries())


def test_rows_are_written_in_the_event_transaction(notifying: Engine) -> None:
    vid = venture(notifying)
    assert notifying.outbox_entries() == []  # venture.created, stage.entered … route nowhere
    notifying.request_approval(vid, "chairman", actor=LEAD, reason="ship 2.2")
    (row,) = notifying.outbox_entries()
    assert (row.kind, row.channel, row.severity, row.status, row.attempts) == (
        "approval.requested",
        "slack",
        "P2",
        "pending",
        0,
    )
    assert row.next_attempt_at == T0 + timedelta(seconds=30)  # the group wait
    with pytest.raises(RuntimeError), notifying.tx() as conn:
        notifying._event(conn, vid, "rollback.failed", SYSTEM, T0, stage=2)
        raise RuntimeError("the operation fails after its event")
    assert len(notifying.outbox_entries()) == 1
    with notifying.tx() as conn:
        assert (
            conn.execute(select(func.count()).select_from(events).where(events.c.kind == "rollback.failed")).scalar()
            == 0
        )


def test_unrouted_events_cost_no_query(notifying: Engine) -> None:
    vid = venture(notifying)
    statements: list[str] = []

    def count(*args: Any) -> None:
        statements.append(str(args[2]))

    with notifying.tx() as conn:
        sa_event.listen(conn, "before_cursor_execute", count)
        for kind in ("stage.entered", "venture.paused", "trigger.pending", "outbox.retried"):
            notifying.outbox.notify(conn, Event(1, vid, kind, "x", None, "system", T0, 2, None, "", None))
        sa_event.remove(conn, "before_cursor_execute", count)
    assert statements == []


@pytest.mark.parametrize("outage", ["down", "error"])
def test_channel_outage_loses_nothing_and_delivers_once_back(
    notifying: Engine, endpoints: Endpoints, outage: Mode, reopen: Callable[[Engine], Engine]
) -> None:
    a, b = venture(notifying, "acme"), venture(notifying, "bolt")
    for i in range(3):
        emit(notifying, a, "rollback.completed", T0 + timedelta(seconds=i), reason=f"acme rollback {i}")
    emit(notifying, b, "rollback.completed", T0, reason="bolt rollback")
    endpoints.slack.set_mode(outage)
    first = notifying.deliver_outbox(T0 + timedelta(seconds=30))
    assert (first.claimed, first.sent, first.retrying, first.dead) == (4, 0, 4, [])
    assert all(e.startswith("slack: ") for e in first.errors) and len(first.errors) == 2
    assert statuses(notifying) == [("pending", 1)] * 4
    assert first.next_due == T0 + timedelta(seconds=40)  # 10s backoff
    assert notifying.deliver_outbox(T0 + timedelta(seconds=39)).claimed == 0  # not due yet: durable schedule
    again = reopen(notifying)  # the schedule and the counts survive a restart
    second = again.deliver_outbox(T0 + timedelta(seconds=40))
    assert (second.retrying, second.next_due) == (4, T0 + timedelta(seconds=60))  # doubled
    assert statuses(again) == [("pending", 2)] * 4
    endpoints.slack.set_mode("up")
    third = again.deliver_outbox(T0 + timedelta(seconds=60))
    assert (third.sent, third.messages, third.next_due) == (4, 2, None)
    assert again.deliver_outbox(T0 + timedelta(hours=1)).claimed == 0
    texts = [m["text"] for m in endpoints.slack.received]
    assert len(texts) == 2
    for reason in ("acme rollback 0", "acme rollback 1", "acme rollback 2", "bolt rollback"):
        assert sum(t.count(reason) for t in texts) == 1, reason
    assert statuses(again) == [("sent", 3)] * 4


def test_dead_letter_after_last_attempt_and_retry(notifying: Engine, endpoints: Endpoints) -> None:
    vid = venture(notifying)
    emit(notifying, vid, "escalation.opened", T0, reason="loop at stage 2")  # slack and the signed webhook
    endpoints.slack.set_mode("down")
    now = T0 + timedelta(seconds=30)
    for _ in range(3):
        report = notifying.deliver_outbox(now)
        now = report.next_due or now
    (dead,) = notifying.outbox_entries("dead")
    assert (dead.channel, dead.attempts) == ("slack", 3)
    assert dead.last_error and "ClientConnectorError" in dead.last_error
    assert report.dead == [dead.id]
    assert [e.status for e in notifying.outbox_entries("sent")] == ["sent"]  # the webhook got it first time
    assert notifying.deliver_outbox(now + timedelta(days=1)).claimed == 0  # dead rows are left alone
    endpoints.slack.set_mode("up")
    back = notifying.retry_outbox(dead.id, actor=CHAIR, now=now)
    assert (back.status, back.attempts, back.next_attempt_at) == ("pending", 0, now)
    assert notifying.deliver_outbox(now).sent == 1
    assert "loop at stage 2" in endpoints.slack.received[0]["text"]
    assert [e.kind for e in notifying.events(vid)][-1] == "outbox.retried"
    with pytest.raises(Conflict, match="is sent; only a dead one"):
        notifying.retry_outbox(dead.id, actor=CHAIR)
    with pytest.raises(NotFound, match="no notification #999"):
        notifying.retry_outbox(999, actor=CHAIR)


def test_bursts_are_grouped_by_group_wait(notifying: Engine, endpoints: Endpoints) -> None:
    vid = venture(notifying)
    for s in (0, 10, 29):
        emit(notifying, vid, "rollback.completed", T0 + timedelta(seconds=s), reason=f"at {s}s")
    emit(notifying, vid, "rollback.failed", T0 + timedelta(seconds=20), stage=2, reason="handler failed")
    emit(notifying, vid, "rollback.completed", T0 + timedelta(seconds=45), reason="at 45s")
    assert notifying.deliver_outbox(T0 + timedelta(seconds=29)).claimed == 0  # the group waits
    first = notifying.deliver_outbox(T0 + timedelta(seconds=30))
    assert (first.messages, first.sent) == (1, 4)  # the failed rollback (P0) joined its group's message
    (slack,) = endpoints.slack.received
    assert slack["text"].startswith("[P0] 4 × rollback events · acme")
    assert [r for r in ("at 0s", "at 10s", "at 29s", "handler failed") if r in slack["text"]] == [
        "at 0s",
        "at 10s",
        "at 29s",
        "handler failed",
    ]
    mail = notifying.deliver_outbox(T0 + timedelta(seconds=50))  # its e-mail waited in a group of its own
    assert (mail.messages, mail.sent, len(endpoints.smtp.inbox.messages)) == (1, 1, 1)
    assert notifying.deliver_outbox(T0 + timedelta(seconds=74)).claimed == 0
    later = notifying.deliver_outbox(T0 + timedelta(seconds=75))
    assert (later.messages, later.sent) == (1, 1)
    assert endpoints.slack.received[1]["text"] == "[P1] rollback.completed · acme · stage 2 — at 45s"


def test_routing_by_kind_severity_and_stage(notifying: Engine) -> None:
    vid = venture(notifying)
    cases = [
        ("rollback.completed", 2, {"slack"}),
        ("rollback.completed", 3, {"slack", "hook"}),
        ("rollback.failed", 2, {"slack", "chair"}),
        ("approval.bypassed", 2, {"slack"}),
        ("escalation.opened", 2, {"slack", "hook"}),
        ("venture.paused", 2, set()),
    ]
    for kind, stage, channels in cases:
        with notifying.tx() as conn:
            first = conn.execute(select(func.coalesce(func.max(outbox.c.id), 0))).scalar_one()
        emit(notifying, vid, kind, T0, stage=stage)
        got = {e.channel for e in notifying.outbox_entries() if e.id > first}
        assert got == channels, (kind, stage)


def test_signed_webhook_verifies_at_the_receiver(
    notifying: Engine, endpoints: Endpoints, monkeypatch: pytest.MonkeyPatch
) -> None:
    vid = venture(notifying)
    emit(notifying, vid, "rollback.completed", T0, stage=3, reason="traffic back to blue")
    report = notifying.deliver_outbox(T0 + timedelta(seconds=30))
    assert report.sent == 2 and endpoints.hook.rejected == 0
    (signed,) = endpoints.hook.received
    assert signed.delivery == signed.body["delivery"]
    (item,) = signed.body["notifications"]
    assert (item["kind"], item["venture"], item["reason"]) == ("rollback.completed", "acme", "traffic back to blue")
    monkeypatch.setenv("NOTIFY_TEST_HOOK_SECRET", "a-wrong-key")
    emit(notifying, vid, "rollback.completed", T0 + timedelta(minutes=5), stage=3)
    bad = notifying.deliver_outbox(T0 + timedelta(minutes=6))
    assert endpoints.hook.rejected == 1
    assert bad.errors == ["hook: HTTP 401: bad signature"]


def test_email_reaches_the_smtp_server(notifying: Engine, endpoints: Endpoints) -> None:
    vid = venture(notifying)
    emit(notifying, vid, "rollback.failed", T0, reason="campaign pause handler failed")
    assert notifying.deliver_outbox(T0 + timedelta(seconds=30)).sent == 2
    (msg,) = endpoints.smtp.inbox.messages
    assert endpoints.smtp.inbox.recipients == [["chair@studio.test"]]
    assert msg["Subject"] == "[P0] rollback.failed · acme · stage 2 — campaign pause handler failed"
    assert msg["From"] == "gate@studio.test"
    body = msg.get_body(("plain",))
    assert body is not None and "campaign pause handler failed" in body.get_content()


def test_engine_operations_notify(notifying: Engine, endpoints: Endpoints) -> None:
    vid = venture(notifying)
    notifying.request_approval(vid, "chairman", actor=LEAD, reason="cut over")
    notifying.tick(now=T0 + timedelta(hours=25))  # the request expires
    at = T0 + timedelta(hours=26)
    notifying.record_sample(vid, "latency_ms", 950, actor=LEAD, now=at)  # BACK-1 recurses
    notifying.record_sample(vid, "latency_ms", 1500, actor=LEAD, now=at + timedelta(seconds=1))  # SLOW-1 pending
    notifying.tick(now=at + timedelta(seconds=4))  # SLOW-1 alert (P1)
    notifying.record_sample(vid, "latency_ms", 100, actor=LEAD, now=at + timedelta(seconds=5))
    notifying.record_sample(vid, "latency_ms", 950, actor=LEAD, now=at + timedelta(seconds=6))  # past max: escalates
    kinds = [(e.kind, e.severity) for e in reversed(notifying.outbox_entries()) if e.channel == "slack"]
    assert kinds == [
        ("approval.requested", "P2"),
        ("approval.expired", "P2"),
        ("recursion", "P1"),
        ("alert", "P1"),
        ("escalation.opened", "P1"),
    ]
    report = notifying.deliver_outbox(at + timedelta(minutes=1))
    assert report.sent == 6 and report.retrying == 0  # five on Slack, the escalation on the webhook too


def test_a_crashed_deliverer_loses_nothing(notifying: Engine, endpoints: Endpoints) -> None:
    vid = venture(notifying)
    emit(notifying, vid, "rollback.completed", T0, reason="restored")
    now = T0 + timedelta(seconds=30)
    claimed = notifying.outbox.claim(now, 10)  # a deliverer claims, then dies before sending
    assert len(claimed) == 1
    assert notifying.deliver_outbox(now + timedelta(seconds=1)).claimed == 0  # held by the lease
    (row,) = notifying.outbox_entries()
    assert row.status == "pending"
    late = now + LEASE
    assert notifying.deliver_outbox(late).sent == 1
    plan, _ = notifying.outbox.routing()
    stale = notifying.outbox.settle(claimed, {claimed[0].batch.delivery: "timed out"}, late, plan)
    assert stale.retrying == 0 and stale.dead == []  # the dead deliverer's late word changes nothing
    assert statuses(notifying) == [("sent", 1)]
    assert len(endpoints.slack.received) == 1


def test_the_claim_lease_is_the_workflows(db_url: str, workflow_file: Path, endpoints: Endpoints) -> None:
    """`notifications.lease`: a dead deliverer's claim lapses after the workflow's lease, not the default's."""
    short = workflow_file.with_name("short-lease.yaml")
    short.write_text(workflow_file.read_text().replace("  group_wait: 30s\n", "  group_wait: 30s\n  lease: 5s\n"))
    db = connect(db_url)
    ensure_schema(db)
    eng = Engine(db, load_workflow(short), clock=lambda: T0)
    try:
        vid = venture(eng)
        emit(eng, vid, "rollback.completed", T0, reason="restored")
        now = T0 + timedelta(seconds=30)
        assert len(eng.outbox.claim(now, 10)) == 1  # claimed by a deliverer that dies
        assert eng.deliver_outbox(now + timedelta(seconds=4)).claimed == 0
        assert eng.deliver_outbox(now + timedelta(seconds=5)).sent == 1
        assert len(endpoints.slack.received) == 1
    finally:
        db.dispose()


@pytest.mark.parametrize(
    "failure",
    [
        # What the engine's transaction raises for a lost connection and for a lock wait that ran out…
        StoreUnavailable("the database connection was lost; nothing was changed, retry", False),
        Collision("another change holds this venture; nothing was changed", "lock_timeout", False),
        # …and the driver's own error, as a statement outside an engine transaction raises it.
        OperationalError("UPDATE outbox", {}, Exception("terminating connection due to administrator command")),
    ],
    ids=["lost-connection", "collision", "driver-error"],
)
def test_a_dropped_connection_while_recording_does_not_send_again(
    notifying: Engine, endpoints: Endpoints, monkeypatch: pytest.MonkeyPatch, failure: Exception
) -> None:
    vid = venture(notifying)
    emit(notifying, vid, "rollback.completed", T0, reason="restored")
    real = Outbox.settle
    calls: list[int] = []

    def dropped_once(self: Outbox, *args: Any) -> Any:
        calls.append(1)
        if len(calls) == 1:
            raise failure
        return real(self, *args)

    monkeypatch.setattr(Outbox, "settle", dropped_once)
    now = T0 + timedelta(seconds=30)
    assert notifying.deliver_outbox(now).sent == 1 and len(calls) == 2
    assert notifying.deliver_outbox(now + LEASE).claimed == 0  # recorded: nothing falls due again
    assert statuses(notifying) == [("sent", 1)] and len(endpoints.slack.received) == 1
