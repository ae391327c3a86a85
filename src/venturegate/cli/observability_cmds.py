"""The observability commands: Grafana dashboards per stage, and the Prometheus exposition text."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Annotated

import typer

from venturegate.cli.context import STATE, emit_json, handled, out
from venturegate.definitions.loader import load_workflow
from venturegate.engine import BadInput

grafana_app = typer.Typer(help="Grafana dashboards for the workflow's metrics.", no_args_is_help=True)


@grafana_app.command("export")
@handled
def grafana_export(
    stage: Annotated[
        int | None,
        typer.Option("--stage", help="Only this stage (default: every stage with metrics).", min=1, max=10_000),
    ] = None,
    out_dir: Annotated[Path, typer.Option("--out", help="Folder the dashboards are written to.")] = Path("grafana"),
    as_json: Annotated[
        bool, typer.Option("--json", help="Print JSON: a list of {stage, uid, title, panels, path}.")
    ] = False,
) -> None:
    """Write a Grafana dashboard per stage: a panel per metric, its levels as threshold lines."""
    from venturegate.observability.grafana import export

    wf = load_workflow(STATE.workflow).workflow
    try:
        written = export(wf, out_dir, stage)
    except LookupError as exc:
        raise BadInput(str(exc), where="--stage", hint="`venturegate workflow show` lists the stages") from None
    except OSError as exc:
        raise BadInput(f"cannot write the dashboards: {exc.strerror}", where=str(out_dir)) from None
    if as_json:
        emit_json([w.as_dict() for w in written])
        return
    for w in written:
        out.print(f"stage {w.stage}: {w.panels} panels → {w.path}", markup=False)
    out.print(f"{len(written)} dashboards written to {out_dir}", markup=False)


@handled
def metrics(
    output: Annotated[
        Path | None,
        typer.Option("--output", help="Write to this file atomically (node-exporter textfile collector), not stdout."),
    ] = None,
) -> None:
    """Print every Prometheus series, computed from the database (the text `/metrics` serves)."""
    from venturegate.observability import render

    text = render(STATE.engine())
    if output is None:
        typer.echo(text.decode("utf-8"), nl=False)
        return
    tmp = output.with_name(f".{output.name}.{os.getpid()}.tmp")
    try:
        tmp.write_bytes(text)
        tmp.replace(output)  # a collector reading the file never sees half of it
    except OSError as exc:
        tmp.unlink(missing_ok=True)
        raise BadInput(f"cannot write the metrics: {exc.strerror}", where=str(output)) from None


def register(app: typer.Typer) -> None:
    """Add this module's commands to the `venturegate` command tree."""
    app.add_typer(grafana_app, name="grafana")
    app.command("metrics")(metrics)
