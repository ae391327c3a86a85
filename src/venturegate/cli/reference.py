"""Generate the CLI reference (docs/cli.md) from the command tree itself, so it cannot drift."""

from __future__ import annotations

from dataclasses import fields
from typing import Any

import typer.main

from venturegate.cli.app import app
from venturegate.engine import records
from venturegate.engine.records import Fired


# Typer vendors its own click; the objects are read by duck typing rather than through a private import.
def _walk(cmd: Any, path: list[str]) -> list[tuple[list[str], Any]]:
    out = [(path, cmd)]
    if hasattr(cmd, "commands"):
        for name in sorted(cmd.commands):
            out += _walk(cmd.commands[name], [*path, name])
    return out


def _param_line(param: Any) -> str:
    if param.param_type_name == "argument":
        name = (param.metavar or param.name or "").upper()
        help_text = (param.help or "").replace("|", "\\|")
        return f"| `{name}` | argument | {'required' if param.required else 'optional'} | {help_text} |"
    names = ", ".join(f"`{n}`" for n in param.opts)
    default = "" if param.default in (None, False, (), "") else f"`{param.default}`"
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
    lines += _json_shapes()
    return "\n".join(lines).rstrip() + "\n"


JSON_SHAPES: dict[str, tuple[type | None, str]] = {
    "venture create / list / show / pause / resume / kill, advance": (
        records.Venture,
        "one object (a list for `list`); "
        "`show` adds `visits`, `substages`, `pending_approvals`; `advance` adds `from_stage`",
    ),
    "metric record": (records.SampleResult, '`{"sample": {...}, "fired": [...]}`'),
    "metric import": (None, '`{"file", "recorded", "duplicates", "fired": [...]}`'),
    "(each item of fired)": (Fired, "outcome: acted, proposed, notified, suppressed-cooldown, escalated or pending"),
    "artifact put / show": (records.Artifact, "`put` omits `content`"),
    "artifact lineage": (None, 'a list of `{"depth", "name", "version", "derived_from", "content_hash"}`'),
    "substage complete": (records.SubstageState, "one object"),
    "approval request / approve / reject / list": (records.Approval, "one object (a list for `list`)"),
    "events": (records.Event, "a list, oldest first"),
    "gate check": (
        None,
        '`{"venture", "stage", "gate", "passed", "checks": [{"name", "kind", '
        '"verdict" (pass, fail or unknown), "observed", "expected", "reason", "explanation"?}]}`',
    ),
}


def _json_shapes() -> list[str]:
    lines = [
        "## JSON output",
        "",
        "Keys are stable; new keys may be added, none are renamed or removed.",
        "",
        "| command | shape |",
        "|---|---|",
    ]
    for command, (record, note) in JSON_SHAPES.items():
        keys = ", ".join(f"`{f.name}`" for f in fields(record)) + "; " if record is not None else ""
        lines.append(f"| `{command}` | {keys}{note} |")
    lines.append("")
    return lines


if __name__ == "__main__":
    print(render(), end="")
