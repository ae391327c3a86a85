"""Snapshots and rollback: taken on entry, restored as a new version, handlers per scope, logged, escalated."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta

import pytest

from tests.conftest import AGENT, CHAIR, LEAD, T0, serve_scopes
from tests.triggers.helpers import at_stage
from venturegate.engine import BadInput, Conflict, Engine, NotFound
from venturegate.engine.rollbacks import RollbackContext

S = timedelta(seconds=1)


def _tuned(eng: Engine, stage: int = 2) -> int:
    """A venture at `stage` with traffic and cache changed after its pre-stage snapshot (versions 1 and 2)."""
    v = eng.create_venture("acme", "b2b_smb", stage, actor=AGENT, now=T0).id
    eng.set_config(v, "traffic.canary_steps", [5, 100], actor=LEAD, reason="faster", now=T0)
    eng.set_config(v, "cache.size", 500, actor=LEAD, reason="bigger", now=T0)
    return v


def test_a_snapshot_is_taken_on_entering_a_stage_unless_the_stage_says_not(cfg: Engine) -> None:
    v = cfg.create_venture("acme", "b2b_smb", 1, actor=AGENT, now=T0).id
    cfg.set_config(v, "cache.size", 20, actor=LEAD, reason="small", now=T0)
    cfg.advance(v, actor=LEAD, now=T0 + S)
    cfg.set_config(v, "cache.size", 30, actor=LEAD, reason="bigger", now=T0 + 2 * S)
    cfg.advance(v, actor=LEAD, now=T0 + 3 * S)
    assert cfg.venture(v).stage == 3
    snaps = [(s.name, s.version, s.stage, s.auto) for s in cfg.snapshots(v)]
    assert snaps == [("pre-stage-2", 1, 2, True), ("pre-stage-1", 0, 1, True)]  # stage 3: snapshot_on_entry false
    assert cfg.config_diff(v, "pre-stage-2").changes[0].before == 20


def test_dry_run_prints_the_diff_and_changes_nothing(cfg: Engine) -> None:
    v = _tuned(cfg)
    before = (cfg.events(v), cfg.venture(v), cfg.config_history(v))
    r = cfg.rollback(v, "pre-stage-2", actor=LEAD, reason="look first", dry_run=True, now=T0 + S)
    assert (r.id, r.outcome, r.from_version, r.target_version, r.to_version) == (None, "dry-run", 2, 0, None)
    assert [(e.key, e.before, e.after) for e in r.diff] == [
        ("cache.size", 500, 100),
        ("traffic.canary_steps", [5, 100], [10, 50, 100]),
    ]
    assert (cfg.events(v), cfg.venture(v), cfg.config_history(v)) == before
    assert cfg.rollbacks(v) == []


def test_rollback_restores_as_a_new_version_and_logs_duration_and_outcome(
    cfg: Engine, reopen: Callable[[Engine], Engine]
) -> None:
    v = _tuned(cfg)
    serve_scopes(cfg)
    r = cfg.rollback(v, "pre-stage-2", actor=LEAD, reason="bad tuning", cause="regression", now=T0 + S)
    assert (r.outcome, r.from_version, r.target_version, r.to_version, r.escalation) == ("completed", 2, 0, 3, None)
    assert r.scope == ["cache", "traffic"] and r.duration_ms > 0
    again = reopen(cfg)
    assert {s.key: s.source for s in again.config(v)}["cache.size"] == "default"
    assert again.config_diff(v, "0", "current").changes == []  # version 3 equals version 0 ...
    assert [c.version for c in again.config_history(v)] == [3, 3, 2, 1]  # ... and history is only appended to
    assert {(c.key, c.unset, c.change) for c in again.config_history(v) if c.version == 3} == {
        ("cache.size", True, "rollback"),
        ("traffic.canary_steps", True, "rollback"),
    }
    (logged,) = again.rollbacks(v)
    assert logged == r
    assert (logged.cause, logged.reason, logged.actor, logged.started_at) == ("regression", "bad tuning", "lee", T0 + S)
    (ev,) = again.events(v, kind="rollback.completed")
    assert (
        ev.data is not None
        and ev.data["rollback"] == r.id
        and ev.data["changes"] == ["cache.size", "traffic.canary_steps"]
    )

    # Rolling forward again is also a rollback (to version 2), never an edit.
    fwd = again.rollback(v, 2, actor=LEAD, reason="it was fine", now=T0 + 2 * S)
    assert fwd.to_version == 4 and again.setting(v, "cache.size").value == 500
    # Nothing left to restore: logged, but no new version.
    same = again.rollback(v, 2, actor=LEAD, now=T0 + 3 * S)
    assert (same.outcome, same.to_version, same.diff) == ("completed", None, [])


def test_scope_limits_what_is_restored(cfg: Engine) -> None:
    v = _tuned(cfg)
    r = cfg.rollback(v, "pre-stage-2", actor=LEAD, scope=["traffic"], now=T0 + S)
    assert [e.key for e in r.diff] == ["traffic.canary_steps"] and r.scope == ["traffic"]
    assert cfg.setting(v, "traffic.canary_steps").source == "default"
    assert cfg.setting(v, "cache.size").value == 500


def test_bad_targets_and_scopes_are_refused_and_change_nothing(cfg: Engine) -> None:
    v = _tuned(cfg)
    before = (cfg.events(v), cfg.venture(v))
    with pytest.raises(NotFound, match="no version or snapshot 'yesterday'"):
        cfg.rollback(v, "yesterday", actor=LEAD)
    with pytest.raises(NotFound, match="version 7 does not exist"):
        cfg.rollback(v, 7, actor=LEAD)
    with pytest.raises(BadInput, match="unknown rollback scope campaigns") as exc:
        cfg.rollback(v, 0, actor=LEAD, scope=["campaigns"])
    assert "traffic, cache" in exc.value.hint
    with pytest.raises(BadInput, match="say what to roll back to"):
        cfg.rollback(v, actor=LEAD)
    assert (cfg.events(v), cfg.venture(v), cfg.rollbacks(v)) == (*before, [])


def test_handlers_run_for_the_affected_scopes_only(cfg: Engine) -> None:
    v = _tuned(cfg)
    seen: list[RollbackContext] = []

    def traffic(ctx: RollbackContext) -> str:
        seen.append(ctx)
        return "traffic back on blue"

    cfg.register_rollback_handler("traffic", traffic)
    cfg.register_rollback_handler("cache", lambda ctx: seen.append(ctx))
    r = cfg.rollback(v, "pre-stage-2", actor=LEAD, scope=["traffic"], cause="bad canary", now=T0 + S)
    (ctx,) = seen
    assert (ctx.venture, ctx.scope, ctx.target, ctx.target_version, ctx.cause) == (
        "acme",
        "traffic",
        "pre-stage-2",
        0,
        "bad canary",
    )
    assert [e.key for e in ctx.changes] == ["traffic.canary_steps"]
    assert [(h.scope, h.ok, h.detail) for h in r.handlers] == [("traffic", True, "traffic back on blue")]
    assert cfg.rollbacks(v)[0].handlers == r.handlers


def test_a_declared_scope_that_no_handler_serves_escalates_never_completes(cfg: Engine) -> None:
    """Stage 2 declares `traffic` and `cache`: restoring their config is not enough when nothing undid the rest."""
    v = _tuned(cfg)
    cfg.register_rollback_handler("traffic", lambda ctx: "traffic back on blue")
    cfg.register_rollback_handler("cache", lambda ctx: "never runs", stage=3)  # another stage's handler
    r = cfg.rollback(v, "pre-stage-2", actor=LEAD, reason="incident", now=T0 + S)
    assert (r.outcome, r.escalation) == ("escalated", "SD-2-ESCALATION-1")
    assert [(h.scope, h.handler.rsplit(".", 1)[-1], h.ok) for h in r.handlers] == [
        ("cache", "(none)", False),
        ("traffic", "<lambda>", True),
    ]
    assert "no rollback handler serves scope 'cache'" in r.handlers[0].detail
    assert cfg.setting(v, "cache.size").source == "default"  # the configuration itself was restored
    assert cfg.venture(v).status == "paused"
    (ev,) = cfg.events(v, kind="rollback.failed")
    assert ev.data is not None and ev.data["escalation"] == "SD-2-ESCALATION-1"


def test_a_handler_registered_for_a_stage_serves_that_stage_only(cfg: Engine) -> None:
    v = _tuned(cfg)
    ran: list[tuple[str, int]] = []
    cfg.register_rollback_handler("traffic", lambda ctx: ran.append((ctx.scope, ctx.stage)), stage=2)
    cfg.register_rollback_handler("traffic", lambda ctx: ran.append(("other", ctx.stage)), stage=30)
    r = cfg.rollback(v, "pre-stage-2", actor=LEAD, scope=["traffic"], now=T0 + S)
    assert (r.outcome, ran) == ("completed", [("traffic", 2)])


def test_a_failing_handler_escalates_and_the_rollback_says_so(cfg: Engine) -> None:
    v = _tuned(cfg)
    ran: list[str] = []

    def pause_campaigns(ctx: RollbackContext) -> None:
        raise RuntimeError("ad platform unreachable")

    cfg.register_rollback_handler("cache", pause_campaigns)
    cfg.register_rollback_handler("traffic", lambda ctx: ran.append(ctx.scope))
    r = cfg.rollback(v, "pre-stage-2", actor=LEAD, reason="incident", now=T0 + S)
    assert (r.outcome, r.escalation) == ("escalated", "SD-2-ESCALATION-1")
    assert ran == ["traffic"]  # the other scope's handler still ran
    assert [(h.scope, h.handler, h.ok, h.detail) for h in r.handlers] == [
        (
            "cache",
            "test_a_failing_handler_escalates_and_the_rollback_says_so.<locals>.pause_campaigns",
            False,
            "RuntimeError: ad platform unreachable",
        ),
        ("traffic", "test_a_failing_handler_escalates_and_the_rollback_says_so.<locals>.<lambda>", True, ""),
    ]
    assert cfg.setting(v, "cache.size").source == "default"  # the configuration itself was restored
    (esc,) = cfg.escalations()
    assert (esc.code, esc.role, esc.stage) == ("SD-2-ESCALATION-1", "chairman", 2)
    assert "ad platform unreachable" in esc.reason
    assert cfg.venture(v).status == "paused"
    (ev,) = cfg.events(v, kind="rollback.failed")
    assert ev.data is not None and ev.data["escalation"] == "SD-2-ESCALATION-1"
    assert cfg.rollbacks(v)[0].outcome == "escalated"


def test_rollback_trigger_restores_its_scope_from_the_pre_stage_snapshot(cfg: Engine) -> None:
    """UNDO: `errors > config.rollback.error_threshold` for 1m, scope traffic, default target pre-stage-2."""
    v = _tuned(cfg)
    moved: list[RollbackContext] = []
    cfg.register_rollback_handler("traffic", moved.append)

    def sample(value: float, at: datetime) -> dict[str, str]:
        return {f.trigger: f.outcome for f in cfg.record_sample(v, "errors", value, actor=AGENT, now=at).fired}

    assert sample(7, T0) == {"UNDO": "pending"}
    assert sample(7, T0 + 61 * S) == {"UNDO": "acted"}
    (fired,) = [f for f in cfg.trigger_status(v, now=T0 + 61 * S) if f["trigger"] == "UNDO"]
    assert fired["acted"] == 1
    (r,) = cfg.rollbacks(v)
    assert (r.trigger, r.target, r.scope, r.outcome, r.actor) == (
        "UNDO",
        "pre-stage-2",
        ["traffic"],
        "completed",
        "venturegate",
    )
    assert [e.key for e in r.diff] == ["traffic.canary_steps"] and len(moved) == 1
    assert cfg.setting(v, "traffic.canary_steps").source == "default"
    assert cfg.setting(v, "cache.size").value == 500  # outside the trigger's scope
    (decided,) = cfg.events(v, kind="rollback.decided")
    assert decided.data == {"trigger": "UNDO", "to": None, "scope": ["traffic"]}


def test_a_rollback_trigger_whose_handler_fails_escalates(cfg: Engine) -> None:
    v = _tuned(cfg)

    def broken(ctx: RollbackContext) -> None:
        raise ConnectionError("load balancer down")

    cfg.register_rollback_handler("traffic", broken)
    cfg.record_sample(v, "errors", 7, actor=AGENT, now=T0)
    got = cfg.record_sample(v, "errors", 7, actor=AGENT, now=T0 + 61 * S)
    assert [(f.trigger, f.outcome, f.detail) for f in got.fired] == [("UNDO", "escalated", "SD-2-ESCALATION-1")]
    (esc,) = cfg.escalations()
    assert (esc.role, esc.trigger_id) == ("exec", "UNDO")
    assert cfg.venture(v).status == "paused"


def test_stage_30_error_rate_6_percent_for_121_s_rolls_traffic_back(bundled: Engine) -> None:
    """DEPLOY-002 (auto): `deployment_error_rate > config.rollback.error_rate_threshold` for 2m → pre-stage-30."""
    v = at_stage(bundled, "deployer", 30).id
    bundled.set_config(v, "traffic.canary_steps", "25,100", actor=LEAD, reason="bolder canary", now=T0)
    bundled.set_config(v, "rollback.rollback_timeout", 3, actor=LEAD, reason="faster", now=T0)
    blue: list[RollbackContext] = []
    bundled.register_rollback_handler("traffic", blue.append)
    outcomes: dict[int, str] = {}
    for s in [*range(0, 120, 10), 119, 121]:
        got = bundled.record_sample(v, "deployment_error_rate", 6, actor=AGENT, at=T0 + s * S, now=T0 + s * S)
        outcomes.update((s, f.outcome) for f in got.fired if f.trigger == "DEPLOY-002")
    assert outcomes == {0: "pending", 121: "acted"}
    (r,) = bundled.rollbacks(v)
    assert (r.trigger, r.target, r.target_version, r.from_version, r.to_version) == (
        "DEPLOY-002",
        "pre-stage-30",
        0,
        2,
        3,
    )
    assert [(e.key, e.before, e.after) for e in r.diff] == [("traffic.canary_steps", [25, 100], [10, 50, 100])]
    assert r.outcome == "completed" and [c.scope for c in blue] == ["traffic"]
    assert bundled.setting(v, "rollback.rollback_timeout").value == 3  # not in the trigger's scope
    assert bundled.venture(v).status == "active"


def test_rollback_by_cause_carries_out_the_stage_plan(cfg: Engine) -> None:
    v = _tuned(cfg)
    with pytest.raises(Conflict, match=r"the plan for cause 'transient' is wait_and_retry.*nothing is restored"):
        cfg.rollback(v, actor=LEAD, cause="transient")
    with pytest.raises(NotFound, match="unknown cause 'flood'") as exc:
        cfg.rollback(v, actor=LEAD, cause="flood")
    assert exc.value.hint == "causes: transient, configuration, systemic"
    serve_scopes(cfg)
    r = cfg.rollback(v, actor=CHAIR, cause="Systemic", reason="release broken", now=T0 + S)
    assert (r.target, r.scope, r.outcome, r.recursion) == ("pre-stage-2", ["traffic"], "completed", "back to stage 1")
    assert cfg.venture(v).stage == 1
    assert cfg.setting(v, "cache.size").value == 500 and cfg.setting(v, "traffic.canary_steps").source == "default"


def test_rollback_plan_explains_the_branch(cfg: Engine) -> None:
    v = _tuned(cfg)
    p = cfg.rollback_plan(v, "systemic")
    assert (p.stage, p.cause, p.action, p.restores, p.snapshot, p.snapshot_version) == (
        2,
        "systemic",
        "rollback_and_recurse",
        True,
        "pre-stage-2",
        0,
    )
    assert p.steps == [
        "restore traffic from snapshot pre-stage-2",
        "run the rollback handlers of traffic",
        "send the venture back to stage 1",
    ]
    assert "branch 3 of 3" in p.why and [e.key for e in p.diff] == ["traffic.canary_steps"]
    fix = cfg.rollback_plan(v, "configuration")
    assert (fix.action, fix.restores, fix.diff, fix.snapshot) == ("fix_forward", False, [], None)
    with pytest.raises(BadInput, match="unknown cause") as exc:
        cfg.rollback_plan(v, "meteor")
    assert exc.value.hint == "causes: transient, configuration, systemic"
