"""The validated workflow, cached on disk by the digest of its files and of the code that validates it.

Loading the bundled lifecycle (40 stages, YAML parsing, pydantic models, every cross-check) costs far
more than a CLI command's own work, so a command reuses the result of the last load when no file it
was built from and no file of the definitions or condition code has changed. The cache is the user's
own (`VENTUREGATE_CACHE_DIR`, else `~/.cache/venturegate`); any problem reading it means a fresh load.
"""

from __future__ import annotations

import hashlib
import os
import pickle
from pathlib import Path

import venturegate
from venturegate.core import gates
from venturegate.core.conditions.nodes import Expr
from venturegate.definitions import source
from venturegate.definitions.loader import BUNDLED_PATH, LoadedWorkflow, load_workflow
from venturegate.definitions.model import ConditionCheck, Workflow

_CODE = (Path(venturegate.__file__).parent / "definitions", Path(venturegate.__file__).parent / "core")
FORMAT = 2
"""2: an entry holds the workflow's parsed conditions too, so that a command does not import the parser."""


def cache_dir() -> Path:
    """Where cached workflows live."""
    given = os.environ.get("VENTUREGATE_CACHE_DIR")
    return Path(given) if given else Path.home() / ".cache" / "venturegate"


def code_version() -> str:
    """The package version and the size and modification time of every definitions and core module."""
    parts = [venturegate.__version__, str(FORMAT)]
    for folder in _CODE:
        for path in sorted(folder.rglob("*.py")):
            st = path.stat()
            parts.append(f"{path.name}:{st.st_size}:{st.st_mtime_ns}")
    return hashlib.sha256("\n".join(parts).encode()).hexdigest()


def _conditions(workflow: Workflow) -> dict[str, Expr]:
    """Every gate check and trigger condition of the workflow, parsed (what `gates.parsed` reads)."""
    texts = [
        chk.check
        for st in workflow.stages
        for chk in (*st.gates.entry, *st.gates.exit)
        if isinstance(chk, ConditionCheck)
    ]
    texts += [trig.when for st in workflow.stages for trig in st.triggers]
    return {text: gates.parsed(text) for text in texts}


def _digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def cached_workflow(path: Path | str | None = None) -> LoadedWorkflow:
    """`load_workflow(path)`, from the cache when the files and the code are unchanged (else loaded and stored)."""
    file = (Path(path) if path is not None else BUNDLED_PATH).resolve()
    code = code_version()
    entry = cache_dir() / "workflows" / (hashlib.sha256(f"{file}\n{code}".encode()).hexdigest() + ".pickle")
    try:
        with entry.open("rb") as fh:
            files, loaded, conditions = pickle.load(fh)
        if all(_digest(Path(f)) == d for f, d in files) and isinstance(loaded, LoadedWorkflow):
            gates.remember(conditions)
            return loaded
    except (OSError, EOFError, ValueError, TypeError, AttributeError, ImportError, pickle.UnpicklingError):
        pass
    with source.reading() as read:
        loaded = load_workflow(file)
    files = [(str(f), _digest(f)) for f in dict.fromkeys(read)]
    try:
        entry.parent.mkdir(parents=True, exist_ok=True)
        partial = entry.with_suffix(f".{os.getpid()}.tmp")
        with partial.open("wb") as fh:
            pickle.dump((files, loaded, _conditions(loaded.workflow)), fh, protocol=pickle.HIGHEST_PROTOCOL)
        partial.replace(entry)
    except OSError:
        pass  # a read-only home: the next command loads again
    return loaded
