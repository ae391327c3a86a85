"""Stage 28 (Performance Optimization) crew: profile, prove indexes and a cache, apply and verify changes, report.

`crew` is what the `venturegate.crews` entry point `stage28` names. It is built on first access, so
importing one module of this package (the hit-rate curve, the demo shop) does not import the whole crew.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from venturegate.crews.stage28.optimization import PerformanceOptimizationCrew

__all__ = ["PerformanceOptimizationCrew", "crew"]

_crew: PerformanceOptimizationCrew | None = None


def __getattr__(name: str) -> Any:
    global _crew
    if name == "PerformanceOptimizationCrew":
        from venturegate.crews.stage28.optimization import PerformanceOptimizationCrew

        return PerformanceOptimizationCrew
    if name == "crew":
        if _crew is None:
            from venturegate.crews.stage28.optimization import PerformanceOptimizationCrew

            _crew = PerformanceOptimizationCrew()
        return _crew
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
