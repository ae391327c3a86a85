"""Stage 19 (Tri-Party Integration Verification) crew: API tests, load, fallbacks, report.

`crew` is what the `venturegate.crews` entry point `stage19` names.
"""

from __future__ import annotations

from venturegate.crews.stage19.crew import IntegrationVerificationCrew

crew = IntegrationVerificationCrew()

__all__ = ["IntegrationVerificationCrew", "crew"]
