"""Lifecycle throughput: create ventures, store their inputs, record samples (batched and single), judge gates.

Ventures start at stage 19 of the bundled workflow and get their three input artifacts, so their
entry gates pass and their triggers are judged as samples arrive. A batch is 1,000 samples from 10
ventures (a crew's upload).

Prints one JSON document per backend. The named peer is a bare SQLAlchemy Core `executemany` of the
same sample rows into the same table, with no validation, idempotency or events: the floor the
engine's ingestion path is compared with.

    .venv/bin/python benchmarks/lifecycle.py                      # SQLite (temporary file)
    .venv/bin/python benchmarks/lifecycle.py --postgres URL       # also PostgreSQL
    .venv/bin/python benchmarks/lifecycle.py --ventures 10000 --samples 200000 --singles 20000
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import create_engine, insert, text

from venturegate.definitions.loader import load_workflow
from venturegate.demo import data
from venturegate.engine import Actor, Engine, SampleIn
from venturegate.store.database import connect, ensure_schema
from venturegate.store.schema import samples

STAGE = 19
T0 = datetime(2026, 11, 1, tzinfo=UTC)
AGENT = Actor("bench", "agent", "agent")
SEGMENTS = ("b2b_enterprise", "b2b_smb", "b2c_mass", "b2c_premium")


def _value(unit: str, i: int) -> float:
    return float(50 + i % 50) if unit == "percent" else float(100 + i % 900)


def _progress(out: dict[str, Any], phase: str) -> None:
    """One line per finished phase on stderr, so that a long run can be watched (stdout stays pure JSON)."""
    print(f"{out['backend']} {phase}: {out[phase]['seconds']} s", file=sys.stderr, flush=True)


def run(url: str, n_ventures: int, n_samples: int, n_singles: int, n_gates: int) -> dict[str, Any]:
    """Time each phase against one database URL."""
    db = connect(url)
    ensure_schema(db)
    clock = [T0]
    eng = Engine(db, load_workflow(), clock=lambda: clock[0])
    stage = eng.workflow.workflow.stage(STAGE)
    assert stage is not None
    metrics = [(name, m.unit) for name, m in stage.metrics.items()]
    out: dict[str, Any] = {"backend": db.dialect.name, "stage": STAGE}

    t = time.perf_counter()
    ids = [eng.create_venture(f"v{i}", SEGMENTS[i % 4], STAGE, actor=AGENT).id for i in range(n_ventures)]
    dt = time.perf_counter() - t
    out["create_ventures"] = {"n": n_ventures, "seconds": round(dt, 3), "per_second": round(n_ventures / dt, 1)}
    _progress(out, "create_ventures")

    # Each venture gets its three stage-19 inputs, so its entry gate passes and its triggers are live.
    inputs = [
        ("integration_requirements", data.integration_requirements(data.TALLY_INTEGRATIONS)),
        ("api_documentation", data.api_documentation(data.TALLY_INTEGRATIONS)),
        ("test_accounts", data.test_accounts("bench", data.TALLY_INTEGRATIONS)),
    ]
    t = time.perf_counter()
    for vid in ids:
        for name, content in inputs:
            eng.put_artifact(vid, name, content, actor=AGENT)
    dt = time.perf_counter() - t
    n_art = len(ids) * len(inputs)
    out["put_artifacts"] = {"n": n_art, "seconds": round(dt, 3), "per_second": round(n_art / dt, 1)}
    _progress(out, "put_artifacts")

    clock[0] = T0 + timedelta(days=1)
    # A batch is what a crew uploads: 1,000 samples from 10 ventures (100 each), spread over the stage's metrics.
    per_venture = 100
    batches = []
    for b in range(n_samples // 1000):
        batch = []
        for k in range(1000):
            i = b * 1000 + k
            vid = ids[(b * 10 + k // per_venture) % len(ids)]
            name, unit = metrics[i % len(metrics)]
            batch.append(SampleIn(vid, name, _value(unit, i), T0 + timedelta(seconds=i % 86_000), f"k{i}"))
        batches.append(batch)
    fired = 0
    t = time.perf_counter()
    for batch in batches:
        fired += len(eng.record_samples(batch, actor=AGENT).fired)
    dt = time.perf_counter() - t
    out["samples_batched"] = {
        "n": n_samples,
        "batch": 1000,
        "ventures_per_batch": 1000 // per_venture,
        "seconds": round(dt, 3),
        "per_second": round(n_samples / dt),
        "triggers_reported": fired,
    }
    _progress(out, "samples_batched")

    t = time.perf_counter()
    for i in range(n_singles):
        name, unit = metrics[i % len(metrics)]
        eng.record_sample(ids[i % len(ids)], name, _value(unit, i), actor=AGENT, at=T0 + timedelta(seconds=i % 86_000))
    dt = time.perf_counter() - t
    out["samples_single"] = {"n": n_singles, "seconds": round(dt, 3), "per_second": round(n_singles / dt)}
    _progress(out, "samples_single")

    rows = [
        {
            "venture_id": ids[i % len(ids)],
            "metric": metrics[i % len(metrics)][0],
            "value": 1.0,
            "at": T0,
            "sample_key": None,
            "actor": "peer",
            "recorded_at": T0,
        }
        for i in range(n_samples)
    ]
    t = time.perf_counter()
    for i in range(0, len(rows), 1000):
        with db.begin() as conn:
            conn.execute(insert(samples), rows[i : i + 1000])
    dt = time.perf_counter() - t
    out["peer_bare_executemany"] = {
        "n": n_samples,
        "batch": 1000,
        "seconds": round(dt, 3),
        "per_second": round(n_samples / dt),
    }
    _progress(out, "peer_bare_executemany")
    # The engine's batched ingestion as a fraction of the bare peer (1.0 = as fast as a plain executemany).
    out["batched_vs_peer"] = round(out["samples_batched"]["per_second"] / out["peer_bare_executemany"]["per_second"], 4)

    t = time.perf_counter()
    passed = sum(eng.check_gate(ids[i % len(ids)]).passed for i in range(n_gates))
    dt = time.perf_counter() - t
    out["gate_evaluations"] = {
        "n": n_gates,
        "seconds": round(dt, 3),
        "per_second": round(n_gates / dt, 1),
        "checks_per_gate": len(stage.gates.exit),
        "passed": passed,
    }
    _progress(out, "gate_evaluations")
    db.dispose()
    return out


def main() -> None:
    """Parse options, run on SQLite (and PostgreSQL when given), print JSON."""
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--ventures", type=int, default=10_000)
    ap.add_argument("--samples", type=int, default=200_000)
    ap.add_argument("--singles", type=int, default=20_000)
    ap.add_argument("--gates", type=int, default=10_000)
    ap.add_argument("--postgres", default="", help="PostgreSQL URL (a scratch schema is created and dropped)")
    args = ap.parse_args()
    results = []
    with tempfile.TemporaryDirectory() as tmp:
        url = f"sqlite:///{Path(tmp) / 'bench.db'}"
        results.append(run(url, args.ventures, args.samples, args.singles, args.gates))
    if args.postgres:
        schema = f"bench_{uuid.uuid4().hex[:8]}"
        admin = create_engine(args.postgres, isolation_level="AUTOCOMMIT")
        with admin.connect() as conn:
            conn.execute(text(f'CREATE SCHEMA "{schema}"'))
        try:
            sep = "&" if "?" in args.postgres else "?"
            results.append(
                run(
                    f"{args.postgres}{sep}options=-csearch_path%3D{schema}",
                    args.ventures,
                    args.samples,
                    args.singles,
                    args.gates,
                )
            )
        finally:
            with admin.connect() as conn:
                conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
    print(json.dumps({"benchmark": "lifecycle", "results": results}, indent=2))


if __name__ == "__main__":
    main()
