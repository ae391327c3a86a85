"""`EngineBase._event`: given the venture row, the event is the venture's at the row's stage unless told otherwise."""

from __future__ import annotations

from tests.conftest import AGENT, T0
from venturegate.engine import Engine
from venturegate.engine.actors import SYSTEM


def test_an_event_about_a_row_is_at_its_stage_unless_a_stage_is_given(engine: Engine) -> None:
    vid = engine.create_venture("ev", "b2b_smb", 2, actor=AGENT).id
    with engine.tx() as conn:
        row = engine._row(conn, vid)
        ids = [
            engine._event(conn, row, "test.row", SYSTEM, T0),
            engine._event(conn, row, "test.row_other_stage", SYSTEM, T0, stage=5),
            engine._event(conn, row, "test.row_no_stage", SYSTEM, T0, stage=None),
            engine._event(conn, row.id, "test.id", SYSTEM, T0),
            engine._event(conn, None, "test.none", SYSTEM, T0, stage=3),
        ]
    got = {e.id: e for e in engine.events(kind="test.")}
    assert [(got[i].kind, got[i].venture_id, got[i].stage) for i in ids] == [
        ("test.row", vid, 2),
        ("test.row_other_stage", vid, 5),
        ("test.row_no_stage", vid, None),
        ("test.id", vid, None),
        ("test.none", None, 3),
    ]
