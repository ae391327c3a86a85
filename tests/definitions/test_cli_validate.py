"""`venturegate workflow validate PATH`: exit 0 when valid, 1 with `file:line:column: message` lines otherwise."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner, Result

from tests.conftest import MINI
from tests.definitions.helpers import write
from venturegate.cli.app import app
from venturegate.definitions.loader import load_workflow

runner = CliRunner()


def validate(path: Path, *options: str) -> Result:
    result = runner.invoke(app, ["workflow", "validate", str(path), *options])
    # never a traceback: either no exception, or the SystemExit that carries the exit code
    assert result.exception is None or isinstance(result.exception, SystemExit), result.exception
    assert "Traceback" not in result.output
    return result


def test_valid_file_exits_0_with_a_summary() -> None:
    result = validate(MINI)
    assert result.exit_code == 0, result.output
    digest = load_workflow(MINI).digest
    assert result.stdout.startswith("valid: mini 0.1 — 3 stages")
    assert f"(digest {digest[:12]})" in result.stdout
    assert result.stderr == ""


def test_valid_file_as_json() -> None:
    result = validate(MINI, "--json")
    assert result.exit_code == 0, result.output
    summary = json.loads(result.stdout)
    assert summary["valid"] is True
    assert (summary["workflow"], summary["version"], summary["stages"]) == ("mini", "0.1", 3)
    assert summary["digest"] == load_workflow(MINI).digest


def test_invalid_file_exits_1_and_prints_every_problem_located(tmp_path: Path) -> None:
    src = write(
        tmp_path,
        "wf.yaml",
        """
        workflow: {id: t, version: "1"}
        stages:
          - id: 1
            title: A
            owner: ceo
            depends_on: [7]
            metrics:
              m: {unit: percent, threshold: 90, target: 80}
            gates:
              exit: [{check: "avg(m) > 1"}]
        """,
    )
    result = validate(src.path)
    assert result.exit_code == 1
    f = src.file
    lines = result.stderr.splitlines()
    assert lines == [
        f"{f}:5:12: stage 1: unknown role 'ceo' (hint: roles: agent, chairman, exec, lead, plan, viewer)",
        f"{f}:6:18: stage 1: depends on unknown stage 7",
        f"{f}:8:10: stage 1: metric 'm' levels contradict higher_is_better: threshold 90 should be ≤ target 80 "
        "(hint: for higher-is-better: alert ≤ threshold ≤ target)",
        f"{f}:10:23: stage 1: condition: avg() takes 2 arguments, got 1 (hint: write avg(metric, duration))",
        "error: the workflow has 4 problem(s)",
    ]
    assert result.stdout == ""
    assert result.output == result.stderr  # the runner mixes stderr into output


@pytest.mark.parametrize(
    ("text", "line"),
    [
        (
            'workflow: {id: t, version: "1"}\nstages:\n  - id: 1\n\ttitle: A\n',
            ":4:1: YAML syntax error: found ",
        ),
        ('workflow: {id: t, version: "1"}\nroles: [a, b\n', ":3:1: YAML syntax error: "),
        (
            'workflow: {id: t, version: "1"}\nworkflow: {id: u}\n',
            ":2:1: duplicate key 'workflow' (hint: remove one of them)",
        ),
    ],
)
def test_malformed_yaml_exits_1_with_a_located_message(tmp_path: Path, text: str, line: str) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text(text, encoding="utf-8")
    result = validate(path)
    assert result.exit_code == 1
    first, summary = result.stderr.splitlines()
    assert first.startswith(str(path) + line), first
    assert summary == "error: the workflow has 1 problem(s)"


def test_missing_file_exits_1_with_a_located_message(tmp_path: Path) -> None:
    path = tmp_path / "missing.yaml"
    result = validate(path)
    assert result.exit_code == 1
    first, summary = result.stderr.splitlines()
    assert first.startswith(f"{path}:1:1: cannot read file:")
    assert summary == "error: the workflow has 1 problem(s)"


def test_unreadable_values_and_recursive_aliases_do_not_crash_the_command(tmp_path: Path) -> None:
    path = tmp_path / "odd.yaml"
    path.write_text('workflow: {id: t, version: 2024-13-45}\nroles: &r [chairman, *r]\nx: "\\x00"\n', encoding="utf-8")
    result = validate(path)
    assert result.exit_code == 1
    assert f"{path}:1:28: cannot read '2024-13-45' as timestamp" in result.stderr
    assert f"{path}:2:8: an alias refers to itself" in result.stderr
