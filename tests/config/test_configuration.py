"""Configuration per venture: default → segment → venture override, validated, versioned, never forgotten."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from tests.conftest import AGENT, CHAIR, LEAD, T0
from venturegate.engine import BadInput, Conflict, Engine, Forbidden, NotFound


def _settings(eng: Engine, v: int) -> dict[str, tuple[Any, str, int | None]]:
    return {s.key: (s.value, s.source, s.version) for s in eng.config(v)}


def test_effective_value_says_where_it_came_from(cfg: Engine) -> None:
    mass = cfg.create_venture("mass", "b2c_mass", 2, actor=AGENT).id
    smb = cfg.create_venture("smb", "b2b_smb", 2, actor=AGENT).id
    assert _settings(cfg, mass)["rollback.error_threshold"] == (3, "segment", None)
    assert _settings(cfg, smb)["rollback.error_threshold"] == (5, "default", None)
    change = cfg.set_config(smb, "rollback.error_threshold", "4.5", actor=LEAD, reason="stricter")
    assert (change.version, change.value, change.previous, change.change) == (1, 4.5, 5, "set")
    assert _settings(cfg, smb)["rollback.error_threshold"] == (4.5, "venture", 1)
    assert _settings(cfg, mass)["rollback.error_threshold"] == (3, "segment", None)  # other ventures untouched
    # Stage-own parameters are visible from their stage; workflow-wide ones from every stage.
    assert "run.workers" in _settings(cfg, smb)
    one = cfg.setting(smb, "traffic.canary_steps")
    assert (one.value, one.type, one.min, one.max, one.unit, one.stage) == (
        [10, 50, 100],
        "list[int]",
        1,
        100,
        "percent",
        None,
    )


@pytest.mark.parametrize(
    ("key", "value", "message"),
    [
        ("rollback.error_threshold", "12", "12 is out of range; allowed: a number from 1 to 10 percent"),
        ("rollback.error_threshold", "lots", "'lots' is not a number; allowed: a number from 1 to 10 percent"),
        ("cache.size", "5", "5 is out of range; allowed: an integer of at least 10"),
        ("cache.size", "12.5", "'12.5' is not an integer"),
        ("traffic.canary_steps", "10,150", "150 is out of range; allowed: a list of integers"),
        ("traffic.canary_steps", "10,x", "'x' is not an integer"),
        ("traffic.colour", "purple", "'purple' is not allowed; allowed: one of blue, green"),
        ("cache.ttl", "soon", "'soon' is not a duration; allowed: a duration such as 30s, 5m"),
        ("cache.enabled", "maybe", "'maybe' is not true or false"),
    ],
)
def test_bad_values_are_refused_with_the_allowed_range_and_nothing_is_written(
    cfg: Engine, key: str, value: str, message: str
) -> None:
    v = cfg.create_venture("acme", "b2b_smb", 2, actor=AGENT).id
    before = (cfg.events(v), cfg.venture(v))
    with pytest.raises(BadInput) as exc:
        cfg.set_config(v, key, value, actor=LEAD, reason="try")
    assert exc.value.where == key
    assert message in exc.value.message
    assert cfg.config_history(v) == []
    assert (cfg.events(v), cfg.venture(v)) == before


@pytest.mark.parametrize(
    ("key", "text", "stored"),
    [
        ("traffic.canary_steps", "5, 25,100", [5, 25, 100]),
        ("traffic.canary_steps", "[20, 100]", [20, 100]),
        ("traffic.colour", "green", "green"),
        ("cache.ttl", "90s", "90s"),
        ("cache.enabled", "no", False),
        ("cache.size", "250", 250),
        ("rollback.error_threshold", "7.5", 7.5),
    ],
)
def test_values_are_parsed_to_their_type(cfg: Engine, key: str, text: str, stored: object) -> None:
    v = cfg.create_venture("acme", "b2b_smb", 2, actor=AGENT).id
    cfg.set_config(v, key, text, actor=LEAD, reason="tune")
    got = cfg.setting(v, key).value
    assert got == stored and type(got) is type(stored)


def test_unknown_key_missing_reason_role_and_state_are_refused(cfg: Engine) -> None:
    v = cfg.create_venture("acme", "b2b_smb", 2, actor=AGENT).id
    with pytest.raises(NotFound, match=r"did you mean 'cache\.size'"):
        cfg.set_config(v, "cache.sise", 20, actor=LEAD, reason="x")
    with pytest.raises(BadInput, match="reason is required"):
        cfg.set_config(v, "cache.size", 20, actor=LEAD, reason=" ")
    with pytest.raises(Forbidden, match="only be changed by chairman"):
        cfg.set_config(v, "guard.frozen", True, actor=LEAD, reason="x")
    assert cfg.set_config(v, "guard.frozen", True, actor=CHAIR, reason="freeze").version == 1
    cfg.kill(v, actor=CHAIR, reason="done")
    with pytest.raises(Conflict, match="killed"):
        cfg.set_config(v, "cache.size", 20, actor=LEAD, reason="x")
    assert [c.key for c in cfg.config_history(v)] == ["guard.frozen"]


def test_every_change_is_a_version_and_twelve_changes_keep_twelve(
    cfg: Engine, reopen: Callable[[Engine], Engine]
) -> None:
    v = cfg.create_venture("acme", "b2b_smb", 2, actor=AGENT).id
    for n in range(12):
        key = "cache.size" if n % 2 else "traffic.canary_steps"
        value: object = 10 + n if n % 2 else [n + 1, 100]
        cfg.set_config(v, key, value, actor=LEAD, reason=f"change {n + 1}")
    again = reopen(cfg)  # the history is in the store, not in memory
    history = again.config_history(v)
    assert [c.version for c in history] == list(range(12, 0, -1))
    assert {c.scope for c in history} == {"cache", "traffic"}
    assert len(again.config_history(v, "traffic.canary_steps")) == 6  # more than ten per scope would be kept too
    assert history[0].previous == 19 and history[0].value == 21  # each row knows what it replaced
    assert [e.data["version"] for e in again.events(v, kind="config.changed")] == list(range(1, 13))  # type: ignore[index]
    assert _settings(again, v)["cache.size"] == (21, "venture", 12)


def test_diff_between_versions_and_snapshots(cfg: Engine) -> None:
    v = cfg.create_venture("acme", "b2b_smb", 2, actor=AGENT).id
    cfg.set_config(v, "cache.size", 50, actor=LEAD, reason="a")
    cfg.snapshot(v, "tuned", actor=LEAD, reason="before the experiment")
    cfg.set_config(v, "traffic.colour", "green", actor=LEAD, reason="b")
    cfg.set_config(v, "cache.size", 60, actor=LEAD, reason="c")
    d = cfg.config_diff(v, "tuned", "current")
    assert (d.a_version, d.b_version) == (1, 3)
    assert [(e.key, e.before, e.after, e.before_source, e.after_source) for e in d.changes] == [
        ("cache.size", 50, 60, "venture", "venture"),
        ("traffic.colour", "blue", "green", "default", "venture"),
    ]
    first = cfg.config_diff(v, "pre-stage-2", "1")
    assert [(e.key, e.before, e.after) for e in first.changes] == [("cache.size", 100, 50)]
    assert cfg.config_diff(v, "2", "2").changes == []
    with pytest.raises(NotFound, match="version 9 does not exist"):
        cfg.config_diff(v, "9", "current")
    with pytest.raises(NotFound, match="no version or snapshot 'nope'") as exc:
        cfg.config_diff(v, "nope", "current")
    assert "pre-stage-2" in exc.value.hint and "tuned" in exc.value.hint


def test_named_snapshots_are_unique_and_reserved_names_refused(cfg: Engine) -> None:
    v = cfg.create_venture("acme", "b2b_smb", 2, actor=AGENT).id
    s = cfg.snapshot(v, "baseline", actor=LEAD, reason="known good")
    assert (s.name, s.version, s.stage, s.auto, s.actor) == ("baseline", 0, 2, False, "lee")
    for bad in ("12", "has space", ""):
        with pytest.raises(BadInput, match="cannot name a snapshot"):
            cfg.snapshot(v, bad, actor=LEAD)
    for reserved in ("pre-stage-2", "current"):  # well-formed, but the system's own: a conflict, not bad input
        with pytest.raises(Conflict, match="is reserved"):
            cfg.snapshot(v, reserved, actor=LEAD)
    with pytest.raises(Conflict, match="already exists"):
        cfg.snapshot(v, "baseline", actor=LEAD)
    assert [x.name for x in cfg.snapshots(v)] == ["baseline", "pre-stage-2"]
    (ev,) = cfg.events(v, kind="snapshot.taken")
    assert ev.data == {"name": "baseline", "version": 0}


def test_triggers_read_the_venture_override(cfg: Engine) -> None:
    """UNDO reads `config.rollback.error_threshold`: 4% is fine at the default 5, not at an override of 3."""
    from datetime import timedelta

    v = cfg.create_venture("acme", "b2b_smb", 2, actor=AGENT).id
    assert cfg.record_sample(v, "errors", 4, actor=AGENT, now=T0).fired == []
    cfg.set_config(v, "rollback.error_threshold", 3, actor=LEAD, reason="stricter", now=T0)
    got = cfg.record_sample(v, "errors", 4, actor=AGENT, now=T0 + timedelta(seconds=1))
    assert [(f.trigger, f.outcome) for f in got.fired] == [("UNDO", "pending")]


def test_a_version_written_by_a_transaction_that_rolled_back_is_never_served(cfg: Engine) -> None:
    """The override cache is keyed by version; a version number reused after an aborted write must not be stale."""
    v = cfg.create_venture("acme", "b2b_smb", 2, actor=AGENT).id

    class Abort(Exception):
        pass

    with pytest.raises(Abort), cfg.tx() as conn:
        row = cfg._row(conn, v, lock=True)
        cfg.configuration.write_version(conn, row, 1, {"cache.size": 999}, {}, "set", LEAD, "aborted", T0)
        assert cfg._config_overrides(conn, cfg._row(conn, v)) == {"cache.size": 999}
        raise Abort
    cfg.set_config(v, "cache.size", 42, actor=LEAD, reason="real")
    with cfg.tx() as conn:
        assert cfg._config_overrides(conn, cfg._row(conn, v)) == {"cache.size": 42}
    assert cfg.setting(v, "cache.size").value == 42
