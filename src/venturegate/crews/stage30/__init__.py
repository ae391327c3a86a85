"""Stage 30 (Production Deployment) crew: validation, Chairman approval, blue-green cutover behind HAProxy
with automatic rollback, and post-deployment verification.

`crew` is what the `venturegate.crews` entry point `stage30` names. It is built on first access, so
importing one module of this package (the driver, say) does not import the whole crew.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from venturegate.crews.stage30.deployment import DeploymentCrew

__all__ = ["DeploymentCrew", "crew"]

_crew: DeploymentCrew | None = None


def __getattr__(name: str) -> Any:
    global _crew
    if name == "DeploymentCrew":
        from venturegate.crews.stage30.deployment import DeploymentCrew

        return DeploymentCrew
    if name == "crew":
        if _crew is None:
            from venturegate.crews.stage30.deployment import DeploymentCrew

            _crew = DeploymentCrew()
        return _crew
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
