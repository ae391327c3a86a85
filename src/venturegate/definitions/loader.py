"""Load a workflow: read YAML (with `include` and `extends`), validate it, report every problem at once."""

from __future__ import annotations

import difflib
import hashlib
import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError

from venturegate.definitions import model as _models
from venturegate.definitions.model import CHECK_KINDS, Stage, Workflow
from venturegate.definitions.source import (
    DefinitionError,
    Document,
    PathKey,
    Problem,
    read_yaml,
)

BUNDLED_PATH = Path(__file__).parent / "bundled" / "workflow.yaml"
TOP_KEYS = ("workflow", "roles", "defaults", "config", "artifacts", "notifications", "stages", "include", "extends")
_MERGED_MAPS = ("metrics", "config", "artifacts", "approvals")
_MERGED_LISTS = ("substages", "triggers", "errors")
_FIELD_MERGED = ("metrics", "config")
"""Maps whose entries an extending file changes field by field (one segment's threshold is three lines)."""


def _merge_fields(old: Any, new: Any) -> Any:
    """`new` over `old` key by key, one level down into `segments` (a None value is kept: it clears)."""
    if not isinstance(old, dict) or not isinstance(new, dict):
        return new
    merged = dict(old)
    for key, value in new.items():
        if key == "segments" and isinstance(merged.get(key), dict) and isinstance(value, dict):
            merged[key] = {
                seg: {**merged[key][seg], **lv}
                if isinstance(merged[key].get(seg), dict) and isinstance(lv, dict)
                else lv
                for seg, lv in {**merged[key], **value}.items()
            }
        else:
            merged[key] = value
    return merged


_FIELD_NAMES = sorted(
    {
        info.alias or name
        for model in vars(_models).values()
        if isinstance(model, type) and issubclass(model, BaseModel) and model.__module__ == _models.__name__
        for name, info in model.model_fields.items()
    }
)
M = TypeVar("M", bound=BaseModel)


@dataclass
class _Sourced:
    """Raw data with the places it came from (newest first), so errors point at the right file."""

    data: dict[str, Any]
    sources: list[tuple[Document, PathKey]] = field(default_factory=list)
    items: dict[PathKey, _Sourced] = field(default_factory=dict)
    """Items of merged lists, by (key, index in the merged list): their index in the source differs."""

    def locate(self, path: PathKey, message: str, hint: str = "") -> Problem:
        if path[:2] in self.items:
            return self.items[path[:2]].locate(path[2:], message, hint)
        for end in range(len(path), -1, -1):
            for doc, prefix in self.sources:
                pos = doc.positions.get((*prefix, *path[:end]))
                if pos is not None:
                    return Problem(doc.file, pos[0], pos[1], message, hint)
        doc = self.sources[0][0] if self.sources else Document(file="<workflow>", data=None)
        return Problem(doc.file, 1, 1, message, hint)

    def quoted(self, path: PathKey) -> bool:
        if path[:2] in self.items:
            return self.items[path[:2]].quoted(path[2:])
        return any((*prefix, *path) in doc.quoted for doc, prefix in self.sources)

    def text_position(self, path: PathKey, offset: int) -> tuple[str, int, int] | None:
        """File, line and column of character `offset` of a multi-line text value at `path`."""
        if path[:2] in self.items:
            return self.items[path[:2]].text_position(path[2:], offset)
        for doc, prefix in self.sources:
            if (*prefix, *path) in doc.positions:
                hit = doc.text_position((*prefix, *path), offset)
                return None if hit is None else (doc.file, *hit)
        return None

    def item(self, key: str, index: int, data: Any) -> _Sourced:
        """The origin of `self.data[key][index]`."""
        found = self.items.get((key, index))
        if found is not None:
            return found
        return _Sourced(data, [(doc, (*prefix, key, index)) for doc, prefix in self.sources])


@dataclass(frozen=True)
class LoadedWorkflow:
    """A validated workflow, its pinning digest and the merged document it was built from."""

    workflow: Workflow
    digest: str
    document: dict[str, Any]

    @property
    def version(self) -> str:
        """The declared version."""
        return self.workflow.workflow.version


@dataclass
class _Raw:
    top: _Sourced
    stages: list[_Sourced]
    problems: list[Problem]
    mapping: bool = True
    """False when the file could not be read or parsed into a mapping (that problem is already reported)."""


def _merge_stage(base: _Sourced, over: _Sourced) -> _Sourced:
    data = dict(base.data)
    items = {k: v for k, v in base.items.items() if k[0] not in over.data}
    for key, value in over.data.items():
        old = data.get(key)
        if key in _FIELD_MERGED and isinstance(old, dict) and isinstance(value, dict):
            data[key] = {**old, **{name: _merge_fields(old.get(name), entry) for name, entry in value.items()}}
        elif key in _MERGED_MAPS and isinstance(old, dict) and isinstance(value, dict):
            data[key] = {**old, **value}
        elif key in _MERGED_LISTS and isinstance(old, list) and isinstance(value, list):
            merged = list(old)
            origins = [base.item(key, i, o) for i, o in enumerate(old)]
            for j, item in enumerate(value):
                ident = item.get("id") if isinstance(item, dict) else None
                idx = next(
                    (i for i, o in enumerate(merged) if isinstance(o, dict) and o.get("id") == ident),
                    None,
                )
                if ident is not None and idx is not None:
                    merged[idx] = item
                    origins[idx] = over.item(key, j, item)
                else:
                    merged.append(item)
                    origins.append(over.item(key, j, item))
            data[key] = merged
            items.update({(key, i): origin for i, origin in enumerate(origins)})
        else:
            data[key] = value
    return _Sourced(data, over.sources + base.sources, items)


def _ident(entry: _Sourced) -> object:
    """A stage's id as a dict key (an unhashable id, e.g. a list, is an error reported later)."""
    ident = entry.data.get("id")
    return ident if isinstance(ident, int | str | float | None) else repr(ident)


def _is_file(path: Path) -> bool:
    try:
        return path.is_file()
    except (OSError, ValueError):
        return False


def _resolved(path: Path) -> Path:
    try:
        return path.resolve()
    except (OSError, ValueError, RuntimeError):
        return path


def _stage_entries(doc: Document, path: PathKey, value: Any, problems: list[Problem]) -> list[_Sourced]:
    if not isinstance(value, list):
        problems.append(doc.problem(path, "`stages` must be a list of stages"))
        return []
    out = []
    for i, item in enumerate(value):
        if isinstance(item, dict):
            out.append(_Sourced(item, [(doc, (*path, i))]))
        else:
            problems.append(doc.problem((*path, i), "a stage must be a mapping with id and title"))
    return out


def _read_raw(path: Path, seen: tuple[Path, ...] = ()) -> _Raw:
    problems: list[Problem] = []
    doc, found = read_yaml(path)
    problems += found
    top = _Sourced({}, [(doc, ())])
    raw = _Raw(top, [], problems)
    if doc.data is None:
        if not found:
            problems.append(doc.problem((), "the file is empty; a workflow needs at least `workflow:`"))
        raw.mapping = False
        return raw
    if not isinstance(doc.data, dict):
        problems.append(doc.problem((), "a workflow file must be a mapping (workflow:, stages:, …)"))
        raw.mapping = False
        return raw
    for key in doc.data:
        if key not in TOP_KEYS:
            close = difflib.get_close_matches(str(key), TOP_KEYS, n=1)
            hint = f"did you mean '{close[0]}'?" if close else "allowed: " + ", ".join(TOP_KEYS)
            problems.append(doc.problem((key,), f"unknown top-level key '{key}'", hint))

    base: _Raw | None = None
    extends = doc.data.get("extends")
    if extends is not None:
        target = BUNDLED_PATH if extends == "bundled" else (path.parent / str(extends))
        if _resolved(target) in seen:
            problems.append(doc.problem(("extends",), f"'{extends}' extends itself (cycle)"))
        elif not _is_file(target):
            problems.append(
                doc.problem(
                    ("extends",),
                    f"cannot extend '{extends}': no such file",
                    "use `bundled` or a relative path",
                )
            )
        else:
            base = _read_raw(target, (*seen, _resolved(path)))
            problems += base.problems

    stages = _stage_entries(doc, ("stages",), doc.data.get("stages", []), problems)
    includes = doc.data.get("include", [])
    if not isinstance(includes, list):
        problems.append(doc.problem(("include",), "`include` must be a list of relative file paths"))
        includes = []
    for i, rel in enumerate(includes):
        inc = path.parent / str(rel)
        if not _is_file(inc):
            problems.append(doc.problem(("include", i), f"included file '{rel}' does not exist"))
            continue
        idoc, ifound = read_yaml(inc)
        problems += ifound
        if isinstance(idoc.data, dict) and "stages" in idoc.data:
            stages += _stage_entries(idoc, ("stages",), idoc.data["stages"], problems)
        elif isinstance(idoc.data, dict):
            stages.append(_Sourced(idoc.data, [(idoc, ())]))
        elif not ifound:
            problems.append(idoc.problem((), "an included file holds one stage mapping or `stages: [...]`"))

    top.data = {k: v for k, v in doc.data.items() if k in TOP_KEYS[:6]}
    if base is None:
        raw.stages = stages
        return raw
    # An extending workflow overrides the base's top-level sections key by key and its stages by id.
    merged_top = dict(base.top.data)
    for key, value in top.data.items():
        old = merged_top.get(key)
        merged_top[key] = {**old, **value} if isinstance(old, dict) and isinstance(value, dict) else value
    raw.top = _Sourced(merged_top, top.sources + base.top.sources)
    by_id = {_ident(s): s for s in base.stages}
    order = [_ident(s) for s in base.stages]
    for st in stages:
        ident = _ident(st)
        if ident in by_id:
            by_id[ident] = _merge_stage(by_id[ident], st)
        else:
            by_id[ident] = st
            order.append(ident)
    raw.stages = [by_id[i] for i in order]
    return raw


def _data_path(loc: PathKey, data: Any, missing: bool) -> tuple[PathKey, list[str]]:
    """The path into the raw data that a pydantic error location names, and the union members it names.

    Pydantic puts a gate check's tag (`- customer: …` → `customer`) and the member of a plain union
    (`int`, `list[str]`, …) into its locations; neither is a key of the YAML.
    """
    path: list[str | int] = []
    members: list[str] = []
    cur = data
    for i, part in enumerate(loc):
        if part in CHECK_KINDS and i >= 2 and isinstance(loc[i - 1], int) and loc[i - 2] in ("entry", "exit"):
            continue
        in_list = isinstance(cur, list) and isinstance(part, int) and 0 <= part < len(cur)
        if in_list or (isinstance(cur, dict) and part in cur):
            cur = cur[part]
        elif not (missing and isinstance(cur, dict) and i == len(loc) - 1):
            members.append(str(part))
            continue
        path.append(part)
    return tuple(path), members


def pydantic_problems(exc: ValidationError, where: _Sourced, prefix: PathKey = ()) -> list[Problem]:
    """Turn pydantic's errors into located problems with hints (one per value, even for a union)."""
    out = []
    errors = exc.errors(include_url=False)
    paths = [_data_path(tuple(err["loc"]), where.data, err["type"] == "missing") for err in errors]
    done: set[PathKey] = set()
    for err, (loc, members) in zip(errors, paths, strict=True):
        dotted = ".".join(str(p) for p in (*prefix, *loc)) or "(top)"
        msg = str(err["msg"]).removeprefix("Value error, ").removeprefix("Assertion failed, ")
        union = [m for (lc, ms) in paths if lc == loc for m in ms[-1:]]
        if members and len(union) > 1:
            if loc in done:
                continue
            done.add(loc)
            shown = repr(err["input"])
            shown = shown if len(shown) <= 60 else shown[:59] + "…"
            msg = f"{shown} is none of " + ", ".join(dict.fromkeys(union))
        hint = ""
        if err["type"] == "extra_forbidden":
            name = str(loc[-1])
            msg = f"unknown field '{name}'"
            close = difflib.get_close_matches(name, _FIELD_NAMES, n=1)
            hint = f"did you mean '{close[0]}'?" if close else "see docs/workflow-format.md"
        elif err["type"] == "missing":
            msg = f"missing required field '{loc[-1]}'"
            hint = _renamed_hint(loc, where.data)
        elif err["type"] in ("literal_error", "enum"):
            allowed = re.findall(r"'([^']*)'", str((err.get("ctx") or {}).get("expected", "")))
            close = difflib.get_close_matches(str(err["input"]), allowed, n=1)
            hint = f"did you mean '{close[0]}'?" if close else "allowed values are listed in docs/workflow-format.md"
        out.append(where.locate(loc, f"{dotted}: {msg}", hint))
    return out


def _renamed_hint(loc: PathKey, data: Any) -> str:
    """For a new entry of a named map that lacks a required field: the existing entry it was probably meant to be.

    In an extending file, `metrics: {integration_sucess_rate: {...}}` declares a new metric (which needs a
    unit) rather than changing the bundled `integration_success_rate`.
    """
    if len(loc) < 3 or loc[0] not in _MERGED_MAPS or not isinstance(data, dict):
        return ""
    siblings = data.get(loc[0])
    others = [str(k) for k in siblings if k != loc[1]] if isinstance(siblings, dict) else []
    close = difflib.get_close_matches(str(loc[1]), others, n=1)
    if not close:
        return ""
    return f"did you mean '{close[0]}'? '{loc[1]}' names no existing entry, so it is read as a new one"


def _canonical(data: Any) -> str:
    return json.dumps(data, sort_keys=True, separators=(",", ":"), default=str)


def _salvage(model: type[M], data: dict[str, Any], exc: ValidationError, stand_in: dict[str, Any]) -> M | None:
    """The model without its invalid parts, so that the rest is still cross-checked (and can be referred to).

    An invalid entry of a named map (a metric, a config parameter, …) is left out, a required field
    gets a stand-in, any other invalid field its default. Only used when there are problems anyway.
    """
    fixed: dict[Any, Any] = dict(data)
    for _ in range(3):
        for err in exc.errors(include_url=False):
            loc = err["loc"]
            key = loc[0] if loc else None
            current = fixed.get(key)
            if isinstance(key, str) and key in stand_in:
                fixed[key] = stand_in[key]
            elif key is None or (isinstance(key, str) and key in model.model_fields and key not in fixed):
                return None
            elif key in _MERGED_MAPS and len(loc) > 1 and isinstance(current, dict) and loc[1] in current:
                fixed[key] = {k: v for k, v in current.items() if k != loc[1]}
            elif key in model.model_fields and model.model_fields[str(key)].is_required():
                return None
            else:
                fixed.pop(key, None)
        try:
            return model.model_validate(fixed)
        except ValidationError as again:
            exc = again
    return None


def build(raw: _Raw) -> tuple[Workflow | None, list[Problem], list[_Sourced]]:
    """Validate raw data into models, stage by stage so one bad stage doesn't hide the others.

    A part that fails validation is reported, then left out so the rest is still cross-checked.
    """
    problems = list(raw.problems)
    parsed = {(p.file, p.line, p.column) for p in raw.problems}  # a value YAML could not read: said already
    header: Workflow | None = None
    try:
        # A file that could not be read or parsed already has its problem; "missing `workflow`" would be noise.
        if raw.mapping:
            header = Workflow.model_validate(raw.top.data)
    except ValidationError as exc:
        problems += [p for p in pydantic_problems(exc, raw.top) if (p.file, p.line, p.column) not in parsed]
        header = _salvage(Workflow, raw.top.data, exc, {"workflow": {"id": "?", "version": "?"}})
    stages: list[tuple[Stage, _Sourced]] = []
    for entry in raw.stages:
        ident = entry.data.get("id", "?")
        try:
            stages.append((Stage.model_validate(entry.data), entry))
        except ValidationError as exc:
            found = pydantic_problems(exc, entry, (f"stage {ident}",))
            problems += [p for p in found if (p.file, p.line, p.column) not in parsed]
            salvaged = _salvage(Stage, entry.data, exc, {"title": "?"})
            if salvaged is not None:
                stages.append((salvaged, entry))
    stages.sort(key=lambda pair: pair[0].id)
    if header is None:
        return None, problems, [e for _, e in stages]
    workflow = header.model_copy(update={"stages": [s for s, _ in stages]})
    return workflow, problems, [e for _, e in stages]


def load_workflow(path: Path | str | None = None) -> LoadedWorkflow:
    """Load and validate a workflow file (the bundled lifecycle when `path` is None).

    Raises DefinitionError listing every problem, each as `file:line:column: message`.
    """
    from venturegate.definitions.validation import check_workflow

    file = Path(path) if path is not None else BUNDLED_PATH
    raw = _read_raw(file)
    workflow, problems, entries = build(raw)
    if workflow is not None:
        problems += check_workflow(workflow, raw.top, entries)
    if problems or workflow is None:
        raise DefinitionError(problems)
    document = {
        **{k: v for k, v in raw.top.data.items()},
        "stages": sorted((e.data for e in entries), key=lambda d: int(d["id"])),
    }
    digest = hashlib.sha256(_canonical(document).encode()).hexdigest()
    return LoadedWorkflow(workflow=workflow, digest=digest, document=document)


def workflow_from_document(document: dict[str, Any]) -> LoadedWorkflow:
    """Rebuild a pinned workflow from the merged document stored when a venture started on it."""
    workflow = Workflow.model_validate(document)
    digest = hashlib.sha256(_canonical(document).encode()).hexdigest()
    return LoadedWorkflow(workflow=workflow, digest=digest, document=document)
