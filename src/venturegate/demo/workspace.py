"""The demo's workspace folder (recreated on each run) and the environment its notification channels read."""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from venturegate.engine import BadInput

MARKER = ".venturegate-demo"
"""A file that marks a folder as a demo workspace (only such a folder, or an empty one, is deleted)."""


@contextmanager
def environment(values: dict[str, str]) -> Iterator[None]:
    """Set environment variables for the block (channels read `${NAME}` at delivery), then restore them."""
    saved = {name: os.environ.get(name) for name in values}
    os.environ.update(values)
    try:
        yield
    finally:
        for name, old in saved.items():
            if old is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = old


def fresh_workspace(workdir: Path) -> Path:
    """`workdir` recreated empty with its marker; a folder that is not new, empty or a demo workspace is refused."""
    folder = workdir.expanduser().resolve()
    if folder.exists():
        if not folder.is_dir():
            raise BadInput(f"{folder} is a file", where="--dir", hint="give a folder for the demo workspace")
        if any(folder.iterdir()) and not (folder / MARKER).exists():
            raise BadInput(
                f"{folder} is not empty and is not a demo workspace; refusing to delete it",
                where="--dir",
                hint="give a new or empty folder (the demo deletes and recreates it)",
            )
        shutil.rmtree(folder)
    folder.mkdir(parents=True)
    (folder / MARKER).write_text("Created by `venturegate demo`, which deletes and recreates this folder.\n")
    return folder
