"""A firing trigger's explanation, encoded once for its state and its event, is stored as each encoding would be."""

from __future__ import annotations

import json
from datetime import timedelta

from sqlalchemy import Text, cast, select

from tests.conftest import AGENT, T0
from venturegate.engine import Engine
from venturegate.store.schema import events, trigger_state

M = timedelta(minutes=1)


def test_state_and_event_store_the_serializers_text(tiny: Engine) -> None:
    v = tiny.create_venture("encoded", "b2b_smb", 2, actor=AGENT, now=T0).id
    got = tiny.record_sample(v, "errors", 9, actor=AGENT, now=T0 + M)
    assert [f.outcome for f in got.fired] == ["acted"]
    (fired,) = [e for e in tiny.events(v) if e.kind == "trigger.fired"]
    assert fired.data is not None and set(fired.data) == {"trigger", "kind", "explanation"}
    state = next(t for t in tiny.trigger_status(v) if t["trigger"] == "REDO-RUN")
    assert state["last_value"] == fired.data["explanation"]
    with tiny.db.connect() as conn:
        event_text = conn.execute(select(cast(events.c.data, Text)).where(events.c.id == fired.id)).scalar_one()
        state_text = conn.execute(
            select(cast(trigger_state.c.last_value, Text)).where(
                trigger_state.c.venture_id == v, trigger_state.c.trigger_id == "REDO-RUN"
            )
        ).scalar_one()
    if tiny.db.dialect.name == "sqlite":  # byte for byte what the JSON columns' serializer writes
        assert event_text == json.dumps(fired.data)
        assert state_text == json.dumps(fired.data["explanation"])
    else:
        assert json.loads(event_text) == fired.data and json.loads(state_text) == fired.data["explanation"]
