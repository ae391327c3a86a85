"""The deployed GTM agent's live state, and the rollback handlers that act on it.

What 17.1-17.3 deploy (the active budget allocation, campaign and workflow statuses, whether spend runs) is the
agent's control plane, kept per venture in `<crew root>/v<venture id>/gtm-live.json`. The engine's versioned
artifacts remain the record; this file is what the running agent obeys. Rollback handlers run inside the engine's
rollback transaction, so they act on this state only and never call the engine.
"""

from __future__ import annotations

import json
import os
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

from venturegate.crews.paths import crew_root
from venturegate.engine.rollbacks import RollbackContext

_lock = threading.Lock()


def _path(venture_id: int, live_root: Path | None) -> Path:
    return (live_root or crew_root()) / f"v{int(venture_id)}" / "gtm-live.json"


def load(venture_id: int, live_root: Path | None = None) -> dict[str, Any]:
    path = _path(venture_id, live_root)
    if not path.exists():
        return {}
    return dict(json.loads(path.read_text(encoding="utf-8")))


def _save(venture_id: int, state: dict[str, Any], live_root: Path | None) -> None:
    path = _path(venture_id, live_root)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(state, indent=2, sort_keys=True), encoding="utf-8")
    os.replace(tmp, path)


def deploy(venture_id: int, config: dict[str, Any], live_root: Path | None = None) -> None:
    """Make a GTM config version the active one (the previous ones are kept, newest last)."""
    with _lock:
        state = load(venture_id, live_root)
        history = [h for h in state.get("configs", []) if h["version"] != config["version"]]
        history.append({"version": config["version"], "budget": config["budget"]})
        state.update(
            {"agent": "deployed", "configs": history[-20:], "active_config": config["version"], "spend": "running"}
        )
        _save(venture_id, state, live_root)


def activate(venture_id: int, workflows: list[dict[str, Any]], live_root: Path | None = None) -> None:
    """Mark tested workflows active."""
    with _lock:
        state = load(venture_id, live_root)
        state["workflows"] = {str(w["id"]): {"status": "active", "version": w.get("version", 1)} for w in workflows}
        _save(venture_id, state, live_root)


def status(venture_id: int, live_root: Path | None = None) -> dict[str, Any]:
    """The agent's answer to its status command."""
    state = load(venture_id, live_root)
    return {
        "agent": state.get("agent", "absent"),
        "active_config": state.get("active_config"),
        "spend": state.get("spend"),
        "workflows": state.get("workflows", {}),
        "campaigns": state.get("campaigns", "running" if state else None),
    }


def _change(ctx: RollbackContext, fn: Callable[[dict[str, Any]], str]) -> str:
    with _lock:
        state = load(ctx.venture_id)
        if not state:
            return f"no deployed GTM agent for {ctx.venture}: nothing to {ctx.scope}"
        detail = fn(state)
        state.setdefault("log", []).append(f"{ctx.scope}: {detail} ({ctx.cause or ctx.trigger or 'rollback'})")
        _save(ctx.venture_id, state, None)
        return detail


def pause_workflows(ctx: RollbackContext) -> str:
    def fn(state: dict[str, Any]) -> str:
        for wf in state.get("workflows", {}).values():
            wf["status"] = "paused"
        return f"{len(state.get('workflows', {}))} workflow(s) paused"

    return _change(ctx, fn)


def pause_campaigns(ctx: RollbackContext) -> str:
    def fn(state: dict[str, Any]) -> str:
        state["campaigns"] = "paused"
        return "campaigns paused (no sends)"

    return _change(ctx, fn)


def stop_spend(ctx: RollbackContext) -> str:
    def fn(state: dict[str, Any]) -> str:
        state["spend"] = "stopped"
        return "paid spend stopped (daily caps set to 0)"

    return _change(ctx, fn)


def restore_config(ctx: RollbackContext) -> str:
    """Make the GTM config version before the active one active again (the allocation before a re-allocation)."""

    def fn(state: dict[str, Any]) -> str:
        versions = [h["version"] for h in state.get("configs", [])]
        active = state.get("active_config")
        older = [x for x in versions if active is None or x < active]
        if not older:
            raise RuntimeError(f"no GTM config version before {active} to restore")
        state["active_config"] = older[-1]
        return f"GTM config version {older[-1]} restored (was {active})"

    return _change(ctx, fn)


HANDLERS: dict[str, Callable[[RollbackContext], str]] = {
    "workflows": pause_workflows,
    "campaigns": pause_campaigns,
    "spend": stop_spend,
    "gtm_config": restore_config,
}
