"""Helpers the stage-14 steps share on top of `CrewRun`: stop on what the data did, or on an error."""

from __future__ import annotations

from typing import NoReturn

from venturegate.crews.runtime import CrewRun


def record(run: CrewRun, values: dict[str, float], *, suffix: str = "") -> None:
    """Record samples; stop the run when a recursion or rollback trigger acted (or proposed to act) on them."""
    before = len(run.acted)
    run.record(values, suffix=suffix)
    # A manual-mode trigger only notifies (the venture stays); an assisted one waits for its approval.
    acted = [f for f in run.acted[before:] if f.outcome != "notified"]
    if any(f.outcome != "proposed" for f in acted):
        raise run.stop("recursed", "sent back: " + "; ".join(f"{f.trigger} {f.detail or f.outcome}" for f in acted))
    if acted:
        raise run.stop("waiting", "proposed: " + "; ".join(f"{f.trigger} {f.detail}" for f in acted))


def fail(run: CrewRun, message: str) -> NoReturn:
    """Hand a finding to the stage's error policy and end the run (whatever the policy did)."""
    run.error(message)
    raise run.stop("failed", f"{message} (the error policy resolved it, but this run cannot go on without a fix)")
