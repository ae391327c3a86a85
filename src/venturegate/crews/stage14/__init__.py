"""Stage 14 (Development Preparation) crew: environments and pipelines generated, verified and provisioned
(14.1), a team formed with a valid RACI and onboarding checklists (14.2), a sprint plan with a Monte Carlo
forecast (14.3), and the readiness score computed from what was measured.

`crew` is what the `venturegate.crews` entry point `stage14` names; it is built on first access.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from venturegate.crews._lazy import lazy_crew

if TYPE_CHECKING:
    from venturegate.crews.stage14.devprep import DevelopmentPrepCrew

    crew: DevelopmentPrepCrew

__all__ = ["DevelopmentPrepCrew", "crew"]

__getattr__ = lazy_crew(__name__, "venturegate.crews.stage14.devprep", "DevelopmentPrepCrew")
