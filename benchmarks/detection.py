"""Detection: batched ingestion with trigger evaluation, detection latency, a gate-and-loop process vs SpiffWorkflow.

Three phases per backend (SQLite in a temporary file; PostgreSQL too with --postgres), on the
workflow in `benchmarks/detection.yaml` (trigger QUAL-1: `quality < threshold.quality`, for 0s, auto,
max 3, back to substage 1.2; a fourth dip escalates):

1. ingest: batches of 1000 samples spread round-robin over many ventures, with idempotency keys,
   each batch one `record_samples` call that also judges the triggers reading `quality` for every
   venture it touched; a few values dip so that some triggers fire. Samples per second.
2. detection: single `record_sample` calls whose value makes QUAL-1 fire, timed from just before
   the call to its return; the `trigger.fired` event and the recursion (or escalation) are committed
   in the call's transaction, so the return is the moment the detection is durable. p50 / p99 in ms.
3. process: the whole gate-and-loop process for one venture: create it, then dip, recover, dip,
   recover, dip, recover, dip (seven single-sample transactions) → three recursions and an escalation.
   Processes per second.

The peer runs the same process on SpiffWorkflow (`benchmarks/gate_loop.bpmn`: measure → gateway on
the value: pass → end; fail → loops left? → back to measure, else → escalate) the way a SpiffWorkflow
user persists state: after every step the workflow is serialized with `BpmnWorkflowSerializer` to
JSON and stored in a SQLite table (one row per instance, WAL and synchronous=NORMAL like
venturegate's store), and it is reloaded from that row before the next step. A Spiff process is its
creation plus four "measure" steps (fewer steps than venturegate's eight transactions: recoveries
are not steps there).

Figures are wall-clock (`time.perf_counter`); each phase also reports the client's CPU seconds
(`time.process_time`), which tells a busy machine (wall well above CPU) from a slow code path. The
JSON ends with each goal of the issue, met or not, and the load average when the run started.

SpiffWorkflow is a benchmark-only dependency, not in pyproject: `.venv/bin/pip install SpiffWorkflow`.
Without it the peer is skipped (the JSON says so).

    .venv/bin/python benchmarks/detection.py                      # SQLite (temporary file)
    .venv/bin/python benchmarks/detection.py --postgres URL       # also PostgreSQL (scratch schema)
    .venv/bin/python benchmarks/detection.py --quick              # smoke run
"""

from __future__ import annotations

import argparse
import importlib
import json
import math
import os
import sqlite3
import sys
import tempfile
import time
import uuid
from collections import Counter
from datetime import UTC, datetime, timedelta
from importlib import metadata
from pathlib import Path
from typing import Any

from sqlalchemy import create_engine, func, select, text

from venturegate.definitions.loader import load_workflow
from venturegate.engine import Actor, Engine, SampleIn
from venturegate.store.database import connect, ensure_schema
from venturegate.store.schema import events

HERE = Path(__file__).resolve().parent
WORKFLOW = HERE / "detection.yaml"
BPMN = HERE / "gate_loop.bpmn"
METRIC = "quality"
STAGE = 1
HIGH, DIP = 95.0, 50.0
PROCESS = (DIP, HIGH, DIP, HIGH, DIP, HIGH, DIP)
"""Four dips with recoveries between (a trigger fires once per episode): three recursions, then an escalation."""
SPIFF_PROCESS = (DIP, DIP, DIP, DIP)
T0 = datetime(2026, 1, 1, tzinfo=UTC)
AGENT = Actor("bench", "agent", "agent")
SEGMENTS = ("b2b_enterprise", "b2b_smb", "b2c_mass", "b2c_premium")
GOAL_INGEST, GOAL_P99_MS, GOAL_RATIO = 20_000, 50.0, 5.0


class Clock:
    """The engine's clock: synthetic, strictly increasing, so that "latest sample" is never a tie."""

    def __init__(self, start: datetime = T0) -> None:
        self.now = start

    def __call__(self) -> datetime:
        return self.now

    def tick(self, ms: float = 1.0) -> datetime:
        self.now += timedelta(milliseconds=ms)
        return self.now


def percentile(values: list[float], p: float) -> float:
    """Nearest-rank percentile (0 for no values)."""
    if not values:
        return 0.0
    ordered = sorted(values)
    return ordered[max(0, math.ceil(p / 100 * len(ordered)) - 1)]


def _ventures(eng: Engine, clock: Clock, prefix: str, n: int) -> list[int]:
    out = []
    for i in range(n):
        clock.tick()
        out.append(eng.create_venture(f"{prefix}{i}", SEGMENTS[i % 4], STAGE, actor=AGENT).id)
    return out


def _ingest(eng: Engine, clock: Clock, n_ventures: int, n_samples: int, batch_size: int) -> dict[str, Any]:
    ids = _ventures(eng, clock, "i", n_ventures)
    batches: list[list[SampleIn]] = []
    for b, start in enumerate(range(0, n_samples, batch_size)):
        size = min(batch_size, n_samples - start)
        batch = [
            SampleIn(ids[g % n_ventures], METRIC, HIGH - g % 10, clock.now + timedelta(microseconds=g), f"k{g}")
            for g in range(start, start + size)
        ]
        # One venture per batch dips on its last sample of the batch (the value the trigger judges).
        dipper = ids[b % n_ventures]
        last = max(i for i, s in enumerate(batch) if s.venture == dipper)
        s = batch[last]
        batch[last] = SampleIn(s.venture, s.metric, DIP, s.at, s.key)
        batches.append(batch)
    clock.now += timedelta(microseconds=n_samples)
    outcomes: Counter[str] = Counter()
    t, cpu = time.perf_counter(), time.process_time()
    for batch in batches:
        got = eng.record_samples(batch, actor=AGENT)
        outcomes.update(f.outcome for f in got.fired)
    dt, cpu = time.perf_counter() - t, time.process_time() - cpu
    clock.tick()
    return {
        "samples": n_samples,
        "batch": batch_size,
        "ventures": n_ventures,
        "ventures_judged_per_batch": min(batch_size, n_ventures),
        "seconds": round(dt, 3),
        "client_cpu_seconds": round(cpu, 3),
        "samples_per_s": round(n_samples / dt),
        "fired": dict(outcomes),
    }


def _detection(eng: Engine, clock: Clock, n_ventures: int) -> dict[str, Any]:
    ids = _ventures(eng, clock, "d", n_ventures)
    for vid in ids:
        clock.tick()
        eng.record_sample(vid, METRIC, HIGH, actor=AGENT)
    latencies: list[float] = []
    outcomes: Counter[str] = Counter()
    for value in PROCESS:
        for vid in ids:
            clock.tick()
            if value == HIGH:
                eng.record_sample(vid, METRIC, value, actor=AGENT)
                continue
            t = time.perf_counter()
            got = eng.record_sample(vid, METRIC, value, actor=AGENT)
            latencies.append(time.perf_counter() - t)
            assert len(got.fired) == 1, got
            outcomes[got.fired[0].outcome] += 1
    with eng.db.connect() as conn:
        committed = conn.execute(
            select(func.count())
            .select_from(events)
            .where(events.c.kind == "trigger.fired", events.c.venture_id.in_(ids))
        ).scalar_one()
    assert committed == len(latencies), (committed, len(latencies))
    ms = [x * 1000 for x in latencies]
    return {
        "n": len(ms),
        "outcomes": dict(outcomes),
        "p50": round(percentile(ms, 50), 2),
        "p99": round(percentile(ms, 99), 2),
        "max": round(max(ms), 2),
    }


def _process(eng: Engine, clock: Clock, n: int) -> dict[str, Any]:
    t, cpu = time.perf_counter(), time.process_time()
    for i in range(n):
        clock.tick()
        vid = eng.create_venture(f"p{i}", SEGMENTS[i % 4], STAGE, actor=AGENT).id
        outcome = ""
        for value in PROCESS:
            clock.tick()
            got = eng.record_sample(vid, METRIC, value, actor=AGENT)
            if got.fired:
                outcome = got.fired[0].outcome
        assert outcome == "escalated", outcome
    dt, cpu = time.perf_counter() - t, time.process_time() - cpu
    return {
        "processes": n,
        "transactions_per_process": 1 + len(PROCESS),
        "seconds": round(dt, 3),
        "client_cpu_seconds": round(cpu, 3),
        "process_per_s": round(n / dt, 1),
        "transactions_per_s": round(n * (1 + len(PROCESS)) / dt, 1),
    }


def run(url: str, sizes: argparse.Namespace) -> dict[str, Any]:
    """The three phases against one database URL."""
    db = connect(url)
    ensure_schema(db)
    clock = Clock()
    eng = Engine(db, load_workflow(str(WORKFLOW)), clock=clock)
    ingest = _ingest(eng, clock, sizes.ventures, sizes.samples, sizes.batch)
    detection = _detection(eng, clock, sizes.detect)
    process = _process(eng, clock, sizes.processes)
    db.dispose()
    return {
        "backend": db.dialect.name,
        "ingest_samples_per_s": ingest["samples_per_s"],
        "detection_ms": {"p50": detection["p50"], "p99": detection["p99"]},
        "process_per_s": process["process_per_s"],
        "ingest": ingest,
        "detection": detection,
        "process": process,
    }


def spiff(path: Path, n: int) -> dict[str, Any]:
    """The gate-and-loop process on SpiffWorkflow, serialized to SQLite after every step."""
    try:  # imported by name: SpiffWorkflow is an optional, untyped benchmark dependency
        BpmnParser: Any = importlib.import_module("SpiffWorkflow.bpmn.parser").BpmnParser
        BpmnWorkflowSerializer: Any = importlib.import_module("SpiffWorkflow.bpmn.serializer").BpmnWorkflowSerializer
        BpmnWorkflow: Any = importlib.import_module("SpiffWorkflow.bpmn.workflow").BpmnWorkflow
        TaskState: Any = importlib.import_module("SpiffWorkflow.util.task").TaskState
    except ImportError:
        msg = "SpiffWorkflow is not installed (`.venv/bin/pip install SpiffWorkflow`); the peer is skipped"
        print(msg, file=sys.stderr)
        return {"skipped": msg}
    parser = BpmnParser()
    parser.add_bpmn_file(str(BPMN))
    spec, subprocesses = parser.get_spec("gate_loop"), parser.get_subprocess_specs("gate_loop")
    serializer = BpmnWorkflowSerializer()
    db = sqlite3.connect(path, isolation_level=None)
    db.execute("PRAGMA journal_mode=WAL")
    db.execute("PRAGMA synchronous=NORMAL")
    db.execute("CREATE TABLE workflow (id INTEGER PRIMARY KEY, state TEXT NOT NULL, completed INTEGER NOT NULL)")

    def save(wid: int | None, wf: Any) -> int:
        state, done = serializer.serialize_json(wf), int(wf.is_completed())
        db.execute("BEGIN IMMEDIATE")
        if wid is None:
            wid = db.execute("INSERT INTO workflow (state, completed) VALUES (?, ?)", (state, done)).lastrowid
        else:
            db.execute("UPDATE workflow SET state = ?, completed = ? WHERE id = ?", (state, done, wid))
        db.execute("COMMIT")
        assert wid is not None
        return wid

    size = 0
    t, cpu = time.perf_counter(), time.process_time()
    for _ in range(n):
        wf = BpmnWorkflow(spec, subprocesses)
        wf.do_engine_steps()
        wid = save(None, wf)
        for value in SPIFF_PROCESS:
            (state,) = db.execute("SELECT state FROM workflow WHERE id = ?", (wid,)).fetchone()
            wf = serializer.deserialize_json(state)
            task = wf.get_next_task(state=TaskState.READY, manual=True)
            task.set_data(quality=value)
            task.run()
            wf.do_engine_steps()
            save(wid, wf)
        assert wf.is_completed() and wf.data["escalated"] is True and wf.data["attempts"] == 3, wf.data
    dt, cpu = time.perf_counter() - t, time.process_time() - cpu
    (size,) = db.execute("SELECT max(length(state)) FROM workflow").fetchone()
    db.close()
    return {
        "version": metadata.version("SpiffWorkflow"),
        "processes": n,
        "steps_per_process": 1 + len(SPIFF_PROCESS),
        "state_bytes_max": size,
        "seconds": round(dt, 3),
        "client_cpu_seconds": round(cpu, 3),
        "process_per_s": round(n / dt, 1),
        "steps_per_s": round(n * (1 + len(SPIFF_PROCESS)) / dt, 1),
    }


def goals(results: list[dict[str, Any]], peer: dict[str, Any]) -> dict[str, Any]:
    """Each goal of the issue, met or not, with the figure it was judged on."""
    out: dict[str, Any] = {}
    for r in results:
        b = r["backend"]
        if b == "sqlite":
            out["sqlite_ingest_at_least_20000_per_s"] = r["ingest_samples_per_s"] >= GOAL_INGEST
        out[f"{b}_p99_under_50_ms"] = r["detection_ms"]["p99"] < GOAL_P99_MS
        if "process_per_s" in peer:
            out[f"{b}_at_least_5x_spiffworkflow"] = r["process_per_s"] >= GOAL_RATIO * peer["process_per_s"]
    return out


def main() -> None:
    """Parse options, run on SQLite (and PostgreSQL when given) and the SpiffWorkflow peer, print JSON."""
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--ventures", type=int, default=100, help="ventures the ingested samples are spread over")
    ap.add_argument("--samples", type=int, default=50_000, help="samples ingested in batches")
    ap.add_argument("--batch", type=int, default=1000)
    ap.add_argument("--detect", type=int, default=100, help="ventures in the latency phase (4 firings each)")
    ap.add_argument("--processes", type=int, default=200, help="gate-and-loop processes (each engine)")
    ap.add_argument("--quick", action="store_true", help="small sizes for a smoke run")
    ap.add_argument("--postgres", default="", help="PostgreSQL URL (a scratch schema is created and dropped)")
    args = ap.parse_args()
    if args.quick:
        args.ventures, args.samples, args.detect, args.processes = 50, 10_000, 25, 50
    started, load = time.perf_counter(), os.getloadavg()
    results = []
    with tempfile.TemporaryDirectory() as tmp:
        results.append(run(f"sqlite:///{Path(tmp) / 'bench.db'}", args))
        peer = spiff(Path(tmp) / "spiff.db", args.processes)
    if args.postgres:
        schema = f"bench_{uuid.uuid4().hex[:8]}"
        admin = create_engine(args.postgres, isolation_level="AUTOCOMMIT")
        with admin.connect() as conn:
            conn.execute(text(f'CREATE SCHEMA "{schema}"'))
        try:
            sep = "&" if "?" in args.postgres else "?"
            results.append(run(f"{args.postgres}{sep}options=-csearch_path%3D{schema}", args))
        finally:
            with admin.connect() as conn:
                conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
            admin.dispose()
    ratio = (
        {r["backend"]: round(r["process_per_s"] / peer["process_per_s"], 1) for r in results}
        if "process_per_s" in peer
        else None
    )
    doc = {
        "benchmark": "detection",
        "results": results,
        "spiffworkflow": peer,
        "ratio": ratio,
        "goals": goals(results, peer),
        "seconds": round(time.perf_counter() - started, 1),
        "load_average_at_start": [round(x, 2) for x in load],
    }
    print(json.dumps(doc, indent=2))


if __name__ == "__main__":
    main()
