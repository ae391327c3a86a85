"""A venture's trigger states read with its row (one query, by id or name) are what the separate reads return."""

from __future__ import annotations

from datetime import timedelta

from tests.conftest import AGENT, T0
from venturegate.engine import Engine, SampleIn

M = timedelta(minutes=1)


def test_the_joined_read_matches_the_row_and_the_states(tiny: Engine) -> None:
    v = tiny.create_venture("joined", "b2b_smb", 2, actor=AGENT).id
    other = tiny.create_venture("other", "b2b_smb", 2, actor=AGENT).id
    with tiny.tx() as conn:
        assert tiny.triggers.row_with_states(conn, v)[1] in ({}, None)  # no trigger state yet
    tiny.record_sample(v, "quality", 40, actor=AGENT, now=T0)
    tiny.record_sample(v, "quality", 90, actor=AGENT, now=T0 + M)
    with tiny.tx() as conn:
        row, states = tiny.triggers.row_with_states(conn, v)
        assert row == tiny._row(conn, v)
        assert states == tiny.triggers.states(conn, v) and states
        assert tiny.triggers.row_with_states(conn, "joined") == (row, states)  # by name: resolved, then the same read
        locked = tiny.triggers.row_with_states(conn, v, lock=True)  # PostgreSQL: FOR UPDATE OF ventures
        assert locked == (row, states)
    # A batch naming ventures both ways judges each one once, as separate calls would.
    got = tiny.record_samples(
        [SampleIn(v, "quality", 30), SampleIn("other", "quality", 30), SampleIn(other, "quality", 95)],
        actor=AGENT,
        now=T0 + 2 * M,
    )
    assert sorted(f.venture_id for f in got.fired) == [v]
