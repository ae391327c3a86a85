"""Commands that feed data in: metric samples and artifacts."""

from __future__ import annotations

import csv
import json
import re
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.table import Table

from venturegate.cli.context import STATE, emit_json, handled, out
from venturegate.cli.escape import safe
from venturegate.cli.render import exact
from venturegate.engine import ArtifactInvalid, BadInput, Conflict, SampleIn

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
        raise BadInput(
            f"'{text}' is not a number", where=where, hint="e.g. 92.5 or -3 (in the metric's unit)"
        ) from None


@metric_app.command("record", context_settings={"ignore_unknown_options": True})
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
        venture, metric, parse_value(value, "VALUE"), actor=STATE.who("write_samples"), at=when, key=key
    )
    res = got.samples[0]
    stored_at = res.at
    if res.duplicate and key is not None:
        stored = STATE.engine().stored_samples(venture, key=key, limit=1)
        if stored and (stored[0].metric != metric or stored[0].value != res.value):
            s = stored[0]
            raise BadInput(
                f"key '{key}' was already used for {s.metric}={exact(s.value)} at {s.at:%Y-%m-%d %H:%M:%S}; "
                f"nothing was recorded for {metric}={exact(res.value)}",
                where="--key",
                hint="a new measurement needs a new key; a retry must send the same value",
            )
        stored_at = stored[0].at if stored else res.at
    if as_json:
        emit_json({"sample": res.as_dict(), "fired": [f.as_dict() for f in got.fired]})
        return
    verb = "already recorded (same key and value)" if res.duplicate else "recorded"
    out.print(f"{verb} {safe(metric)}={exact(res.value)} at {stored_at:%Y-%m-%d %H:%M:%S}")
    fired_lines(got.fired)


@metric_app.command("list")
@handled
def list_(
    venture: VENTURE,
    metric: Annotated[str | None, typer.Argument(help="Only this metric.")] = None,
    since: Annotated[
        str | None, typer.Option("--since", help="Only samples measured after this time (ISO 8601).")
    ] = None,
    limit: Annotated[int, typer.Option("--limit", help="At most this many, newest first.", min=1, max=100_000)] = 50,
    as_json: JSON = False,
) -> None:
    """List a venture's samples, newest first: value, when, key and who recorded it."""
    when = parse_time(since, "--since") if since else None
    rows = STATE.engine().stored_samples(venture, metric, since=when, limit=limit)
    if as_json:
        emit_json([r.as_dict() for r in rows])
        return
    table = Table(title=f"Samples of {venture}" + (f" · {metric}" if metric else ""), title_justify="left")
    table.add_column("metric", overflow="fold", min_width=min(30, max((len(r.metric) for r in rows), default=6)))
    for col in ("value", "measured (UTC)", "key", "by"):
        table.add_column(col, overflow="fold")
    for r in rows:
        table.add_row(r.metric, f"{r.value:,.6g}", f"{r.at:%Y-%m-%d %H:%M:%S}", r.key or "", r.actor)
    out.print(table)
    if not rows:
        out.print(
            "no samples" + (f" of {metric}" if metric else "") + (f" after {when:%Y-%m-%d %H:%M:%S}" if when else "")
        )


def fired_lines(fired: list[Any]) -> None:
    """One line per trigger that fired or went pending."""
    for f in fired:
        colour = {"acted": "red", "escalated": "red", "proposed": "yellow", "pending": "cyan"}.get(f.outcome, "white")
        detail = f" — {safe(f.detail)}" if f.detail else ""
        out.print(f"  [{colour}]{safe(f.trigger)}[/{colour}] {f.kind} ({f.mode}): {f.outcome}{detail}")


def _rows(path: Path) -> Iterator[tuple[int, dict[str, Any]]]:
    """Each record of the file with its line number; unreadable bytes or CSV are a BadInput naming the line."""
    try:
        yield from _read_rows(path)
    except UnicodeDecodeError:
        raise BadInput(
            "not UTF-8 text", where=f"{path}:{_bad_utf8_line(path)}", hint="save the file as UTF-8 and import it again"
        ) from None
    except OSError as exc:
        raise BadInput(f"cannot read: {exc.strerror}", where=str(path)) from None


def _bad_utf8_line(path: Path) -> int:
    """The line of the file's first byte that is not UTF-8 (read again: only on that error)."""
    data = path.read_bytes()
    try:
        data.decode("utf-8")
    except UnicodeDecodeError as exc:
        return data.count(b"\n", 0, exc.start) + 1
    return 1


def _read_rows(path: Path) -> Iterator[tuple[int, dict[str, Any]]]:
    with path.open(encoding="utf-8", newline="") as fh:
        if path.suffix.lower() in (".jsonl", ".ndjson", ".json"):
            for n, line in enumerate(fh, 1):
                if line.strip():
                    try:
                        item = json.loads(line)
                    except json.JSONDecodeError as exc:
                        raise BadInput(
                            f"invalid JSON: {exc.msg}", where=f"{path}:{n}:{exc.colno}", hint="one JSON object per line"
                        ) from None
                    if not isinstance(item, dict):
                        raise BadInput("each line must be a JSON object", where=f"{path}:{n}")
                    yield n, item
        else:
            reader = csv.DictReader(fh)
            try:
                for item in reader:
                    if None in item:  # more cells than the header names
                        raise BadInput(
                            f"{len(item[None]) + len(reader.fieldnames or [])} cells, the header names "
                            f"{len(reader.fieldnames or [])}",
                            where=f"{path}:{reader.line_num}",
                            hint="quote a value that holds a comma",
                        )
                    yield reader.line_num, item
            except csv.Error as exc:
                raise BadInput(
                    f"not valid CSV: {exc}", where=f"{path}:{reader.line_num}", hint="check the quotes on that line"
                ) from None


def _sample(path: Path, n: int, item: dict[str, Any], default_venture: str | None) -> SampleIn:
    where = f"{path}:{n}"
    venture = item.get("venture") or default_venture
    if not venture:
        raise BadInput(
            "no venture column and no --venture given", where=where, hint="add a venture column or pass --venture NAME"
        )
    if not item.get("metric"):
        raise BadInput("missing metric", where=where)
    if item.get("value") in (None, ""):
        raise BadInput("missing value", where=where)
    raw = item["value"]
    if not isinstance(raw, str | int | float) or isinstance(raw, bool):
        kind = "true/false" if isinstance(raw, bool) else type(raw).__name__
        raise BadInput(f"value {json.dumps(raw)[:40]} is a JSON {kind}, not a number", where=f"{where} value")
    at = item.get("at")
    key = item.get("key") or None
    return SampleIn(
        str(venture),
        str(item["metric"]),
        parse_value(str(raw), f"{where} value"),
        parse_time(str(at), f"{where} at") if at else None,
        str(key) if key else None,
    )


def _located(exc: BadInput | Conflict, path: Path, lines: list[int]) -> BadInput | Conflict:
    """The engine's `sample N.field` as the file line that held sample N; nothing of the file was stored."""
    found = re.match(r"^sample(?: (\d+))?\.(.*)$", exc.where)
    if found is None:
        return exc
    index = int(found.group(1) or 0)
    line = lines[index] if index < len(lines) else "?"
    field = found.group(2).strip(".") or "row"
    message, where = f"{exc.message}; nothing from this file was stored", f"{path}:{line} {field}"
    if isinstance(exc, Conflict):
        return Conflict(message, exc.hint, where=where)
    return type(exc)(message, where=where, hint=exc.hint)


@metric_app.command("import")
@handled
def import_(
    file: Annotated[Path, typer.Argument(help="CSV (header: venture,metric,value,at,key) or JSON Lines.", exists=True)],
    venture: Annotated[str | None, typer.Option("--venture", help="Venture for rows without one.")] = None,
    as_json: JSON = False,
) -> None:
    """Import a file's samples in one transaction: all of them, or (a bad row names its file line) none."""
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

    eng, actor = STATE.engine(), STATE.who("write_samples")
    with Progress(
        TextColumn("reading"), BarColumn(), MofNCompleteColumn(), TimeRemainingColumn(), disable=as_json, console=out
    ) as bar:
        task = bar.add_task("samples", total=None)
        samples, lines = [], []
        for n, item in _rows(file):
            samples.append(_sample(file, n, item, venture))
            lines.append(n)
            if len(samples) % BATCH == 0:
                bar.advance(task, BATCH)
    try:
        got = eng.record_samples(samples, actor=actor)
    except (BadInput, Conflict) as exc:
        raise _located(exc, file, lines) from None
    results, fired = got.samples, list(got.fired)
    duplicates = sum(r.duplicate for r in results)
    recorded = len(results) - duplicates
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
        raise BadInput(f"cannot read: {exc.strerror}", where=str(file), hint="check the path") from None
    if file.suffix in (".yaml", ".yml"):  # e.g. a filled-in `artifact template`
        content = _yaml(text, file)
    else:
        try:
            content = json.loads(text)
        except json.JSONDecodeError as exc:
            raise BadInput(
                f"invalid JSON: {exc.msg}",
                where=f"{file}:{exc.lineno}:{exc.colno}",
                hint="the file must hold one JSON value",
            ) from None
    try:
        art = STATE.engine().put_artifact(
            venture, name, content, actor=STATE.who("write_artifacts"), derived_from=derived_from
        )
    except ArtifactInvalid as exc:
        raise _schema_lines(exc, text, file) from None
    if as_json:
        emit_json({k: v for k, v in art.as_dict().items() if k != "content"})
    else:
        out.print(f"stored {safe(art.name)}@{art.version} (sha256 {art.content_hash[:12]})")


def _schema_lines(exc: ArtifactInvalid, text: str, file: Path) -> BadInput:
    """The schema's complaints, each at the line of the file that holds the value (JSON is read as YAML for marks)."""
    import yaml

    try:
        root = yaml.compose(text, Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))
    except yaml.YAMLError:
        root = None
    located = [(_line_of(root, pointer), pointer or "/", why) for pointer, why in exc.errors]
    first = located[0][0] if located else None
    parts = "; ".join(f"line {line}: {ptr}: {why}" if line else f"{ptr}: {why}" for line, ptr, why in located)
    return BadInput(
        f"does not match the schema of '{exc.where}': {parts}",
        where=f"{file}:{first}" if first else str(file),
        hint=exc.hint,
    )


def _line_of(node: Any, pointer: str) -> int | None:
    """The 1-based line of the value at a JSON pointer in a composed YAML/JSON document (its parent if missing)."""
    import yaml

    if node is None:
        return None
    for raw in pointer.split("/")[1:]:
        part = raw.replace("~1", "/").replace("~0", "~")
        child = None
        if isinstance(node, yaml.MappingNode):
            child = next((v for k, v in node.value if getattr(k, "value", None) == part), None)
        elif isinstance(node, yaml.SequenceNode) and part.isdigit() and int(part) < len(node.value):
            child = node.value[int(part)]
        if child is None:
            break
        node = child
    return int(node.start_mark.line) + 1


def _yaml(text: str, file: Path) -> Any:
    import yaml

    try:
        return yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"{file}:{mark.line + 1}:{mark.column + 1}" if mark is not None else str(file)
        raise BadInput(
            f"invalid YAML: {getattr(exc, 'problem', exc)}", where=where, hint="fix the YAML at that line"
        ) from None


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
    version: Annotated[
        int | None, typer.Option("--version", help="Version (default newest).", min=1, max=2**62)
    ] = None,
    as_json: JSON = False,
) -> None:
    """Show one version of an artifact with its content."""
    art = STATE.engine().artifact(venture, name, version)
    if as_json:
        emit_json(art.as_dict())
    else:
        out.print(f"{safe(art.name)}@{art.version} stage {art.stage} by {safe(art.actor)} at {art.created_at}")
        if art.derived_from:
            out.print("derived from: " + safe(", ".join(art.derived_from)))
        out.print_json(json.dumps(art.content))


@artifact_app.command("lineage")
@handled
def lineage(
    venture: VENTURE,
    name: Annotated[str, typer.Argument(help="Artifact name.")],
    version: Annotated[
        int | None, typer.Option("--version", help="Version (default newest).", min=1, max=2**62)
    ] = None,
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
    from rich.tree import Tree

    root = Tree(f"{chain[0][1].name}@{chain[0][1].version}")
    nodes = {0: root}
    for depth, art in chain[1:]:
        nodes[depth] = nodes[depth - 1].add(f"{art.name}@{art.version}")
    out.print(root)


def register(app: typer.Typer) -> None:
    """Add this module's commands to the `venturegate` command tree."""
    app.add_typer(metric_app, name="metric")
    app.add_typer(artifact_app, name="artifact")
