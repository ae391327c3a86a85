"""Fast paths give the answers of the general paths they shortcut: each test here computes both and compares.

Every shortcut taken for speed (docs/decisions.md, "Storage and the hot path") has its equivalence test here,
on SQLite and PostgreSQL. The trigger tests' tiny workflow and engine are shared with `tests/triggers`.
"""

from tests.triggers.conftest import tiny, tiny_workflow

__all__ = ["tiny", "tiny_workflow"]
