"""Crews: the agents that do a stage's substage work, as plugins of the `venturegate.crews` entry-point group.

A crew writes only through the engine's public API (samples, artifacts, substage completions,
`handle_error`, `crew_progress`), exactly as a third-party crew would. See docs/crews.md.
"""

from __future__ import annotations

from venturegate.crews.base import AgentSpec, Cancelled, CancelToken, Crew, CrewContext, CrewHooks, CrewResult

__all__ = ["AgentSpec", "CancelToken", "Cancelled", "Crew", "CrewContext", "CrewHooks", "CrewResult"]
