"""The engine's plumbing (`engine/base.py`) builds no SQL and branches on no dialect: its statements live in
`store/` (issue 13, item 2). It may name SQLAlchemy's `Connection` and `Engine` types, nothing else of it."""

from __future__ import annotations

import ast
from pathlib import Path

from venturegate.engine import base

SOURCE = Path(base.__file__).read_text()
TREE = ast.parse(SOURCE)


def test_the_plumbing_imports_only_sqlalchemys_connection_and_engine_types() -> None:
    imported = {
        (node.module, alias.name)
        for node in ast.walk(TREE)
        if isinstance(node, ast.ImportFrom) and node.module is not None and node.module.startswith("sqlalchemy")
        for alias in node.names
    }
    imported |= {
        (alias.name, "")
        for node in ast.walk(TREE)
        if isinstance(node, ast.Import)
        for alias in node.names
        if alias.name.startswith("sqlalchemy")
    }
    assert imported <= {("sqlalchemy", "Connection"), ("sqlalchemy", "Engine")}


def test_the_plumbing_neither_executes_statements_nor_reads_the_dialect() -> None:
    attributes = {node.attr for node in ast.walk(TREE) if isinstance(node, ast.Attribute)}
    assert not attributes & {"execute", "dialect", "with_for_update", "on_conflict_do_nothing"}
    names = {node.id for node in ast.walk(TREE) if isinstance(node, ast.Name)}
    assert not names & {"select", "insert", "update", "delete", "postgresql", "sqlite", "Prepared"}
