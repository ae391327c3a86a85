"""A sample stored at `now` is judged without reading it back; the result must be what reading it back gives.

Each case compares the trigger's stored explanation with the sample that the store itself returns as the
newest at or before `now` (ties on time go to the sample stored last).
"""

from __future__ import annotations

import math
from datetime import timedelta

from tests.conftest import AGENT, T0
from tests.triggers.helpers import trig
from venturegate.engine import Engine, SampleIn

M = timedelta(minutes=1)


def _newest(eng: Engine, v: int, metric: str) -> float:
    """The value the store returns as the newest sample at or before T0 + 1h."""
    return eng.samples(v, metric, since=T0 - timedelta(days=1), until=T0 + 60 * M)[-1].value


def test_a_later_sample_in_the_future_does_not_count(tiny: Engine) -> None:
    v = tiny.create_venture("future", "b2b_smb", 2, actor=AGENT).id
    tiny.record_sample(v, "quality", 90, actor=AGENT, at=T0 + 2 * M, now=T0)  # within the clock-skew slack
    got = tiny.record_sample(v, "quality", 40, actor=AGENT, now=T0)
    assert [f.trigger for f in got.fired] == ["LOW-QUALITY"]
    row = trig(tiny, v, "LOW-QUALITY")
    assert (row["state"], row["last_value"]["left"]) == ("firing", 40)


def test_samples_at_the_same_instant_go_to_the_one_stored_last(tiny: Engine) -> None:
    v = tiny.create_venture("tie", "b2b_smb", 2, actor=AGENT).id
    tiny.record_sample(v, "quality", 40, actor=AGENT, now=T0)
    tiny.record_sample(v, "quality", 60, actor=AGENT, now=T0)
    assert trig(tiny, v, "LOW-QUALITY")["last_value"]["left"] == 60
    tiny.record_samples([SampleIn(v, "quality", 70), SampleIn(v, "quality", 45)], actor=AGENT, now=T0 + M)
    assert trig(tiny, v, "LOW-QUALITY")["last_value"]["left"] == 45
    # The sample at `now` stays the newest when an older one follows it in the batch.
    tiny.record_samples([SampleIn(v, "quality", 80), SampleIn(v, "quality", 10, at=T0)], actor=AGENT, now=T0 + 2 * M)
    row = trig(tiny, v, "LOW-QUALITY")
    assert (row["state"], row["last_value"]["left"]) == ("inactive", 80)


def test_an_older_sample_is_read_back(tiny: Engine) -> None:
    v = tiny.create_venture("late", "b2b_smb", 2, actor=AGENT).id
    tiny.record_sample(v, "quality", 70, actor=AGENT, now=T0 + M)
    tiny.record_sample(v, "quality", 30, actor=AGENT, at=T0, now=T0 + 2 * M)
    assert trig(tiny, v, "LOW-QUALITY")["last_value"]["left"] == 70 == _newest(tiny, v, "quality")


def test_negative_zero_reads_as_the_store_keeps_it(tiny: Engine) -> None:
    v = tiny.create_venture("zero", "b2b_smb", 2, actor=AGENT).id
    tiny.record_sample(v, "score", -0.0, actor=AGENT, now=T0)
    left = trig(tiny, v, "ASK-REPLAN")["last_value"]["left"]
    stored = _newest(tiny, v, "score")
    assert left == 0 and math.copysign(1, left) == math.copysign(1, stored)
