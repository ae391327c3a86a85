"""The CLI enforces the API's permission matrix: the same check, unknown roles refused, says who acts."""

from __future__ import annotations

from pathlib import Path

import pytest
from rich.console import Console
from typer.testing import CliRunner

from tests.conftest import MINI
from venturegate.cli import context
from venturegate.cli.app import app
from venturegate.core.permissions import ROLES, refusal

runner = CliRunner()


def _run(*args: str) -> tuple[int, str]:
    result = runner.invoke(app, ["--workflow", str(MINI), *args])
    assert result.exception is None or isinstance(result.exception, SystemExit), result.exception
    return result.exit_code, result.output


@pytest.fixture
def workspace(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("VENTUREGATE_ACTOR", raising=False)
    code, _ = _run("--as", "lee:lead", "venture", "create", "acme", "--segment", "b2b_smb")
    assert code == 0
    return tmp_path


def test_an_unknown_role_is_refused_with_the_list_of_roles(workspace: Path) -> None:
    code, output = _run("--as", "ada:ceo", "venture", "create", "beta", "--segment", "b2b_smb")
    assert code == 1
    assert "unknown role 'ceo'" in output and "roles: " + ", ".join(ROLES) in output
    code, listing = _run("venture", "list", "--json")
    assert code == 0 and "beta" not in listing  # nothing was created


@pytest.mark.parametrize(
    ("args", "permission"),
    [
        (("venture", "pause", "acme"), "manage_ventures"),
        (("venture", "kill", "acme"), "manage_ventures"),
        (("metric", "record", "acme", "idea_score", "7"), "write_samples"),
        (("advance", "acme"), "advance"),
        (("config", "set", "acme", "max_latency_ms", "400"), "change_config"),
    ],
)
def test_a_viewer_may_read_but_not_change(workspace: Path, args: tuple[str, ...], permission: str) -> None:
    code, output = _run("--as", "vic:viewer", *args)
    assert code == 1
    message = refusal("viewer", permission)  # type: ignore[arg-type]
    assert message is not None and message in " ".join(output.split())
    code, shown = _run("--as", "vic:viewer", "venture", "show", "acme", "--json")
    assert code == 0 and '"status": "active"' in shown and '"samples"' not in shown


def test_the_cli_says_who_it_acts_as(workspace: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(context, "err", Console(stderr=True, force_terminal=True, color_system=None, highlight=False))
    code, output = _run("--as", "ada:chairman", "venture", "pause", "acme", "--reason", "budget")
    assert code == 0 and "as ada (chairman, --as)" in output
    monkeypatch.setenv("VENTUREGATE_ACTOR", "lee:lead")
    code, output = _run("venture", "resume", "acme")
    assert code == 0 and "as lee (lead, VENTUREGATE_ACTOR)" in output
