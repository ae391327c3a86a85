"""Helpers for the definitions tests: write small workflows and find where things are in them."""

from __future__ import annotations

import textwrap
from dataclasses import dataclass
from pathlib import Path

import pytest

from venturegate.definitions.loader import LoadedWorkflow, load_workflow
from venturegate.definitions.source import DefinitionError, Problem


@dataclass(frozen=True)
class Src:
    """A YAML file written for a test, and its text (to compute exact positions from)."""

    path: Path
    text: str

    @property
    def file(self) -> str:
        return str(self.path)

    def at(self, needle: str, nth: int = 1, shift: int = 0) -> tuple[int, int]:
        """1-based line and column of the `nth` occurrence of `needle` (plus `shift` columns)."""
        index = -1
        for _ in range(nth):
            index = self.text.index(needle, index + 1)
        line = self.text.count("\n", 0, index) + 1
        column = index - (self.text.rfind("\n", 0, index) + 1) + 1
        return line, column + shift

    def load(self) -> LoadedWorkflow:
        return load_workflow(self.path)

    def problems(self) -> list[Problem]:
        """Every problem the loader reports for this file (it must refuse it)."""
        with pytest.raises(DefinitionError) as info:
            load_workflow(self.path)
        return info.value.problems


def write(directory: Path, name: str, text: str) -> Src:
    """Write dedented `text` (without its first newline) to directory/name."""
    body = textwrap.dedent(text).removeprefix("\n")
    path = directory / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(body, encoding="utf-8")
    return Src(path, body)


Expected = tuple[str, tuple[int, int], str]
"""(file, (line, column), a fragment of the message)."""


def assert_problems(found: list[Problem], expected: list[Expected]) -> None:
    """Each expected problem is reported exactly there, and nothing else is reported."""
    left = list(found)
    missing = []
    for file, (line, column), fragment in expected:
        match = next(
            (p for p in left if (p.file, p.line, p.column) == (file, line, column) and fragment in p.message),
            None,
        )
        if match is None:
            missing.append(f"{file}:{line}:{column}: …{fragment}…")
        else:
            left.remove(match)
    report = "\n".join(str(p) for p in found)
    assert not missing, "not reported:\n" + "\n".join(missing) + "\n\nreported:\n" + report
    assert not left, "unexpected:\n" + "\n".join(str(p) for p in left)


def one_problem(src: Src) -> Problem:
    """The single problem reported for a file."""
    found = src.problems()
    assert len(found) == 1, "\n".join(str(p) for p in found)
    return found[0]
