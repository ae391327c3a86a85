"""The core stays pure: no I/O library is imported and no clock is read; time is passed in."""

from __future__ import annotations

import ast
import json
import subprocess
import sys
from pathlib import Path

import pytest

import venturegate.core

CORE = Path(venturegate.core.__file__).parent
CORE_FILES = sorted(CORE.rglob("*.py"))

FORBIDDEN_MODULES = (
    "sqlalchemy",
    "alembic",
    "fastapi",
    "starlette",
    "uvicorn",
    "typer",
    "click",
    "rich",
    "yaml",
    "httpx",
    "aiohttp",
    "requests",
    "urllib.request",
    "http.client",
    "psycopg",
    "psycopg2",
    "huey",
    "redis",
    "aiosmtplib",
    "smtplib",
)

# Imports each core module in turn and records which forbidden modules it was the first to load.
_IMPORT_ALL = """
import importlib, json, pkgutil, sys
forbidden = json.loads(sys.argv[1])
def loaded():
    return {name for name in sys.modules if any(name == f or name.startswith(f + ".") for f in forbidden)}
culprits, seen = {}, loaded()
def load(module):
    global seen
    imported = importlib.import_module(module)
    new = loaded() - seen
    if new:
        culprits[module] = sorted(new)
        seen |= new
    return imported
core = load("venturegate.core")
modules = [info.name for info in pkgutil.walk_packages(core.__path__, "venturegate.core.")]
for module in modules:
    load(module)
print(json.dumps({"modules": modules, "culprits": culprits}))
"""


def test_core_imports_no_io_library() -> None:
    completed = subprocess.run(
        [sys.executable, "-c", _IMPORT_ALL, json.dumps(FORBIDDEN_MODULES)],
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
    )
    assert completed.returncode == 0, completed.stderr
    report = json.loads(completed.stdout)
    assert "venturegate.core.conditions.evaluation" in report["modules"]
    assert report["culprits"] == {}, f"core modules that import I/O libraries: {report['culprits']}"


# (object, attribute) pairs that read the clock, matched on the end of a dotted name so that
# `datetime.now`, `datetime.datetime.now` and `dt.datetime.utcnow` are all caught.
CLOCK_READS = frozenset(
    {
        ("datetime", "now"),
        ("datetime", "utcnow"),
        ("datetime", "today"),
        ("date", "today"),
        ("time", "time"),
        ("time", "time_ns"),
        ("time", "monotonic"),
        ("time", "monotonic_ns"),
    }
)


def _dotted(node: ast.expr) -> list[str]:
    parts: list[str] = []
    while isinstance(node, ast.Attribute):
        parts.append(node.attr)
        node = node.value
    if isinstance(node, ast.Name):
        parts.append(node.id)
    return parts[::-1]


def clock_reads(source: str) -> list[str]:
    """Return `line: name` for every clock read in `source`, called or merely referenced."""
    found: list[str] = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Attribute):
            parts = _dotted(node)
            if len(parts) >= 2 and (parts[-2], parts[-1]) in CLOCK_READS:
                found.append(f"{node.lineno}: {'.'.join(parts)}")
        elif isinstance(node, ast.ImportFrom) and node.module == "time":
            found.extend(
                f"{node.lineno}: from time import {alias.name}"
                for alias in node.names
                if ("time", alias.name) in CLOCK_READS
            )
    return found


@pytest.mark.parametrize("path", CORE_FILES, ids=lambda path: str(path.relative_to(CORE)))
def test_core_never_reads_the_clock(path: Path) -> None:
    assert clock_reads(path.read_text(encoding="utf-8")) == []


@pytest.mark.parametrize(
    "source",
    [
        "from datetime import datetime\nx = datetime.now()",
        "import datetime\nx = datetime.datetime.utcnow()",
        "from datetime import date\nx = date.today()",
        "import time\nx = time.time()",
        "import time\nstart = time.monotonic",
        "from time import monotonic",
        "from dataclasses import field\nimport datetime as dt\nf = field(default_factory=dt.datetime.now)",
    ],
)
def test_the_clock_scan_catches_every_form(source: str) -> None:
    assert clock_reads(source)


def test_the_clock_scan_allows_time_passed_in() -> None:
    assert clock_reads("def f(now):\n    return now - now.replace(hour=0)\nfrom time import sleep") == []
