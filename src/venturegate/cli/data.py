"""Commands that feed data in: metric samples and artifacts."""

from __future__ import annotations

import csv
import json
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn
from rich.tree import Tree

from venturegate.cli.context import STATE, emit_json, handled, out
from venturegate.engine import BadInput, SampleIn

metric_app = typer.Typer(help="Record metric samples.", no_args_is_help=True)
artifact_app = typer.Typer(help="Store and read artifacts.", no_args_is_help=True)

JSON = Annotated[bool, typer.Option("--json", help="Print JSON.")]
VENTURE = Annotated[str, typer.Argument(help="Venture id or name.")]
BATCH = 1000


def parse_time(text: str, where: str) -> datetime:
    """ISO 8601; a time without a zone is taken as UTC."""
    try:
        value = datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
    except ValueError:
        raise BadInput(f"'{text}' is not an ISO 8601 time", where=where, hint="e.g. 2026-11-23T09:30:00Z") from None
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def parse_value(text: str, where: str) -> float:
    """A sample value."""
    try:
        return float(text)
    except ValueError:
        raise BadInput(f"'{text}' is not a number", where=where) from None


@metric_app.command("record")
@handled
def record(
    venture: VENTURE,
    metric: Annotated[str, typer.Argument(help="Metric name.")],
    value: Annotated[str, typer.Argument(help="The measured value in the metric's unit.")],
    at: Annotated[str | None, typer.Option("--at", help="When it was measured (ISO 8601; default now).")] = None,
    key: Annotated[str | None, typer.Option("--key", help="Idempotency key: a retry with it records nothing.")] = None,
    as_json: JSON = False,
) -> None:
    """Record one metric sample."""
    when = parse_time(at, "--at") if at else None
    got = STATE.engine().record_sample(
        venture, metric, parse_value(value, "VALUE"), actor=STATE.who(), at=when, key=key
    )
    res = got.samples[0]
    if as_json:
        emit_json({"sample": res.as_dict(), "fired": [f.as_dict() for f in got.fired]})
        return
    out.print(f"{'duplicate (already recorded)' if res.duplicate else 'recorded'} {metric}={res.value:g} at {res.at}")
    fired_lines(got.fired)


def fired_lines(fired: list[Any]) -> None:
    """One line per trigger that fired or went pending."""
    for f in fired:
        colour = {"acted": "red", "escalated": "red", "proposed": "yellow", "pending": "cyan"}.get(f.outcome, "white")
        detail = f" — {f.detail}" if f.detail else ""
        out.print(f"  [{colour}]{f.trigger}[/{colour}] {f.kind} ({f.mode}): {f.outcome}{detail}")


def _rows(path: Path) -> Iterator[tuple[int, dict[str, Any]]]:
    with path.open(encoding="utf-8", newline="") as fh:
        if path.suffix.lower() in (".jsonl", ".ndjson", ".json"):
            for n, line in enumerate(fh, 1):
                if line.strip():
                    try:
                        item = json.loads(line)
                    except json.JSONDecodeError as exc:
                        raise BadInput(f"invalid JSON: {exc.msg}", where=f"{path}:{n}:{exc.colno}") from None
                    if not isinstance(item, dict):
                        raise BadInput("each line must be a JSON object", where=f"{path}:{n}")
                    yield n, item
        else:
            for n, item in enumerate(csv.DictReader(fh), 2):
                yield n, item


def _sample(path: Path, n: int, item: dict[str, Any], default_venture: str | None) -> SampleIn:
    where = f"{path}:{n}"
    venture = item.get("venture") or default_venture
    if not venture:
        raise BadInput("no venture column and no --venture given", where=where)
    if not item.get("metric"):
        raise BadInput("missing metric", where=where)
    if item.get("value") in (None, ""):
        raise BadInput("missing value", where=where)
    at = item.get("at")
    key = item.get("key") or None
    return SampleIn(
        str(venture),
        str(item["metric"]),
        parse_value(str(item["value"]), f"{where} value"),
        parse_time(str(at), f"{where} at") if at else None,
        str(key) if key else None,
    )


@metric_app.command("import")
@handled
def import_(
    file: Annotated[Path, typer.Argument(help="CSV (header: venture,metric,value,at,key) or JSON Lines.", exists=True)],
    venture: Annotated[str | None, typer.Option("--venture", help="Venture for rows without one.")] = None,
    as_json: JSON = False,
) -> None:
    """Import samples in batches of 1000; a bad row stops the import and names its line."""
    eng, actor = STATE.engine(), STATE.who()
    samples = [_sample(file, n, item, venture) for n, item in _rows(file)]
    recorded = duplicates = 0
    fired: list[Any] = []
    with Progress(
        TextColumn("importing"), BarColumn(), MofNCompleteColumn(), TimeRemainingColumn(), disable=as_json, console=out
    ) as bar:
        task = bar.add_task("samples", total=len(samples))
        for i in range(0, len(samples), BATCH):
            got = eng.record_samples(samples[i : i + BATCH], actor=actor)
            results = got.samples
            fired += got.fired
            duplicates += sum(r.duplicate for r in results)
            recorded += sum(not r.duplicate for r in results)
            bar.advance(task, len(results))
    if as_json:
        emit_json(
            {"file": str(file), "recorded": recorded, "duplicates": duplicates, "fired": [f.as_dict() for f in fired]}
        )
    else:
        out.print(f"imported {recorded} samples ({duplicates} duplicates skipped)")
        fired_lines(fired)


@artifact_app.command("put")
@handled
def put(
    venture: VENTURE,
    name: Annotated[str, typer.Argument(help="Artifact name as declared in the workflow.")],
    file: Annotated[Path, typer.Argument(help="JSON (or .yaml/.yml) file with the content ('-' for stdin).")],
    derived_from: Annotated[
        list[str] | None, typer.Option("--derived-from", help="NAME@VERSION it was made from (repeat).")
    ] = None,
    as_json: JSON = False,
) -> None:
    """Validate an artifact against its JSON Schema and store it as a new version."""
    try:
        text = typer.get_text_stream("stdin").read() if str(file) == "-" else file.read_text(encoding="utf-8")
    except OSError as exc:
        raise BadInput(f"cannot read: {exc.strerror}", where=str(file)) from None
    if file.suffix in (".yaml", ".yml"):  # e.g. a filled-in `artifact template`
        content = _yaml(text, file)
    else:
        try:
            content = json.loads(text)
        except json.JSONDecodeError as exc:
            raise BadInput(f"invalid JSON: {exc.msg}", where=f"{file}:{exc.lineno}:{exc.colno}") from None
    art = STATE.engine().put_artifact(venture, name, content, actor=STATE.who(), derived_from=derived_from)
    if as_json:
        emit_json({k: v for k, v in art.as_dict().items() if k != "content"})
    else:
        out.print(f"stored {art.name}@{art.version} (sha256 {art.content_hash[:12]})")


def _yaml(text: str, file: Path) -> Any:
    import yaml

    try:
        return yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"{file}:{mark.line + 1}:{mark.column + 1}" if mark is not None else str(file)
        raise BadInput(f"invalid YAML: {getattr(exc, 'problem', exc)}", where=where) from None


@artifact_app.command("template")
@handled
def template(
    name: Annotated[str, typer.Argument(help="Artifact name as declared in the workflow.")],
    as_json: Annotated[bool, typer.Option("--json", help="Print the skeleton as JSON (without comments).")] = False,
) -> None:
    """Print a schema-valid skeleton of an artifact, as YAML with comments (fill it in, then `artifact put`)."""
    from venturegate.definitions.loader import load_workflow
    from venturegate.definitions.skeleton import skeleton

    wf = load_workflow(STATE.workflow).workflow
    found = {n: (st.id, a) for st in wf.stages for n, a in (st.artifacts or {}).items()}
    if name not in found:
        raise BadInput(f"no artifact named '{name}' in the workflow", where="NAME",
                       hint="`venturegate workflow show STAGE` lists a stage's artifacts")  # fmt: skip
    stage, art = found[name]
    value, text = skeleton(art.json_schema or {})
    if as_json:
        emit_json(value)
        return
    head = f"# {name} (stage {stage}): {' '.join((art.description or art.title or '').split())}\n"
    typer.echo(head + f"# Fill in, then: venturegate artifact put VENTURE {name} {name}.yaml\n" + text, nl=False)


@artifact_app.command("show")
@handled
def show(
    venture: VENTURE,
    name: Annotated[str, typer.Argument(help="Artifact name.")],
    version: Annotated[int | None, typer.Option("--version", help="Version (default newest).")] = None,
    as_json: JSON = False,
) -> None:
    """Show one version of an artifact with its content."""
    art = STATE.engine().artifact(venture, name, version)
    if as_json:
        emit_json(art.as_dict())
    else:
        out.print(f"{art.name}@{art.version} stage {art.stage} by {art.actor} at {art.created_at}")
        if art.derived_from:
            out.print("derived from: " + ", ".join(art.derived_from))
        out.print_json(json.dumps(art.content))


@artifact_app.command("lineage")
@handled
def lineage(
    venture: VENTURE,
    name: Annotated[str, typer.Argument(help="Artifact name.")],
    version: Annotated[int | None, typer.Option("--version", help="Version (default newest).")] = None,
    as_json: JSON = False,
) -> None:
    """Show what an artifact was derived from, transitively."""
    chain = STATE.engine().lineage(venture, name, version)
    if as_json:
        emit_json(
            [
                {
                    "depth": d,
                    "name": a.name,
                    "version": a.version,
                    "derived_from": a.derived_from,
                    "content_hash": a.content_hash,
                }
                for d, a in chain
            ]
        )
        return
    root = Tree(f"{chain[0][1].name}@{chain[0][1].version}")
    nodes = {0: root}
    for depth, art in chain[1:]:
        nodes[depth] = nodes[depth - 1].add(f"{art.name}@{art.version}")
    out.print(root)
