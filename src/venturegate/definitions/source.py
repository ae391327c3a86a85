"""YAML documents with positions: every value remembers the file, line and column it came from."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import yaml  # imported where YAML is read: a command on a cached workflow reads none

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
    segments: dict[PathKey, list[tuple[int, int, int]]] = field(default_factory=dict)
    """For text spread over several source lines: (offset in the value, line, column) of each line's start."""

    def where(self, path: PathKey) -> tuple[int, int]:
        """Line and column (1-based) of the value at `path`, or of its nearest located parent."""
        for end in range(len(path), -1, -1):
            hit = self.positions.get(path[:end])
            if hit is not None:
                return hit
        return (1, 1)

    def text_position(self, path: PathKey, offset: int) -> tuple[int, int] | None:
        """Line and column of character `offset` of a multi-line text value (None for one-line values)."""
        segments = self.segments.get(path)
        if not segments:
            return None
        start, line, column = segments[0]
        for seg in segments:
            if seg[0] <= offset:
                start, line, column = seg
        return (line, column + max(offset - start, 0))

    def problem(self, path: PathKey, message: str, hint: str = "") -> Problem:
        """A problem located at `path`."""
        line, column = self.where(path)
        return Problem(self.file, line, column, message, hint)


def _mark(node: yaml.Node) -> tuple[int, int]:
    return (node.start_mark.line + 1, node.start_mark.column + 1)


def _segments(node: yaml.ScalarNode, value: str, text: str) -> list[tuple[int, int, int]]:
    """Where each source line of a multi-line text scalar starts in its (folded) value."""
    raw_lines = text[node.start_mark.index : node.end_mark.index].split("\n")
    out: list[tuple[int, int, int]] = []
    cursor = 0
    for i, raw in enumerate(raw_lines):
        column = node.start_mark.column if i == 0 else 0
        if i == 0 and node.style in ("|", ">"):
            continue  # the line holding the block indicator
        if i == 0 and node.style in ("'", '"'):
            raw, column = raw[1:], column + 1
        if i == len(raw_lines) - 1 and node.style in ("'", '"'):
            raw = raw[:-1]
        content = raw.lstrip(" \t")
        column += len(raw) - len(content)
        content = content.rstrip()
        found = value.find(content, cursor) if content else -1
        if found >= 0:
            out.append((found, node.start_mark.line + 1 + i, column + 1))
            cursor = found + len(content)
    return out


MAX_VALUES = 200_000
"""A workflow never needs more values than this; more means runaway alias expansion ("billion laughs")."""


class _TooLarge(Exception):
    pass


class _Builder:
    def __init__(self, doc: Document, loader: Any, problems: list[Problem], text: str) -> None:
        self.doc = doc
        self.loader = loader
        self.problems = problems
        self.text = text
        self.open: set[int] = set()
        self.built = 0

    def build(self, node: yaml.Node, path: PathKey) -> Any:
        import yaml

        self.built += 1
        if self.built > MAX_VALUES:
            raise _TooLarge
        self.doc.positions[path] = _mark(node)
        if isinstance(node, yaml.MappingNode | yaml.SequenceNode):
            if id(node) in self.open:
                line, col = _mark(node)
                self.problems.append(Problem(self.doc.file, line, col, "an alias refers to itself (recursive data)"))
                return None
            self.open.add(id(node))
            try:
                if isinstance(node, yaml.MappingNode):
                    return self._mapping(node, path)
                return [self.build(item, (*path, i)) for i, item in enumerate(node.value)]
            finally:
                self.open.discard(id(node))
        assert isinstance(node, yaml.ScalarNode)
        if node.style in ("'", '"'):
            self.doc.quoted.add(path)
        value = self._construct(node)
        if isinstance(value, str) and node.start_mark.line != node.end_mark.line:
            self.doc.segments[path] = _segments(node, value, self.text)
        return value

    def _construct(self, node: yaml.Node) -> Any:
        """A scalar's value; one that its tag cannot read (e.g. `2024-13-45`) is a problem, not a crash."""
        try:
            return self.loader.construct_object(node, deep=True)
        except (ArithmeticError, LookupError, ValueError, TypeError, AttributeError) as exc:
            line, col = _mark(node)
            kind = str(node.tag).rsplit(":", 1)[-1]
            why = f": {exc}" if isinstance(exc, ValueError) else ""
            self.problems.append(Problem(self.doc.file, line, col, f"cannot read {node.value!r} as {kind}{why}"))
            return None

    def _mapping(self, node: yaml.MappingNode, path: PathKey) -> dict[Any, Any]:
        self.loader.flatten_mapping(node)
        out: dict[Any, Any] = {}
        for key_node, value_node in node.value:
            before = len(self.problems)
            key = self._construct(key_node)
            if len(self.problems) > before:
                continue
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
    import yaml

    doc = Document(file=file, data=None)
    problems: list[Problem] = []
    loader: Any = None
    try:
        # libyaml's safe loader when the wheel has it (about 10x faster), else the pure-Python one; both record marks.
        loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)(text)
        node = loader.get_single_node()
        if node is not None:
            doc.data = _Builder(doc, loader, problems, text).build(node, ())
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line, col = (mark.line + 1, mark.column + 1) if mark is not None else (1, 1)
        what = exc.problem or "invalid YAML"
        context = f" {exc.context}" if exc.context else ""
        start = exc.context_mark
        if start is not None and mark is not None and start.line != mark.line:
            context += f" (started at line {start.line + 1}, column {start.column + 1})"
        problems.append(Problem(file, line, col, f"YAML syntax error: {what}{context}"))
    except yaml.reader.ReaderError as exc:
        pos = max(min(exc.position, len(text)), 0)
        line = text.count("\n", 0, pos) + 1
        col = pos - (text.rfind("\n", 0, pos) + 1) + 1
        problems.append(Problem(file, line, col, f"YAML syntax error: character #x{exc.character:04x} is not allowed"))
    except yaml.YAMLError as exc:
        problems.append(Problem(file, 1, 1, f"YAML error: {exc}"))
    except _TooLarge:
        doc.data = None
        problems.append(Problem(file, 1, 1, f"the document expands to more than {MAX_VALUES:,} values (aliases?)"))
    except RecursionError:
        doc.data = None
        problems.append(Problem(file, 1, 1, "YAML syntax error: the document is nested too deeply"))
    finally:
        if loader is not None:
            loader.dispose()
    return doc, problems


_READING: ContextVar[list[Path] | None] = ContextVar("_READING", default=None)


@contextmanager
def reading() -> Iterator[list[Path]]:
    """Collect the path of every YAML file read inside the block (the workflow cache checks them later)."""
    paths: list[Path] = []
    token = _READING.set(paths)
    try:
        yield paths
    finally:
        _READING.reset(token)


def read_yaml(path: Path) -> tuple[Document, list[Problem]]:
    """Read and parse a YAML file; an unreadable file is a problem, not an exception."""
    collecting = _READING.get()
    if collecting is not None:
        collecting.append(path.resolve())
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError, ValueError) as exc:
        problem = Problem(
            str(path), 1, 1, f"cannot read file: {exc}", "check the path (relative to the working folder)"
        )
        return Document(file=str(path), data=None), [problem]
    return parse_yaml(text, str(path))
