"""Stage 30 (Production Deployment) crew: blue-green cutover behind HAProxy with automatic rollback.

`crew` is what the `venturegate.crews` entry point `stage30` names.
"""

from __future__ import annotations

from venturegate.crews.stage30.crew import DeploymentCrew

crew = DeploymentCrew()

__all__ = ["DeploymentCrew", "crew"]
