"""Stage 28 (Performance Optimization) crew: profile, prove indexes and a cache, apply and verify changes, report.

`crew` is what the `venturegate.crews` entry point `stage28` names. It is built on first access, so
importing one module of this package (the hit-rate curve, the demo shop) does not import the whole crew.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from venturegate.crews._lazy import lazy_crew

if TYPE_CHECKING:
    from venturegate.crews.stage28.optimization import PerformanceOptimizationCrew

    crew: PerformanceOptimizationCrew

__all__ = ["PerformanceOptimizationCrew", "crew"]

__getattr__ = lazy_crew(__name__, "venturegate.crews.stage28.optimization", "PerformanceOptimizationCrew")
