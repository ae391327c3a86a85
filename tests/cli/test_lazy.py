"""The root builds only the command group the command line names, and simple reads import no more than they use."""

from __future__ import annotations

import importlib
import os
import subprocess
import sys
from pathlib import Path

import typer
from typer.testing import CliRunner

import venturegate
from venturegate.cli.app import LAZY, app, root

CLI = Path(venturegate.__file__).parent / "cli"


def test_the_table_names_what_each_module_registers() -> None:
    registered: dict[str, str] = {}
    modules = sorted(p.stem for p in CLI.glob("*.py") if "def register(" in p.read_text(encoding="utf-8"))
    for name in modules:
        holder = typer.Typer()
        importlib.import_module(f"venturegate.cli.{name}").register(holder)
        names = [c.name for c in holder.registered_commands] + [g.name for g in holder.registered_groups]
        registered |= {str(n): name for n in names}
    assert registered == LAZY


def test_a_command_builds_only_its_own_group() -> None:
    group = root()
    assert set(group.commands) == {"version"}
    result = CliRunner().invoke(app, ["version"])
    assert result.exit_code == 0 and result.output.strip() == venturegate.__version__
    assert group.get_command(None, "venture") is not None
    assert set(group.commands) == {"version", "venture"}
    assert group.list_commands(None) == ["version", "venture", *(n for n in LAZY if n != "venture")]


def test_root_help_lists_every_command() -> None:
    result = CliRunner().invoke(app, ["--help"], env={"COLUMNS": "200"})
    assert result.exit_code == 0
    assert all(f" {name} " in result.output for name in LAZY)


def test_simple_reads_import_no_crews_web_or_api(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("VENTUREGATE_")}
    env |= {
        "VENTUREGATE_CLI_SERVER": "0",
        "VENTUREGATE_CACHE_DIR": str(tmp_path / "cache"),
        "VENTUREGATE_ACTOR": "l:lead",
    }
    env["PYTHONPATH"] = str(Path(venturegate.__file__).parents[1])
    base = [sys.executable, "-X", "importtime", "-m", "venturegate.cli.client", "--db", str(tmp_path / "vg.db")]
    made = subprocess.run([*base, "venture", "create", "acme", "--segment", "b2b_smb"], env=env, capture_output=True)
    assert made.returncode == 0, made.stderr
    for args in (["venture", "list"], ["venture", "show", "acme"], ["gate", "check", "acme"]):
        proc = subprocess.run([*base, *args], env=env, capture_output=True, text=True, timeout=120)
        assert proc.returncode in (0, 3), proc.stderr
        imported = {line.rsplit("|", 1)[1].strip() for line in proc.stderr.splitlines() if "|" in line}
        heavy = {
            m
            for m in imported
            if m.split(".")[0] in ("fastapi", "starlette", "uvicorn", "jinja2", "huey", "numpy", "scipy", "aiohttp")
            or m.startswith(("venturegate.web", "venturegate.api", "venturegate.crews.stage", "rich.progress"))
            or m in {f"venturegate.cli.{module}" for module in set(LAZY.values()) - {"ventures", "data"}}
        }
        assert not heavy, (args, sorted(heavy))


def test_shell_completion_reaches_the_groups() -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("VENTUREGATE_")}
    env |= {"VENTUREGATE_CLI_SERVER": "0", "_VENTUREGATE_COMPLETE": "complete_bash", "COMP_CWORD": "2"}
    env["PYTHONPATH"] = str(Path(venturegate.__file__).parents[1])
    cmd = [sys.executable, "-m", "venturegate.cli.client"]
    words = {
        "venturegate ven": ("1", "venture"),
        "venturegate venture l": ("2", "list"),
        "venturegate cli-": ("1", "cli-server"),
    }
    for line, (cword, expected) in words.items():
        proc = subprocess.run(cmd, env=env | {"COMP_WORDS": line, "COMP_CWORD": cword}, capture_output=True, text=True)
        assert proc.returncode == 0, proc.stderr
        assert expected in proc.stdout.split(), (line, proc.stdout)
