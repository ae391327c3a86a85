"""Stage 17 (GTM Strategist Agent Development) crew: strategy and budget (17.1), campaigns and content with A/B
test plans (17.2), automation workflows tested on synthetic leads (17.3); plus the experiment statistics that the
`venturegate experiment` commands and the API use.

`crew` is what the `venturegate.crews` entry point `stage17` names. It is built on first access, so importing the
statistics module does not import the whole crew.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from venturegate.crews._lazy import lazy_crew

if TYPE_CHECKING:
    from venturegate.crews.stage17.gtm import GTMStrategistCrew

    crew: GTMStrategistCrew

__all__ = ["GTMStrategistCrew", "crew"]

__getattr__ = lazy_crew(__name__, "venturegate.crews.stage17.gtm", "GTMStrategistCrew")
