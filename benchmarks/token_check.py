"""Token check: `Engine.authenticate` on the cache hit path (what every authenticated API request pays).

A token is created in a temporary SQLite database and checked once (a miss, which fills the cache); then N checks
of the same secret are timed, five rounds. Prints JSON: nanoseconds per check, the lowest and the median round.

    .venv/bin/python benchmarks/token_check.py            # N = 200,000
    .venv/bin/python benchmarks/token_check.py -n 20000
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import tempfile
import time

from venturegate.definitions.loader import load_workflow
from venturegate.engine import SYSTEM, Engine
from venturegate.store.database import connect, ensure_schema


def main() -> None:
    parser = argparse.ArgumentParser(description="Time Engine.authenticate on its cache hit path.")
    parser.add_argument("-n", type=int, default=200_000, help="checks per round")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        db = connect(f"sqlite:///{os.path.join(tmp, 'tokens.db')}")
        ensure_schema(db)
        engine = Engine(db, load_workflow(None))
        _, secret = engine.create_token("bench", "lead", actor=SYSTEM)
        assert engine.authenticate(secret) is not None
        rounds = []
        for _ in range(5):
            started = time.perf_counter()
            for _ in range(args.n):
                engine.authenticate(secret)
            rounds.append((time.perf_counter() - started) / args.n * 1e9)
        db.dispose()
    doc = {
        "benchmark": "token_check",
        "n": args.n,
        "ns_per_check_min": round(min(rounds)),
        "ns_per_check_median": round(statistics.median(rounds)),
        "load_average_at_start": [round(x, 2) for x in os.getloadavg()],
    }
    print(json.dumps(doc))


if __name__ == "__main__":
    main()
