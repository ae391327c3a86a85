"""Versioned venture configuration and snapshots."""

from __future__ import annotations

from venturegate.engine.base import EngineBase


class ConfigOps(EngineBase):
    """Configuration versions per venture (default → segment → venture override) and named snapshots."""
