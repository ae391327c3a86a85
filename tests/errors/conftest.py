"""Fixtures for the error-handling tests: the bundled workflow on SQLite and PostgreSQL, instant retries."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import stamina

from tests.triggers.conftest import bundled, studio

__all__ = ["bundled", "studio"]


@pytest.fixture(autouse=True)
def instant_retries() -> Iterator[None]:
    """stamina's test mode: no waits; `cap=True` keeps each rule's own attempt count (up to 10)."""
    with stamina.set_testing(True, attempts=10, cap=True):
        yield
