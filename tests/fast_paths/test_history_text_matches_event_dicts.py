"""An escalation's history, assembled from the events' stored JSON text, is their `as_dict()` list as before."""

from __future__ import annotations

import json
from datetime import timedelta

from sqlalchemy import Text, cast, select

from tests.conftest import AGENT, T0
from venturegate.engine import Engine
from venturegate.store.schema import escalations

M = timedelta(minutes=1)


def test_the_history_is_the_last_events_as_dicts(tiny: Engine) -> None:
    v = tiny.create_venture("history", "b2b_smb", 2, actor=AGENT, now=T0).id
    t = T0
    for value in (9, 0, 9, 0, 9):  # REDO-RUN (max 2): two recursions, then the escalation
        t += M
        tiny.record_sample(v, "errors", value, actor=AGENT, now=t)
    (esc,) = tiny.escalations(ref=v)
    expected = [e.as_dict() for e in tiny.events(v)][:-1]  # up to the trigger.fired event, before escalation.opened
    assert len(expected) < 25 and esc.history == expected
    assert esc.history[-1]["kind"] == "trigger.fired" and esc.history[-1]["data"]["explanation"]
    with tiny.db.connect() as conn:
        stored = conn.execute(select(cast(escalations.c.history, Text)).where(escalations.c.venture_id == v)).scalar()
    if tiny.db.dialect.name == "sqlite":  # the text the column's serializer would have written
        assert stored == json.dumps(expected)
    else:
        assert stored is not None and json.loads(stored) == expected
    last = [e.as_dict() for e in tiny.events(v)][-3:]
    with tiny.tx() as conn:  # the limit keeps the newest events
        assert json.loads(tiny._history(conn, v, limit=3).text) == last
