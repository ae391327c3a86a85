"""Fixtures: the trigger tests' engines on the bundled and the tiny workflow (SQLite and PostgreSQL)."""

from __future__ import annotations

from tests.triggers.conftest import bundled, studio, tiny, tiny_workflow

__all__ = ["bundled", "studio", "tiny", "tiny_workflow"]
