"""The workflow cache: the same workflow back without loading, and a fresh load when a file changes."""

from __future__ import annotations

from pathlib import Path

import pytest

import venturegate
from tests.definitions.helpers import write
from venturegate.definitions import cache
from venturegate.definitions.loader import LoadedWorkflow, load_workflow

FLOW = """
workflow: {id: t, version: "1"}
stages:
  - id: 1
    title: One
    metrics:
      uptime: {unit: percent, direction: higher_is_better, threshold: 99}
"""


@pytest.fixture(autouse=True)
def _own_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("VENTUREGATE_CACHE_DIR", str(tmp_path / "cache"))


def test_a_second_load_comes_from_the_cache_and_a_changed_file_reloads(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    src = write(tmp_path, "flow.yaml", FLOW)
    first = cache.cached_workflow(src.path)
    assert len(list((tmp_path / "cache" / "workflows").glob("*.pickle"))) == 1
    loads: list[Path] = []

    def counted(path: Path) -> LoadedWorkflow:
        loads.append(path)
        return load_workflow(path)

    monkeypatch.setattr(cache, "load_workflow", counted)
    again = cache.cached_workflow(src.path)
    assert loads == [] and again.digest == first.digest and again.workflow == first.workflow
    src.path.write_text(FLOW.replace("threshold: 99", "threshold: 98"), encoding="utf-8")
    changed = cache.cached_workflow(src.path)
    assert loads == [src.path.resolve()] and changed.digest != first.digest
    assert changed.workflow.metric("uptime", 1).threshold == 98  # type: ignore[union-attr]


def test_an_extended_file_is_watched_too(tmp_path: Path) -> None:
    base = write(tmp_path, "base.yaml", FLOW)
    over = write(tmp_path, "over.yaml", "extends: base.yaml\nstages:\n  - {id: 1, title: Renamed}\n")
    assert cache.cached_workflow(over.path).workflow.stages[0].title == "Renamed"
    base.path.write_text(FLOW.replace("threshold: 99", "threshold: 97"), encoding="utf-8")
    assert cache.cached_workflow(over.path).workflow.metric("uptime", 1).threshold == 97  # type: ignore[union-attr]


def test_a_corrupt_cache_entry_means_a_fresh_load(tmp_path: Path) -> None:
    src = write(tmp_path, "flow.yaml", FLOW)
    cache.cached_workflow(src.path)
    for entry in (tmp_path / "cache" / "workflows").glob("*.pickle"):
        entry.write_bytes(b"not a pickle")
    assert cache.cached_workflow(src.path).workflow.stages[0].title == "One"


def test_the_code_version_changes_with_the_code(monkeypatch: pytest.MonkeyPatch) -> None:
    before = cache.code_version()
    monkeypatch.setattr(venturegate, "__version__", "0.0.0-test")
    assert cache.code_version() != before


def test_a_cached_workflow_is_judged_without_the_parser_or_yaml(tmp_path: Path) -> None:
    """What keeps a CLI read light: the cache carries the parsed conditions, so lark and PyYAML stay unimported."""
    import os
    import subprocess
    import sys

    src = write(
        tmp_path,
        "flow.yaml",
        FLOW + '    gates: {exit: [{check: "uptime >= threshold.uptime"}]}\n',
    )
    probe = (
        "import sys\n"
        "from venturegate.core.gates import parsed\n"
        "from venturegate.definitions.cache import cached_workflow\n"
        f"wf = cached_workflow({str(src.path)!r}).workflow\n"
        "parsed(wf.stages[0].gates.exit[0].check)\n"
        "print(sorted(m for m in ('lark', 'yaml', 'jsonschema', 'stamina') if m in sys.modules))\n"
    )
    env = {**os.environ, "VENTUREGATE_CACHE_DIR": str(tmp_path / "cache")}
    runs = [subprocess.run([sys.executable, "-c", probe], env=env, capture_output=True, text=True) for _ in range(2)]
    assert [r.returncode for r in runs] == [0, 0], runs[-1].stderr
    assert "'lark', 'yaml'" in runs[0].stdout  # the first load reads the YAML, parses and validates
    assert runs[1].stdout.strip() == "[]"
