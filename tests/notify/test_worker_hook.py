"""The worker's wake-up task delivers the outbox after running timers, and wakes again when the next row is due."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

from tests.conftest import LEAD, T0
from tests.notify.conftest import Endpoints
from venturegate.definitions.loader import load_workflow
from venturegate.engine import Engine
from venturegate.store.database import connect, ensure_schema
from venturegate.worker import make_huey, register


def test_wake_delivers_due_notifications(tmp_path: Path, workflow_file: Path, endpoints: Endpoints) -> None:
    db = connect(f"sqlite:///{tmp_path / 'vg.db'}")
    ensure_schema(db)
    clock = [T0]
    eng = Engine(db, load_workflow(workflow_file), clock=lambda: clock[0])
    huey = make_huey(f"sqlite:///{tmp_path / 'queue.db'}", immediate=True)
    try:
        wake = register(huey, lambda: eng)
        v = eng.create_venture("acme", "b2b_smb", 2, actor=LEAD)
        eng.request_approval(v.id, "chairman", actor=LEAD, reason="cut over")
        wake()
        assert endpoints.slack.received == []  # inside the group wait
        clock[0] = T0 + timedelta(seconds=30)
        wake()
        assert [m["text"] for m in endpoints.slack.received] == ["[P2] approval.requested · acme · stage 2 — cut over"]
        assert [e.status for e in eng.outbox_entries()] == ["sent"]
    finally:
        db.dispose()
