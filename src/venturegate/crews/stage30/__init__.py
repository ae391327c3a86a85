"""Stage 30 (Production Deployment) crew: validation, Chairman approval, blue-green cutover behind HAProxy
with automatic rollback, and post-deployment verification.

`crew` is what the `venturegate.crews` entry point `stage30` names. It is built on first access, so
importing one module of this package (the driver, say) does not import the whole crew.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from venturegate.crews._lazy import lazy_crew

if TYPE_CHECKING:
    from venturegate.crews.stage30.deployment import DeploymentCrew

    crew: DeploymentCrew

__all__ = ["DeploymentCrew", "crew"]

__getattr__ = lazy_crew(__name__, "venturegate.crews.stage30.deployment", "DeploymentCrew")
