"""Issue 17, item 10: the CLI prints untrusted text literally (no Rich markup, no terminal control)."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from tests.conftest import MINI
from venturegate.cli.app import app
from venturegate.cli.escape import safe

HOSTILE = "[red]boom[/red] [link=http://x]y[/link] \x1b[2J\x1b]0;title\x07 \u202eevil\r"


def test_safe_escapes_markup_and_shows_controls() -> None:
    assert safe("[bold]x[/bold]") == "\\[bold]x\\[/bold]"
    assert safe("a\x1b[31mb") == "a\\x1b[31mb"  # `[31m` is no markup tag: Rich prints it as it is
    assert safe("\u202e\u2066x\r\x00\x9b") == "\\u202e\\u2066x\\x0d\\x00\\x9b"
    assert safe("tab\tand\nnewline stay") == "tab\tand\nnewline stay"
    assert safe(3.5) == "3.5"


@pytest.fixture
def vg(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):  # type: ignore[no-untyped-def]
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("VENTUREGATE_ACTOR", "lee:lead")
    runner = CliRunner()

    def run(*args: str, code: int = 0) -> str:
        result = runner.invoke(app, ["--workflow", str(MINI), *args])
        assert result.exit_code == code, (args, result.output, result.exception)
        return result.output

    return run


def _clean(output: str) -> None:
    assert "\x1b" not in output and "\u202e" not in output and "\x07" not in output and "\r" not in output


def test_names_reasons_and_errors_print_literally(vg) -> None:  # type: ignore[no-untyped-def]
    created = vg("venture", "create", "acme", "--segment", "b2b_smb")
    assert "acme" in created
    out = vg("venture", "pause", "acme", "--reason", HOSTILE)
    _clean(out)
    events = vg("events", "acme")
    _clean(events)
    assert "[red]boom" in events  # the table may wrap the cell, but the markup is shown, not applied
    missing = vg("venture", "show", HOSTILE, code=1)
    _clean(missing)
    assert "[red]boom[/red]" in missing and "\\x1b" in missing


NAME = "[bold]mallory[/bold]\x1b[31m\u202e"
"""A hostile actor or token name (no `:`, which separates name and role in `--as`)."""


def test_every_command_group_prints_untrusted_text_literally(vg) -> None:  # type: ignore[no-untyped-def]
    """Configuration, approvals, errors, escalations, tokens: reasons, names and messages print inert."""
    vg("venture", "create", "acme", "--segment", "b2b_smb", "--stage", "2")
    shown = [
        vg("config", "set", "acme", "max_latency_ms", "400", "--reason", HOSTILE),
        vg("config", "history", "acme"),
        vg("config", "snapshot", "acme", "good", "--reason", HOSTILE),
        vg("config", "snapshots", "acme"),
        vg("approval", "request", "acme", "--role", "chairman", "--reason", HOSTILE),
        vg("--as", f"{NAME}:chairman", "approval", "approve", "1", "--reason", HOSTILE),
        vg("approval", "list"),
        vg("error", "report", "acme", "--message", HOSTILE),
        vg("errors", "--json"),
        vg("escalations"),
        vg("--as", "ada:chairman", "token", "create", "--name", NAME, "--role", "viewer", code=1),  # names are words
        vg("--as", "ada:chairman", "token", "list"),
    ]
    for out in shown:
        _clean(out)
    text = "".join(shown).replace("\n", "")
    assert "[red]boom" in text and "[bold]mallory" in text and "\\x1b" in text and "\\u202e" in text


def test_workflow_text_and_bad_files(vg, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    """A workflow file's text prints inert; an unreadable file is a one-line error, never a traceback."""
    hostile = tmp_path / "hostile.yaml"
    text = MINI.read_text(encoding="utf-8").replace("title: Idea", 'title: "[red]Idea[/red] \\e[2J \\u202e"', 1)
    hostile.write_text(text, encoding="utf-8")
    for args in (("workflow", "validate", str(hostile)), ("--workflow", str(hostile), "workflow", "show", "1")):
        out = vg(*args)
        _clean(out)
    assert "[red]Idea[/red]" in vg("--workflow", str(hostile), "workflow", "show", "1")
    (tmp_path / "binary.yaml").write_bytes(b"\x00\xff\xfe\x1b[2J")
    (tmp_path / "folder.yaml").mkdir()
    for bad in ("binary.yaml", "folder.yaml"):
        out = vg("workflow", "validate", str(tmp_path / bad), code=1)
        _clean(out)
        assert "Traceback" not in out and out.strip(), out
