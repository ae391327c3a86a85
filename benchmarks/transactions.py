"""The cost of `Engine.tx()` itself on SQLite: an empty transaction, and one that appends an event.

Both run on a temporary SQLite file, `--n` times per round for `--rounds` rounds; each round reports
microseconds of wall and CPU time (`time.process_time`) per transaction, and the JSON gives the median
round. On a shared machine CPU time is the figure to compare: wall time includes waiting for a core.
Run two source trees in alternation to compare them, e.g.:

    PYTHONPATH=/tmp/before/src .venv/bin/python benchmarks/transactions.py
    PYTHONPATH=src .venv/bin/python benchmarks/transactions.py
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

from venturegate.definitions.loader import load_workflow
from venturegate.engine import Actor, Engine
from venturegate.store.database import connect, ensure_schema

NOW = datetime(2026, 12, 7, tzinfo=UTC)
ACTOR = Actor("bench", "agent")


def _timed(n: int, body: Callable[[], None]) -> tuple[float, float]:
    """Microseconds of wall and CPU time per call of `body`, over `n` calls."""
    wall, cpu = time.perf_counter(), time.process_time()
    for _ in range(n):
        body()
    return (time.perf_counter() - wall) / n * 1e6, (time.process_time() - cpu) / n * 1e6


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--n", type=int, default=5000, help="transactions per round and kind")
    ap.add_argument("--rounds", type=int, default=7)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        db = connect(f"sqlite:///{Path(tmp) / 'tx.db'}")
        ensure_schema(db)
        eng = Engine(db, load_workflow(None), clock=lambda: NOW)

        def empty() -> None:
            with eng.tx():
                pass

        def event() -> None:
            with eng.tx() as conn:
                eng._event(conn, None, "bench.tx", ACTOR, NOW)

        rounds: dict[str, list[tuple[float, float]]] = {"empty": [], "event": []}
        for _ in range(args.rounds):
            for kind, body in (("empty", empty), ("event", event)):
                rounds[kind].append(_timed(args.n, body))
        db.dispose()
    out = {
        kind: {
            "wall_us_median": round(statistics.median(w for w, _ in got), 2),
            "cpu_us_median": round(statistics.median(c for _, c in got), 2),
            "cpu_us_rounds": [round(c, 2) for _, c in got],
        }
        for kind, got in rounds.items()
    }
    print(json.dumps({"benchmark": "transactions", "n": args.n, "rounds": args.rounds, **out}, indent=2))


if __name__ == "__main__":
    main()
