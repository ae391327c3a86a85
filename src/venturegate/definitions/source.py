"""YAML documents with positions: every value remembers the file, line and column it came from."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

PathKey = tuple[str | int, ...]


@dataclass(frozen=True)
class Problem:
    """One thing wrong with a definition, located in its source file."""

    file: str
    line: int
    column: int
    message: str
    hint: str = ""

    def __str__(self) -> str:
        text = f"{self.file}:{self.line}:{self.column}: {self.message}"
        return f"{text} (hint: {self.hint})" if self.hint else text


class DefinitionError(Exception):
    """A workflow failed to load; `problems` lists every problem found, in file order."""

    def __init__(self, problems: list[Problem]) -> None:
        self.problems = sorted(problems, key=lambda p: (p.file, p.line, p.column, p.message))
        super().__init__("\n".join(str(p) for p in self.problems))


@dataclass
class Document:
    """A parsed YAML file and the position of every value in it."""

    file: str
    data: Any
    positions: dict[PathKey, tuple[int, int]] = field(default_factory=dict)
    quoted: set[PathKey] = field(default_factory=set)

    def where(self, path: PathKey) -> tuple[int, int]:
        """Line and column (1-based) of the value at `path`, or of its nearest located parent."""
        for end in range(len(path), -1, -1):
            hit = self.positions.get(path[:end])
            if hit is not None:
                return hit
        return (1, 1)

    def problem(self, path: PathKey, message: str, hint: str = "") -> Problem:
        """A problem located at `path`."""
        line, column = self.where(path)
        return Problem(self.file, line, column, message, hint)


def _mark(node: yaml.Node) -> tuple[int, int]:
    return (node.start_mark.line + 1, node.start_mark.column + 1)


class _Builder:
    def __init__(self, doc: Document, loader: yaml.SafeLoader, problems: list[Problem]) -> None:
        self.doc = doc
        self.loader = loader
        self.problems = problems

    def build(self, node: yaml.Node, path: PathKey) -> Any:
        self.doc.positions[path] = _mark(node)
        if isinstance(node, yaml.MappingNode):
            return self._mapping(node, path)
        if isinstance(node, yaml.SequenceNode):
            return [self.build(item, (*path, i)) for i, item in enumerate(node.value)]
        assert isinstance(node, yaml.ScalarNode)
        if node.style in ("'", '"'):
            self.doc.quoted.add(path)
        return self.loader.construct_object(node, deep=True)

    def _mapping(self, node: yaml.MappingNode, path: PathKey) -> dict[Any, Any]:
        self.loader.flatten_mapping(node)
        out: dict[Any, Any] = {}
        for key_node, value_node in node.value:
            key = self.loader.construct_object(key_node, deep=True)
            if not isinstance(key, str | int):
                line, col = _mark(key_node)
                self.problems.append(Problem(self.doc.file, line, col, "mapping keys must be text"))
                continue
            if key in out:
                line, col = _mark(key_node)
                self.problems.append(Problem(self.doc.file, line, col, f"duplicate key '{key}'", "remove one of them"))
                continue
            out[key] = self.build(value_node, (*path, key))
        return out


def parse_yaml(text: str, file: str) -> tuple[Document, list[Problem]]:
    """Parse YAML text safely, recording positions; syntax errors become located problems."""
    doc = Document(file=file, data=None)
    problems: list[Problem] = []
    loader = yaml.SafeLoader(text)
    try:
        node = loader.get_single_node()
        if node is not None:
            doc.data = _Builder(doc, loader, problems).build(node, ())
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line, col = (mark.line + 1, mark.column + 1) if mark is not None else (1, 1)
        what = exc.problem or "invalid YAML"
        context = f" {exc.context}" if exc.context else ""
        problems.append(Problem(file, line, col, f"YAML syntax error: {what}{context}"))
    except yaml.YAMLError as exc:
        problems.append(Problem(file, 1, 1, f"YAML error: {exc}"))
    finally:
        loader.dispose()
    return doc, problems


def read_yaml(path: Path) -> tuple[Document, list[Problem]]:
    """Read and parse a YAML file; an unreadable file is a problem, not an exception."""
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        return Document(file=str(path), data=None), [Problem(str(path), 1, 1, f"cannot read file: {exc}")]
    return parse_yaml(text, str(path))
