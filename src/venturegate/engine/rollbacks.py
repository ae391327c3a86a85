"""Rollback of configuration to a version or snapshot, its decision tree and its handlers."""

from __future__ import annotations

from venturegate.engine.configuration import ConfigOps


class RollbackOps(ConfigOps):
    """Rollbacks: restore, run the registered handlers, record the rollback log."""
