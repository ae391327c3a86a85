"""Commands about definitions: validate a workflow file, show a stage."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer
from rich.table import Table

from venturegate.cli.context import STATE, emit_json, handled, out
from venturegate.cli.escape import safe
from venturegate.cli.render import fmt
from venturegate.core.settings import metric_levels
from venturegate.definitions.loader import load_workflow
from venturegate.definitions.model import (
    ApprovalCheck,
    ArtifactCheck,
    AttestCheck,
    ConditionCheck,
    CustomerCheck,
    GateCheck,
    Stage,
)
from venturegate.engine import NotFound

workflow_app = typer.Typer(help="Validate and show workflow definitions.", no_args_is_help=True)
JSON = Annotated[bool, typer.Option("--json", help="Print JSON.")]


@workflow_app.command("validate")
@handled
def validate(
    path: Annotated[Path | None, typer.Argument(help="Workflow YAML file (default: the bundled lifecycle).")] = None,
    as_json: JSON = False,
) -> None:
    """Check a workflow; prints every problem as file:line:column and exits 1 when there are any."""
    loaded = load_workflow(path)
    wf = loaded.workflow
    summary = {
        "valid": True,
        "workflow": wf.workflow.id,
        "version": wf.workflow.version,
        "digest": loaded.digest,
        "stages": len(wf.stages),
        "substages": sum(len(s.substages) for s in wf.stages),
        "metrics": sum(len(s.metrics) for s in wf.stages),
        "triggers": sum(len(s.triggers) for s in wf.stages),
    }
    if as_json:
        emit_json(summary)
    else:
        out.print(
            f"valid: {safe(wf.workflow.id)} {safe(wf.workflow.version)} — {summary['stages']} stages, "
            f"{summary['substages']} substages, {summary['metrics']} metrics, {summary['triggers']} triggers "
            f"(digest {loaded.digest[:12]})"
        )


def check_text(chk: GateCheck) -> str:
    """One line describing a gate check."""
    if isinstance(chk, ConditionCheck):
        return f"{chk.name + ': ' if chk.name else ''}{chk.check}"
    if isinstance(chk, ArtifactCheck):
        return f"artifact {chk.artifact} present and valid"
    if isinstance(chk, ApprovalCheck):
        return f"approval by {chk.approval}"
    if isinstance(chk, AttestCheck):
        return f'attested: "{chk.attest}"'
    if isinstance(chk, CustomerCheck):
        return f"customer feedback: ≥{chk.customer.min_count} samples of {chk.customer.metric}"
    return "all substages done"


def _stage_text(st: Stage) -> None:
    out.print(f"[bold]Stage {st.id} — {safe(st.title)}[/bold]" + (f"  (owner {safe(st.owner)})" if st.owner else ""))
    if st.description:
        out.print(safe(st.description))
    if st.depends_on:
        out.print("depends on: " + ", ".join(map(str, st.depends_on)))
    for sub in st.substages:
        out.print(f"  {safe(sub.id)} {safe(sub.title)}" + (f" {safe(f'[{sub.agent}]')}" if sub.agent else ""))
        for item in sub.done_when:
            out.print(f"      · {safe(item)}")
    for gate, checks in (("entry", st.gates.entry), ("exit", st.gates.exit)):
        if checks:
            out.print(f"[bold]{gate} gate[/bold]")
            for chk in checks:
                out.print(f"  - {check_text(chk)}", markup=False)
    if st.metrics:
        with_segments = any(m.segments for m in st.metrics.values())
        table = Table(title="metrics (↑ higher is better, ↓ lower is better)", title_justify="left")
        table.add_column("metric", no_wrap=True)
        for col in ("unit", "", "target", "threshold", "alert", "cadence", *(["segments"] if with_segments else [])):
            table.add_column(col, overflow="fold")
        arrows = {"higher_is_better": "↑", "lower_is_better": "↓", "informational": "·"}
        for name, m in st.metrics.items():
            lv = metric_levels(name, m, None)  # the one resolution; segments through it too
            segs = "; ".join(f"{k}: {_n(metric_levels(name, m, k).threshold)}" for k in m.segments)
            cells = [name, m.unit, arrows[m.direction], _n(lv.target), _n(lv.threshold), _n(lv.alert), m.frequency]
            table.add_row(*map(safe, cells), *([safe(segs)] if with_segments else []))
        out.print(table)
    if st.triggers:
        table = Table(title="triggers", title_justify="left")
        for col in ("id", "kind", "when", "for", "action", "mode", "max"):
            table.add_column(col, overflow="fold")
        for t in st.triggers:
            act = t.action
            what = (
                f"go to {act.go_to}"
                if act.go_to is not None
                else f"roll back {act.rollback_to or ''} {act.scope or ''}"
                if t.kind == "rollback"
                else "advance"
                if act.advance
                else f"alert {act.severity}"
            )
            table.add_row(*map(safe, (t.id, t.kind, t.when, t.for_, what, t.mode, t.max or "—")))
        out.print(table)
    if st.config:
        table = Table(title="configuration", title_justify="left")
        for col in ("parameter", "type", "default", "range", "unit"):
            table.add_column(col, overflow="fold")
        for key, p in st.config.items():
            rng = f"{_n(p.min)}–{_n(p.max)}" if p.min is not None or p.max is not None else ", ".join(p.allowed or [])
            table.add_row(*map(safe, (key, p.type, p.default, rng, p.unit)))
        out.print(table)
    if st.crew:
        out.print(
            safe(
                f"crew: {st.crew.name} — "
                + ", ".join(f"{a.name} ({', '.join(a.substages) or 'all'})" for a in st.crew.agents)
            )
        )


def _n(value: float | None) -> str:
    return "—" if value is None else fmt(value)


@workflow_app.command("show")
@handled
def show(
    stage: Annotated[
        int | None, typer.Argument(help="Stage number (default: an overview of all stages).", min=1, max=10_000)
    ] = None,
    path: Annotated[Path | None, typer.Option("--file", help="Workflow file (default: the bundled lifecycle).")] = None,
    as_json: JSON = False,
) -> None:
    """Show a stage readably: gates, metrics with levels, triggers, parameters (or all stages in brief)."""
    wf = load_workflow(path or STATE.workflow).workflow
    if stage is None:
        if as_json:
            emit_json(
                {
                    "workflow": wf.workflow.model_dump(),
                    "stages": [
                        {
                            "id": s.id,
                            "title": s.title,
                            "substages": len(s.substages),
                            "metrics": len(s.metrics),
                            "triggers": len(s.triggers),
                        }
                        for s in wf.stages
                    ],
                }
            )
            return
        table = Table(title=safe(f"{wf.workflow.title or wf.workflow.id} {wf.workflow.version}"))
        for col in ("stage", "title", "substages", "metrics", "triggers", "params"):
            table.add_column(col)
        for s in wf.stages:
            table.add_row(
                str(s.id),
                safe(s.title),
                str(len(s.substages)),
                str(len(s.metrics)),
                str(len(s.triggers)),
                str(len(s.config)),
            )
        out.print(table)
        return
    st = wf.stage(stage)
    if st is None:
        raise NotFound(f"no stage {stage}", where="STAGE", hint=f"stages 1–{len(wf.stages)}")
    if as_json:
        data: dict[str, Any] = st.model_dump(mode="json", by_alias=True)
        emit_json(data)
    else:
        _stage_text(st)


@handled
def critique(
    stage: Annotated[int | None, typer.Option("--stage", help="Only this stage.", min=1, max=10_000)] = None,
    path: Annotated[Path | None, typer.Option("--file", help="Workflow file (default: the bundled lifecycle).")] = None,
    as_json: JSON = False,
) -> None:
    """Score stages on the studio's nine rubric dimensions, computed from their definitions, with reasons."""
    from venturegate.core.critique import DIMENSIONS, critique_stage, critique_workflow

    wf = load_workflow(path or STATE.workflow).workflow
    if stage is not None:
        st = wf.stage(stage)
        if st is None:
            raise NotFound(f"no stage {stage}", where="--stage")
        results = [critique_stage(st, wf)]
    else:
        results = critique_workflow(wf)
    if as_json:
        emit_json([c.as_dict() for c in results])
        return
    table = Table(title="Critique (0–5; Overall is the mean)", caption=", ".join(f"{d[:3]}={d}" for d in DIMENSIONS))
    table.add_column("stage", no_wrap=True)
    for dim in DIMENSIONS:
        table.add_column(dim[:3], justify="right")
    table.add_column("Overall", justify="right")
    for c in results:
        table.add_row(safe(f"{c.stage:>2} {c.title[:22]}"), *(str(s.score) for s in c.scores), f"{c.overall:.1f}")
    out.print(table)
    if len(results) == 1:
        for s in results[0].scores:
            out.print(f"[bold]{s.dimension}: {s.score}[/bold]")
            for reason in s.reasons:
                out.print(f"   {reason}", markup=False)


def register(app: typer.Typer) -> None:
    """Add this module's commands to the `venturegate` command tree."""
    app.add_typer(workflow_app, name="workflow")
    app.command("critique")(critique)
