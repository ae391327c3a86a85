"""Onboarding checklists and RACI approvals, checked off by people through the CLI and API.

Each change stores a new version of `team_structure` (derived from the previous one), records
`onboarding_completion_rate` and `raci_approval_rate`, recomputes the readiness score, and, when a
member finishes, tells the team through the outbox (an `alert` event). Bad input (an unknown member or
item) changes nothing.
"""

from __future__ import annotations

import copy
from typing import Any

from venturegate.engine.actors import Actor
from venturegate.engine.exceptions import BadInput, NotFound
from venturegate.engine.samples import SampleIn


def completion(members: list[dict[str, Any]]) -> float:
    """Members who finished their checklist, percent."""
    real = [m for m in members if m.get("role")]
    return round(100.0 * sum(1 for m in real if m.get("onboarding_complete")) / len(real), 2) if real else 0.0


def raci_rate(members: list[dict[str, Any]]) -> float:
    """Members who approved the RACI matrix, percent."""
    real = [m for m in members if m.get("role")]
    return round(100.0 * sum(1 for m in real if m.get("raci_approved")) / len(real), 2) if real else 0.0


def _team(engine: Any, venture: str | int) -> tuple[dict[str, Any], str]:
    try:
        art = engine.artifact(venture, "team_structure")
    except NotFound:
        raise NotFound(
            "the venture has no team_structure yet", where="VENTURE", hint="run the stage-14 crew first (14.2)"
        ) from None
    return copy.deepcopy(dict(art.content)), f"{art.name}@{art.version}"


def show(engine: Any, venture: str | int) -> dict[str, Any]:
    """Every member's checklist and approval, with the two rates."""
    team, ref = _team(engine, venture)
    members = [m for m in team.get("members", []) if m.get("role")]
    return {
        "team_structure": ref,
        "onboarding_completion_rate": completion(members),
        "raci_approval_rate": raci_rate(members),
        "members": [
            {"id": m["id"], "role": m["role"], "raci_approved": m.get("raci_approved", False),
             "onboarding_complete": m.get("onboarding_complete", False), "items": m.get("onboarding", [])}
            for m in members
        ],
    }  # fmt: skip


def _member(team: dict[str, Any], member: str) -> dict[str, Any]:
    for m in team.get("members", []):
        if m.get("id") == member and m.get("role"):
            return dict(m) if not isinstance(m, dict) else m
    known = ", ".join(str(m["id"]) for m in team.get("members", []) if m.get("role")) or "none"
    raise NotFound(f"no team member '{member}'", where="MEMBER", hint=f"members: {known}")


def update(
    engine: Any,
    venture: str | int,
    member: str,
    *,
    actor: Actor,
    item: str | None = None,
    approve_raci: bool = False,
    done: bool = True,
) -> dict[str, Any]:
    """Check off (or reopen, `done=False`) one item, and/or approve the RACI, for `member`."""
    from venturegate.crews.stage14.scoring import refresh

    if item is None and not approve_raci:
        raise BadInput("nothing to do", where="ITEM", hint="give an item id or --approve-raci")
    team, ref = _team(engine, venture)
    m = _member(team, member)
    items = m.get("onboarding", [])
    if item is not None:
        found = next((i for i in items if i.get("id") == item), None)
        if found is None:
            ids = ", ".join(str(i["id"]) for i in items)
            raise NotFound(f"{member} has no onboarding item '{item}'", where="ITEM", hint=f"items: {ids}")
        found["done"] = done
    if approve_raci:
        m["raci_approved"] = True
        for i in items:
            if i.get("id") == "raci":
                i["done"] = True
    was_complete = bool(m.get("onboarding_complete"))
    m["onboarding_complete"] = bool(items) and all(i.get("done") for i in items)
    art = engine.put_artifact(venture, "team_structure", team, actor=actor, derived_from=[ref])
    members = team.get("members", [])
    rates = {"onboarding_completion_rate": completion(members), "raci_approval_rate": raci_rate(members)}
    got = engine.record_samples([SampleIn(venture, k, v) for k, v in rates.items()], actor=actor)
    if m["onboarding_complete"] and not was_complete:
        engine.crew_alert(
            venture, f"{member} finished onboarding ({rates['onboarding_completion_rate']:g}% of the team)",
            severity="P2", actor=actor, data={"kind": "onboarding", "member": member},
        )  # fmt: skip
    score, fired = refresh(engine, venture, actor=actor)
    return {
        "team_structure": f"{art.name}@{art.version}",
        **rates,
        "readiness_score": score.score,
        "fired": [f"{f.trigger}: {f.detail or f.outcome}" for f in [*got.fired, *fired] if f.outcome != "pending"],
        "member": next(x for x in show(engine, venture)["members"] if x["id"] == member),
    }
