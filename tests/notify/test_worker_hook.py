"""The worker's wake-up task delivers the outbox after running timers, and wakes again when the next row is due."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

from tests.conftest import LEAD
from tests.notify.conftest import Endpoints
from venturegate.definitions.loader import load_workflow
from venturegate.engine import Engine
from venturegate.store.database import connect, ensure_schema
from venturegate.worker import make_huey, register


def test_wake_delivers_due_notifications(tmp_path: Path, workflow_file: Path, endpoints: Endpoints) -> None:
    db = connect(f"sqlite:///{tmp_path / 'vg.db'}")
    ensure_schema(db)
    # The engine's clock starts at the wall clock's time, on which Huey schedules the task's next run: with a fixed
    # past time (T0) every next run was due on Huey's clock, so immediate-mode Huey ran it again at once, ~150
    # runs deep until Python's recursion limit (an error Huey logs and swallows) cut whatever ran at that depth.
    start = datetime.now(UTC).replace(microsecond=0)
    clock = [start]
    eng = Engine(db, load_workflow(workflow_file), clock=lambda: clock[0])
    huey = make_huey(f"sqlite:///{tmp_path / 'queue.db'}", immediate=True)
    try:
        wake = register(huey, lambda: eng)
        v = eng.create_venture("acme", "b2b_smb", 2, actor=LEAD)
        eng.request_approval(v.id, "chairman", actor=LEAD, reason="cut over")
        wake()
        assert endpoints.slack.received == []  # inside the group wait
        # It wakes again when the group is due (Huey keeps etas as naive UTC).
        assert [t.eta for t in huey.scheduled()] == [(start + timedelta(seconds=30)).replace(tzinfo=None)]
        clock[0] = start + timedelta(seconds=30)
        wake()
        assert [m["text"] for m in endpoints.slack.received] == ["[P2] approval.requested · acme · stage 2 — cut over"]
        assert [e.status for e in eng.outbox_entries()] == ["sent"]
    finally:
        db.dispose()
