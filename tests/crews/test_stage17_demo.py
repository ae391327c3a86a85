"""The stage-17 demo scene on its own engine: what `make demo` shows really happens."""

from __future__ import annotations

from pathlib import Path

import pytest
import stamina
from rich.console import Console

from venturegate.demo.gtm_scene import run_stage17_demo
from venturegate.engine import Engine


def test_the_scene(sqlite_engine: Engine, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("VENTUREGATE_CREW_ROOT", str(tmp_path / "crews"))
    console = Console(record=True, width=120)
    with stamina.set_testing(True, attempts=4):
        got = run_stage17_demo(sqlite_engine, console, tmp_path / "stage17")
    assert got["runs"] == ["waiting", "waiting", "completed"]
    assert got["rejected_copy"] >= 1
    assert got["workflow"]["passed"] == got["workflow"]["leads_tested"] and got["workflow"]["retries"] >= 2
    assert got["ab_test"]["decision"] == "winner" and got["ab_test"]["rule"] == "sequential"
    assert got["ab_test"]["days"] < 14
    assert got["allocation_versions"] == 2
    assert list((tmp_path / "stage17").glob("*.svg"))
    text = console.export_text()
    assert "rejected" in text and "regenerated" in text and "crossed the sequential boundary" in text
