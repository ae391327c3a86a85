"""Error handling by policy: classify an error with the stage's taxonomy and apply its recovery."""

from __future__ import annotations

from venturegate.engine.base import EngineBase


class ErrorOps(EngineBase):
    """`handle_error` and the error log."""
