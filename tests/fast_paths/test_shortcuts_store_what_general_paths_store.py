"""The shortcuts of the hot paths store exactly what the general paths store (SQLite and PostgreSQL)."""

from __future__ import annotations

import json
from collections.abc import Callable

from sqlalchemy import select

from tests.conftest import LEAD
from venturegate.engine import Actor, Engine
from venturegate.store.schema import snapshots, ventures


def _stored(eng: Engine, vid: int) -> tuple[int, object, object]:
    with eng.db.connect() as conn:
        row = conn.execute(select(ventures).where(ventures.c.id == vid)).one()
    return int(row.revision), row.created_at, row.updated_at


def test_a_created_venture_is_entered_in_one_revision(engine: Engine, reopen: Callable[[Engine], Engine]) -> None:
    v = engine.create_venture("acme", "b2b_smb", actor=LEAD)
    again = reopen(engine)
    # What creating and then entering the start stage stored: one update on top of the insert.
    assert _stored(again, v.id) == (1, v.created_at, v.created_at)
    assert again.venture(v.id) == v
    assert [(x.stage, x.attempt, x.outcome) for x in again.visits(v.id)] == [(1, 1, None)]
    assert [(s.id, s.status, s.items) for s in again.substages(v.id)] == [
        (s.id, "open", [])
        for s in engine.workflow.workflow.stage(1).substages  # type: ignore[union-attr]
    ]
    assert [e.kind for e in again.events(v.id)] == ["venture.created", "stage.entered"]
    with again.db.connect() as conn:
        assert conn.execute(select(snapshots.c.name).where(snapshots.c.venture_id == v.id)).scalars().all() == [
            "pre-stage-1"
        ]


def test_a_venture_created_behind_a_closed_entry_gate_is_blocked(engine: Engine) -> None:
    v = engine.create_venture("late", "b2b_smb", 2, actor=LEAD)
    assert (v.stage, v.status) == (2, "blocked")
    assert v.status_detail is not None and v.status_detail["passed"] is False
    assert v == engine.venture(v.id)
    assert _stored(engine, v.id)[0] == 2
    assert [e.kind for e in engine.events(v.id)] == ["venture.created", "stage.entered", "venture.blocked"]
    engine.attest(v.id, "Budget approved", actor=LEAD)
    assert engine.venture(v.id).status == "active"


def test_the_escalation_history_is_the_json_of_the_events(engine: Engine) -> None:
    v = engine.create_venture("histoire", "b2b_smb", actor=LEAD)
    now = engine.clock()
    odd = Actor('Zoë "the" bot', None, "agent")  # type: ignore[arg-type]
    with engine.tx() as conn:
        engine._event(conn, v.id, "note.odd", odd, now, reason="line\nbreak ☃ \u2028", data={"é": [1.5, None]})
        engine._event(conn, v.id, "note.sub", LEAD, now, stage=1, substage="1.2", data=None)
        text = engine._history(conn, v.id).text
    expected = [e.as_dict() for e in engine.events(v.id)]
    assert text == json.dumps(expected)
    assert json.loads(text) == expected
