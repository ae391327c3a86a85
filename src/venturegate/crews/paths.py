"""Where crews write: a folder per run under the operator's crew root, named from ids, never from user text.

The root is the server's choice: `CrewContext.output_root` when the caller sets it (the demo, tests),
else `VENTUREGATE_CREW_ROOT`, else `.venturegate/crews` under the working directory. An `out_dir`
option (agent-controlled) may only name a folder inside that root, and a file an artifact names
(the stage-19 OpenAPI documents) is read only from inside it.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from venturegate.engine.exceptions import BadInput

ROOT_ENV = "VENTUREGATE_CREW_ROOT"


def crew_root(configured: Path | None = None) -> Path:
    """The folder every crew run writes under (resolved, symlinks followed)."""
    if configured is not None:
        return configured.expanduser().resolve()
    env = os.environ.get(ROOT_ENV)
    return Path(env).expanduser().resolve() if env else (Path.cwd() / ".venturegate" / "crews").resolve()


def confined(root: Path, candidate: str | Path, *, where: str) -> Path:
    """`candidate` (relative to `root`, or absolute) resolved, if it lies inside `root`; else a located error.

    Resolution follows symlinks, so a link inside the root that points outside it is refused too.
    """
    text = str(candidate)
    if "\x00" in text or not text.strip():
        raise BadInput(f"{where} is not a usable path", where=where, hint="a path inside the crew root")
    root = root.resolve()
    path = Path(text).expanduser()
    resolved = (path if path.is_absolute() else root / path).resolve()
    if resolved != root and not resolved.is_relative_to(root):
        raise BadInput(
            f"{where} {text!r} is outside the crew folder {root}",
            where=where,
            hint=f"name a path inside {root} (the operator sets it with {ROOT_ENV})",
        )
    return resolved


def run_folder(root: Path, venture_id: int, run_id: str) -> Path:
    """The default folder of one run: `<root>/v<venture id>/<run id>`."""
    return confined(root, Path(f"v{int(venture_id)}") / run_id, where="run folder")


def output_folder(output_root: Path | None, options: Mapping[str, Any], venture_id: int, run_id: str) -> Path:
    """A run's folder: the `out_dir` option confined to the crew root, else `<root>/v<venture id>/<run id>`."""
    root = crew_root(output_root)
    given = options.get("out_dir")
    if given is not None:
        return confined(root, str(given), where="option out_dir")
    return run_folder(root, venture_id, run_id)
