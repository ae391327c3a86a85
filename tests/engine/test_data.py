"""Samples and artifacts: validation, idempotency, versions and lineage."""

from __future__ import annotations

from datetime import timedelta

import pytest

from tests.conftest import AGENT, LEAD, T0
from venturegate.engine import ArtifactInvalid, BadInput, Engine, NotFound, SampleIn


def test_sample_validation(engine: Engine) -> None:
    v = engine.create_venture("acme", "b2b_smb", actor=LEAD)
    with pytest.raises(BadInput, match="unknown metric 'idea_scor'") as exc:
        engine.record_sample(v.id, "idea_scor", 3, actor=AGENT)
    assert "idea_score" in exc.value.hint
    with pytest.raises(BadInput, match="negative"):
        engine.record_sample(v.id, "latency_ms", -1, actor=AGENT)
    with pytest.raises(BadInput, match="finite"):
        engine.record_sample(v.id, "idea_score", float("nan"), actor=AGENT)
    with pytest.raises(BadInput, match="future"):
        engine.record_sample(v.id, "idea_score", 3, actor=AGENT, at=T0 + timedelta(hours=1))


def test_idempotency_key(engine: Engine) -> None:
    v = engine.create_venture("acme", "b2b_smb", actor=LEAD)
    first = engine.record_sample(v.id, "idea_score", 7, actor=AGENT, key="run-1")
    again = engine.record_sample(v.id, "idea_score", 7, actor=AGENT, key="run-1")
    assert (first.samples[0].duplicate, again.samples[0].duplicate) == (False, True)
    res = engine.record_samples(
        [
            SampleIn(v.id, "idea_score", 1, key="b"),
            SampleIn(v.id, "idea_score", 2, key="b"),
            SampleIn("acme", "idea_score", 3),
        ],
        actor=AGENT,
    )
    assert [r.duplicate for r in res.samples] == [False, True, False]
    data = engine.check_gate(v.id).checks[2]
    assert data.observed == 3.0


def test_batch_is_all_or_nothing(engine: Engine) -> None:
    v = engine.create_venture("acme", "b2b_smb", actor=LEAD)
    batch = [SampleIn(v.id, "idea_score", 5, at=T0 - timedelta(minutes=2)), SampleIn(v.id, "latency_ms", -3)]
    with pytest.raises(BadInput) as exc:
        engine.record_samples(batch, actor=AGENT)
    assert exc.value.where.startswith("sample 1.value")
    assert engine.check_gate(v.id).checks[2].verdict == "unknown"


def test_artifact_validation_lists_pointers_and_stores_nothing(engine: Engine) -> None:
    v = engine.create_venture("acme", "b2b_smb", actor=LEAD)
    with pytest.raises(ArtifactInvalid) as exc:
        engine.put_artifact(v.id, "idea_brief", {"title": "x", "budget": -5, "extra": 1}, actor=AGENT)
    pointers = [p for p, _ in exc.value.errors]
    assert pointers == ["", "", "/budget", "/title"]
    assert any("problem" in why for _, why in exc.value.errors)
    with pytest.raises(NotFound):
        engine.artifact(v.id, "idea_brief")
    with pytest.raises(BadInput, match="unknown artifact"):
        engine.put_artifact(v.id, "idea_brif", {}, actor=AGENT)


def test_artifact_versions_hash_and_lineage(engine: Engine) -> None:
    v = engine.create_venture("acme", "b2b_smb", actor=LEAD)
    notes = engine.put_artifact(v.id, "market_notes", {"seen": 3}, actor=AGENT)
    one = engine.put_artifact(
        v.id, "idea_brief", {"title": "abc", "problem": "p"}, actor=AGENT, derived_from=["market_notes@1"]
    )
    same = engine.put_artifact(
        v.id, "idea_brief", {"problem": "p", "title": "abc"}, actor=AGENT, derived_from=["market_notes@1"]
    )
    two = engine.put_artifact(
        v.id,
        "idea_brief",
        {"title": "abcd", "problem": "p"},
        actor=AGENT,
        derived_from=["idea_brief@1", "market_notes@1"],
    )
    assert (notes.version, one.version, same.version, two.version) == (1, 1, 1, 2)
    assert one.content_hash == same.content_hash != two.content_hash
    chain = [(d, f"{a.name}@{a.version}") for d, a in engine.lineage(v.id, "idea_brief")]
    assert chain == [(0, "idea_brief@2"), (1, "idea_brief@1"), (2, "market_notes@1")]
    assert engine.artifact(v.id, "idea_brief", 1).content == {"title": "abc", "problem": "p"}
    with pytest.raises(NotFound):
        engine.put_artifact(
            v.id, "idea_brief", {"title": "abc", "problem": "q"}, actor=AGENT, derived_from=["market_notes@7"]
        )
    with pytest.raises(BadInput, match="NAME@VERSION"):
        engine.put_artifact(v.id, "idea_brief", {"title": "abc", "problem": "q"}, actor=AGENT, derived_from=["oops"])
