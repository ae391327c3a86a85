"""Docs that cannot drift: generated references are current and every model field is documented."""

from __future__ import annotations

import inspect
from pathlib import Path

from pydantic import BaseModel

from venturegate.cli.reference import render
from venturegate.definitions import model
from venturegate.definitions.reference import MODELS, render_fields

DOCS = Path(__file__).resolve().parent.parent / "docs"


def test_cli_reference_is_current() -> None:
    assert (DOCS / "cli.md").read_text(encoding="utf-8") == render(), "run `make docs` and commit docs/cli.md"


def test_readme_command_table_is_current() -> None:
    from venturegate.cli.reference import render_summary

    readme = (DOCS.parent / "README.md").read_text(encoding="utf-8")
    assert render_summary() in readme, "run `make docs` and commit README.md"


def test_workflow_format_field_reference_is_current() -> None:
    text = (DOCS / "workflow-format.md").read_text(encoding="utf-8")
    assert render_fields() in text, "run `make docs` and commit docs/workflow-format.md"


def test_every_model_field_is_documented() -> None:
    text = (DOCS / "workflow-format.md").read_text(encoding="utf-8")
    missing = [
        f"{m.__name__}.{info.alias or name}"
        for m in MODELS
        for name, info in m.model_fields.items()
        if f"| `{info.alias or name}` |" not in text or not info.description
    ]
    assert not missing, f"undocumented fields: {missing}"


def test_every_model_is_listed() -> None:
    defined = {
        obj
        for _, obj in inspect.getmembers(model, inspect.isclass)
        if issubclass(obj, BaseModel) and obj.__module__ == model.__name__ and not obj.__name__.startswith("_")
    }
    assert defined == set(MODELS)


def test_every_environment_setting_is_documented() -> None:
    import re

    readme = (DOCS.parent / "README.md").read_text(encoding="utf-8")
    src = DOCS.parent / "src" / "venturegate"
    names = {
        m for path in src.rglob("*.py") for m in re.findall(r"VENTUREGATE_[A-Z_]+", path.read_text(encoding="utf-8"))
    }
    assert names, "expected settings"
    assert not [n for n in names if f"`{n}`" not in readme]
