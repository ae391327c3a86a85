"""Rich renderings of engine results for people (the `--json` forms are the records' `as_dict`)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from rich.table import Table
from rich.tree import Tree

from venturegate.cli.context import out
from venturegate.cli.escape import safe
from venturegate.core.breakdown import Breakdown, breakdowns
from venturegate.core.gates import GateResult
from venturegate.engine import Engine
from venturegate.engine.records import Event, Venture

VERDICT_STYLE = {"pass": "[green]pass[/green]", "fail": "[red]fail[/red]", "unknown": "[yellow]unknown[/yellow]"}
STATUS_STYLE = {"active": "green", "blocked": "yellow", "paused": "magenta", "killed": "red", "completed": "cyan"}


UNIT_SUFFIX = {"percent": "%", "count": "", "number": "", "score": "", "per_second": "/s", "ratio": ""}
"""How a value's unit is written after it (anything else: a space and the unit's name)."""


def fmt(value: Any) -> str:
    """A short human form of an observed or expected value (`92.3`, `2,904,430`; never `2.90443e+06`)."""
    if value is None:
        return "—"
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, float):
        if value.is_integer() and abs(value) < 1e15:
            return f"{int(value):,}"
        return f"{value:,.4g}" if abs(value) < 1e6 else f"{value:,.0f}"
    if isinstance(value, dict):
        return ", ".join(f"{safe(k)} {fmt(v)}" for k, v in value.items())
    return safe(value)


def exact(value: float) -> str:
    """A recorded value as it was given: no rounding to six digits, no exponent below 10^15 (`2904430.5`)."""
    return f"{value:.15g}"


def ventures_table(rows: Sequence[Venture], title: str = "Ventures") -> None:
    """A table of ventures (fits 80 columns: long names fold, times to the second)."""
    table = Table(title=title, title_justify="left")
    table.add_column("name", overflow="fold", min_width=min(30, max((len(v.name) for v in rows), default=4)))
    table.add_column("id", justify="right", no_wrap=True)
    for col in ("segment", "stage", "status"):
        table.add_column(col, no_wrap=True)
    table.add_column("updated (UTC)", no_wrap=True)
    for v in rows:
        style = STATUS_STYLE.get(v.status, "")
        table.add_row(
            safe(v.name),
            str(v.id),
            safe(v.segment),
            str(v.stage),
            f"[{style}]{v.status}[/{style}]",
            v.updated_at.strftime("%Y-%m-%d %H:%M:%S"),
        )
    out.print(table)


def metric_levels(engine: Engine, venture: Venture) -> list[dict[str, Any]]:
    """Each metric of the venture's current stage: its latest sample against its levels (the one resolution)."""
    return [m.as_dict() for m in engine.levels(venture.id)]


def levels_table(rows: list[dict[str, Any]]) -> None:
    """The current stage's metrics: latest value against the threshold and target."""
    if not rows:
        return
    table = Table(title="Metrics of the current stage", title_justify="left")
    table.add_column("metric", overflow="fold", min_width=min(32, max(len(r["metric"]) for r in rows)))
    for col in ("latest", "threshold", "target"):
        table.add_column(col, justify="right", no_wrap=True)
    table.add_column("verdict", overflow="fold", ratio=2)
    styles = {"meets threshold": "green", "past threshold": "red"}
    for r in rows:
        style = styles.get(r["verdict"], "yellow")
        unit = UNIT_SUFFIX.get(r["unit"], f" {r['unit']}") if r["latest"] is not None else ""
        table.add_row(
            r["metric"],
            fmt(r["latest"]) + unit,
            fmt(r["threshold"]) + (" (venture)" if r["source"] == "venture" else ""),
            fmt(r["target"]),
            f"[{style}]{r['verdict']}[/{style}]",
        )
    out.print(table)


def gate_result(result: GateResult, venture: Venture | None) -> None:
    """A gate's checks with observed value, expected level, verdict and reason."""
    head = f"{safe(venture.name)}: " if venture else ""
    verdict = "[green]PASSED[/green]" if result.passed else "[red]NOT PASSED[/red]"
    table = Table(title=f"{head}stage {result.stage} {result.gate} gate — {verdict}", title_justify="left")
    for col in ("check", "kind", "observed", "expected", "verdict", "reason"):
        table.add_column(col, overflow="fold")
    for c in result.checks:
        table.add_row(
            safe(c.name), safe(c.kind), fmt(c.observed), fmt(c.expected), VERDICT_STYLE[c.verdict], safe(c.reason)
        )
    out.print(table)
    for c in result.checks:
        for b in breakdowns(c.evidence):
            _breakdown(c.name, b)
    for c in result.checks:
        expl = c.explanation
        if expl is not None and expl.children and c.verdict != "pass":
            tree = Tree(f"{safe(c.name)}: {VERDICT_STYLE[c.verdict]}")
            _grow(tree, expl)
            out.print(tree)


def _breakdown(check: str, b: Breakdown) -> None:
    """A metric's recorded breakdown under the gate table: each component's measured value, weight, contribution."""
    title = f"{safe(check)}: {safe(b.metric)} {fmt(b.value)} — breakdown from {safe(b.source)}"
    if not b.components:
        out.print(f"{title}: {safe(b.note)}", highlight=False)
        return
    table = Table(title=title, title_justify="left")
    for col in ("component", "measured", "weight", "contribution"):
        table.add_column(col, overflow="fold", justify="left" if col == "component" else "right")
    for p in b.components:
        table.add_row(safe(p.name), fmt(p.measured), fmt(p.weight), fmt(p.contribution))
    out.print(table)


def _grow(tree: Tree, expl: Any) -> None:
    for child in expl.children:
        value = fmt(child.value)
        note = f" — {safe(child.reason)}" if child.reason else ""
        branch = tree.add(f"{safe(child.text)} = {value}{note}", highlight=False)
        _grow(branch, child)


def events_table(rows: Sequence[Event]) -> None:
    """The event log."""
    table = Table(title="Events")
    for col in ("id", "at", "kind", "stage", "actor", "reason"):
        table.add_column(col, overflow="fold")
    for e in rows:
        stage = f"{e.stage}" + (f" / {e.substage}" if e.substage else "") if e.stage is not None else ""
        table.add_row(
            str(e.id),
            e.at.strftime("%Y-%m-%d %H:%M:%S"),
            safe(e.kind),
            safe(stage),
            safe(f"{e.actor} ({e.actor_role or e.actor_kind})"),
            safe(e.reason),
        )
    out.print(table)
