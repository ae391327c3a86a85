"""Generate the CLI reference (docs/cli.md) from the command tree itself, so it cannot drift."""

from __future__ import annotations

from typing import Any

import typer.main

from venturegate.cli.app import app


# Typer vendors its own click; the objects are read by duck typing rather than through a private import.
def _walk(cmd: Any, path: list[str]) -> list[tuple[list[str], Any]]:
    out = [(path, cmd)]
    if hasattr(cmd, "commands"):
        for name in sorted(cmd.commands):
            out += _walk(cmd.commands[name], [*path, name])
    return out


def _param_line(param: Any) -> str:
    if param.param_type_name == "argument":
        return f"| `{param.human_readable_name}` | argument | {'required' if param.required else 'optional'} | |"
    names = ", ".join(f"`{n}`" for n in param.opts)
    default = "" if param.default in (None, False, ()) or param.is_flag and not param.default else f"`{param.default}`"
    help_text = (param.help or "").replace("|", "\\|")
    return f"| {names} | option | {default} | {help_text} |"


def render() -> str:
    """The Markdown reference of every command, option and argument."""
    root = typer.main.get_command(app)
    lines = [
        "# CLI reference",
        "",
        "Generated from the code by `make docs` (`python -m venturegate.cli.reference > docs/cli.md`);",
        "a test fails when this file is stale. Every command that prints takes `--json`; exit codes:",
        "0 done, 1 bad input (message on stderr), 3 gate not passed (explanation printed).",
        "",
    ]
    for path, cmd in _walk(root, ["venturegate"]):
        if cmd.hidden:
            continue
        title = " ".join(path)
        lines += [f"## `{title}`", "", (cmd.help or "").strip().split("\n\n")[0], ""]
        params = [p for p in cmd.params if p.name not in ("help", "install_completion", "show_completion")]
        if params:
            lines += ["| name | kind | default | help |", "|---|---|---|---|"]
            lines += [_param_line(p) for p in params]
            lines.append("")
    return "\n".join(lines).rstrip() + "\n"


if __name__ == "__main__":
    print(render(), end="")
