"""Retention on SQLite and PostgreSQL: old samples go in batches, windows past the horizon are unknown, events stay."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest

from tests.conftest import CHAIR, LEAD, MINI, T0
from venturegate.core.conditions import evaluate, parse
from venturegate.definitions.loader import load_workflow
from venturegate.engine import Engine, SampleIn
from venturegate.store.database import connect, ensure_schema

RETENTION = "config:\n  metrics_retention_days: {type: int, default: 7, min: 1, max: 365}\n"
NOW = T0 + timedelta(days=30)
AGES = (10, 8, 4, 1)  # days before NOW


@pytest.fixture
def kept(db_url: str, tmp_path: Path) -> Iterator[Engine]:
    """The mini workflow with a workflow-wide `metrics_retention_days` of 7."""
    path = tmp_path / "retention.yaml"
    path.write_text(Path(MINI).read_text() + RETENTION)
    db = connect(db_url)
    ensure_schema(db)
    yield Engine(db, load_workflow(path), clock=lambda: NOW)
    db.dispose()


def _seed(eng: Engine, name: str) -> int:
    vid = eng.create_venture(name, "b2b_smb", actor=LEAD).id
    batch = [SampleIn(vid, "idea_score", float(d), NOW - timedelta(days=d), f"{name}-{d}") for d in AGES]
    eng.record_samples(batch, actor=LEAD, now=NOW)
    return vid


def _value(eng: Engine, vid: int, text: str) -> tuple[object, str]:
    from venturegate.engine.facts import StoreData

    with eng.tx() as conn:
        row = eng._row(conn, vid)
        data = StoreData(conn, vid, eng.workflow.workflow, 1, "b2b_smb", None, NOW, eng._config_overrides(conn, row))
        got = evaluate(parse(text), data, NOW)
    return got.value, got.reason


def test_retention_removes_old_samples_in_batches_and_keeps_events(kept: Engine) -> None:
    short, long_ = _seed(kept, "short"), _seed(kept, "long")
    kept.set_config(long_, "metrics_retention_days", 30, actor=CHAIR, reason="keep a month")
    events_before = {e.id for v in (short, long_) for e in kept.events(v)}
    report = kept.apply_retention(batch=1)  # one sample per transaction: writers never wait for more
    assert report.removed == {short: 2}
    left = kept.samples(short, "idea_score", since=NOW - timedelta(days=365), until=NOW)
    assert [p.value for p in left] == [4.0, 1.0]
    assert len(kept.samples(long_, "idea_score", since=NOW - timedelta(days=365), until=NOW)) == 4
    after = kept.events(short)
    assert events_before <= {e.id for v in (short, long_) for e in kept.events(v)}  # nothing deleted
    (note,) = [e for e in after if e.kind == "samples.retention"]
    assert note.data == {"removed": 2, "before": (NOW - timedelta(days=7)).isoformat(), "days": 7}
    assert kept.apply_retention().removed == {}  # nothing more to do: no second event


@pytest.mark.parametrize("function", ["count", "avg", "delta", "last", "p95"])
def test_a_window_past_retention_is_unknown_never_a_smaller_answer(kept: Engine, function: str) -> None:
    vid = _seed(kept, "acme")
    kept.apply_retention()
    value, reason = _value(kept, vid, f"{function}(idea_score, 14d) > 0")
    assert value is None and "past the samples' retention" in reason
    inside, _ = _value(kept, vid, f"{function}(idea_score, 6d) > -100")  # a known answer inside the horizon
    assert inside is True


def test_without_the_parameter_nothing_is_removed(engine: Engine) -> None:
    vid = _seed(engine, "acme")
    assert engine.apply_retention(now=NOW).removed == {}
    assert len(engine.samples(vid, "idea_score", since=NOW - timedelta(days=365), until=NOW)) == 4
