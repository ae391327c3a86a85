"""Stage 14 (Development Preparation) crew: environments and pipelines generated, verified and provisioned
(14.1), a team formed with a valid RACI and onboarding checklists (14.2), a sprint plan with a Monte Carlo
forecast (14.3), and the readiness score computed from what was measured.

`crew` is what the `venturegate.crews` entry point `stage14` names; it is built on first access.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from venturegate.crews.stage14.devprep import DevelopmentPrepCrew

__all__ = ["DevelopmentPrepCrew", "crew"]

_crew: DevelopmentPrepCrew | None = None


def __getattr__(name: str) -> Any:
    global _crew
    if name == "DevelopmentPrepCrew":
        from venturegate.crews.stage14.devprep import DevelopmentPrepCrew

        return DevelopmentPrepCrew
    if name == "crew":
        if _crew is None:
            from venturegate.crews.stage14.devprep import DevelopmentPrepCrew

            _crew = DevelopmentPrepCrew()
        return _crew
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
