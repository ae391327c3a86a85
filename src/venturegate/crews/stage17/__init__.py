"""Stage 17 (GTM Strategist Agent Development) crew: strategy and budget (17.1), campaigns and content with A/B
test plans (17.2), automation workflows tested on synthetic leads (17.3); plus the experiment statistics that the
`venturegate experiment` commands and the API use.

`crew` is what the `venturegate.crews` entry point `stage17` names. It is built on first access, so importing the
statistics module does not import the whole crew.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from venturegate.crews.stage17.gtm import GTMStrategistCrew

__all__ = ["GTMStrategistCrew", "crew"]

_crew: GTMStrategistCrew | None = None


def __getattr__(name: str) -> Any:
    global _crew
    if name == "GTMStrategistCrew":
        from venturegate.crews.stage17.gtm import GTMStrategistCrew

        return GTMStrategistCrew
    if name == "crew":
        if _crew is None:
            from venturegate.crews.stage17.gtm import GTMStrategistCrew

            _crew = GTMStrategistCrew()
        return _crew
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
