"""Configuration rollback duration: the engine's rollback against a git-based restore of a YAML config file.

Setup per backend (SQLite in a temporary file; PostgreSQL too with --postgres URL, in a scratch schema
that is dropped afterwards): the bundled workflow, V ventures entered at stage 30 (so `pre-stage-30` is
snapshotted at version 0) with their input artifacts, each given `--versions` configuration versions
(`set_config` over six parameters of four scopes) and a rollback handler registered for `traffic`.

Phases, each timed per operation from just before the call to its return (wall clock, `perf_counter`):

1. **rollback**: `engine.rollback(V, to="pre-stage-30")`, round robin over the ventures. Before each one
   (untimed) two settings are changed again, so every rollback restores something and the version count
   keeps growing. One transaction: resolve the snapshot, diff, write the restored version, run the handler,
   write the rollback log, the event and its outbox rows. The engine's own `duration_ms` (restore and
   handlers, measured inside the transaction) is reported too.
2. **trigger**: the same restore set off by DEPLOY-002 (`deployment_error_rate > 5` for 2 minutes, auto):
   a breach sample, then the sample 121 s later whose call judges the trigger, fires it and rolls back —
   the time of that second call. A recovery sample clears the episode before the next round.
3. **peer — git restore of a YAML file**: what a studio that keeps each venture's settings in a YAML file
   under git (the studio keeps `config/deployment.config.js` in its repository) does to roll back:
   `git checkout <tag> -- ventures/V.yaml`, parse the restored file, `git commit`. Same ventures, same
   number of versions (one commit each), the tag taken where `pre-stage-30` was. Only the commands are
   timed, not a person deciding and typing them (the studio reports 4-8 hours for a manual recovery).

    .venv/bin/python benchmarks/rollback.py
    .venv/bin/python benchmarks/rollback.py --postgres postgresql+psycopg://postgres@127.0.0.1:5432/venturegate_test
    .venv/bin/python benchmarks/rollback.py --quick        # smoke run
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import tempfile
import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import yaml
from sqlalchemy import create_engine, text

from venturegate.definitions.loader import load_workflow
from venturegate.demo import data as demo_data
from venturegate.engine import Actor, Engine
from venturegate.engine.rollbacks import RollbackContext
from venturegate.store.database import connect, ensure_schema

GOAL_MS = 100.0
"""The goal for a configuration rollback (the studio's own target is 5 minutes)."""
T0 = datetime(2026, 11, 2, 8, 0, tzinfo=UTC)
LEAD = Actor("lee", "lead")
AGENT = Actor("bench", "agent", "agent")
# (key, good value, bad value): six parameters of stage 30 in the traffic, rollback, deployment and smoke_tests scopes.
SETTINGS: tuple[tuple[str, Any, Any], ...] = (
    ("traffic.canary_steps", [10, 50, 100], [50, 100]),
    ("traffic.canary_monitoring_duration", 300, 60),
    ("rollback.error_rate_threshold", 5, 9),
    ("rollback.rollback_timeout", 5, 9),
    ("deployment.timeout", 120, 45),
    ("smoke_tests.timeout", 30, 10),
)


def percentiles(ms: list[float]) -> dict[str, float]:
    """p50 / p90 / p99 / max / mean of timings in milliseconds (nearest rank)."""
    s = sorted(ms)

    def rank(p: float) -> float:
        return s[min(len(s) - 1, max(0, round(p / 100 * len(s) + 0.5) - 1))]

    return {
        "n": len(s),
        "p50": round(rank(50), 2),
        "p90": round(rank(90), 2),
        "p99": round(rank(99), 2),
        "max": round(s[-1], 2),
        "mean": round(sum(s) / len(s), 2),
    }


def traffic_to_blue(ctx: RollbackContext) -> str:
    """A stand-in for crew-30's handler: what it would tell the load balancer."""
    return f"{ctx.venture}: blue 100 / green 0 ({len(ctx.changes)} change(s))"


def seed(eng: Engine, ventures: int, versions: int) -> list[str]:
    """Ventures at stage 30 with their inputs and `versions` configuration versions each."""
    names = []
    inputs = {
        "release_candidate": demo_data.release_candidate(T0),
        "deployment_plan": demo_data.deployment_plan(T0),
        "rollback_strategy": demo_data.rollback_strategy(),
    }
    for n in range(ventures):
        name = f"bench-{n:03d}"
        eng.create_venture(name, "b2c_mass", 30, actor=LEAD, now=T0)
        for art, content in inputs.items():
            eng.put_artifact(name, art, content, actor=LEAD, now=T0)
        for i in range(versions):
            key, good, bad = SETTINGS[i % len(SETTINGS)]
            eng.set_config(name, key, bad if (i // len(SETTINGS)) % 2 == 0 else good, actor=LEAD, reason="seed", now=T0)
        names.append(name)
    return names


def break_two(eng: Engine, name: str, i: int, now: datetime) -> None:
    """Change two settings (one of them in the traffic scope) away from pre-stage-30."""
    key, _, bad = SETTINGS[i % 2]
    eng.set_config(name, key, bad, actor=LEAD, reason="bench: bad change", now=now)
    key, _, bad = SETTINGS[2 + i % 4]
    eng.set_config(name, key, bad, actor=LEAD, reason="bench: bad change", now=now)


def run(url: str, args: argparse.Namespace) -> dict[str, Any]:
    """All engine phases on one database."""
    db = connect(url)
    ensure_schema(db)
    eng = Engine(db, load_workflow(), clock=lambda: T0)
    eng.register_rollback_handler("traffic", traffic_to_blue)
    began = time.perf_counter()
    names = seed(eng, args.ventures, args.versions)
    setup_s = time.perf_counter() - began

    wall: list[float] = []
    inside: list[float] = []
    restored = 0
    now = T0 + timedelta(minutes=1)
    for i in range(args.rollbacks):
        name = names[i % len(names)]
        break_two(eng, name, i, now)
        start = time.perf_counter()
        record = eng.rollback(name, "pre-stage-30", actor=LEAD, reason="bench", cause="bench", now=now)
        wall.append((time.perf_counter() - start) * 1000)
        inside.append(record.duration_ms)
        restored += len(record.diff)
        assert record.outcome == "completed" and record.diff, record
        now += timedelta(seconds=1)

    fired: list[float] = []
    for i in range(args.triggered):
        name = names[i % len(names)]
        key, _, bad = SETTINGS[0]
        eng.set_config(name, key, bad, actor=LEAD, reason="bench: bad canary", now=now)
        key = f"e{i}"
        eng.record_sample(name, "deployment_error_rate", 7, actor=AGENT, at=now, now=now, key=f"{key}-a")
        later = now + timedelta(seconds=121)
        start = time.perf_counter()
        got = eng.record_sample(name, "deployment_error_rate", 7, actor=AGENT, at=later, now=later, key=f"{key}-b")
        fired.append((time.perf_counter() - start) * 1000)
        assert [(f.trigger, f.outcome) for f in got.fired] == [("DEPLOY-002", "acted")], got.fired
        after = later + timedelta(seconds=10)
        eng.record_sample(name, "deployment_error_rate", 0.4, actor=AGENT, at=after, now=after, key=f"{key}-c")
        now = after + timedelta(seconds=10)

    versions = [eng.config_history(n)[0].version for n in names]
    backend = db.dialect.name
    db.dispose()
    return {
        "backend": backend,
        "ventures": len(names),
        "config_versions_per_venture": {"min": min(versions), "max": max(versions)},
        "setup_s": round(setup_s, 1),
        "rollback_ms": percentiles(wall),
        "rollback_inside_transaction_ms": percentiles(inside),
        "settings_restored_per_rollback": round(restored / max(1, args.rollbacks), 2),
        "trigger_to_restored_ms": percentiles(fired) if fired else None,
    }


def git_peer(root: Path, args: argparse.Namespace) -> dict[str, Any]:
    """The same restores as a git user would do them: one YAML file per venture, a commit per change."""
    if shutil.which("git") is None:
        return {"skipped": "git is not installed"}
    env = {
        **os.environ,
        "GIT_AUTHOR_NAME": "bench",
        "GIT_AUTHOR_EMAIL": "bench@localhost",
        "GIT_COMMITTER_NAME": "bench",
        "GIT_COMMITTER_EMAIL": "bench@localhost",
        "GIT_CONFIG_GLOBAL": os.devnull,
        "GIT_CONFIG_SYSTEM": os.devnull,
    }

    def git(*argv: str) -> None:
        subprocess.run(["git", *argv], cwd=root, env=env, check=True, capture_output=True, timeout=60)

    git("init", "-q", "-b", "main")
    (root / "ventures").mkdir()
    defaults = {key: good for key, good, _ in SETTINGS}
    state: dict[str, dict[str, Any]] = {}

    def write(name: str) -> Path:
        path = root / "ventures" / f"{name}.yaml"
        path.write_text(yaml.safe_dump(state[name], sort_keys=True), encoding="utf-8")
        return path

    def commit(path: Path, message: str) -> None:
        git("add", str(path.relative_to(root)))
        git("commit", "-q", "-m", message)

    names = [f"bench-{n:03d}" for n in range(args.ventures)]
    for name in names:
        state[name] = dict(defaults)
        commit(write(name), f"{name}: enter stage 30")
    git("tag", "pre-stage-30")
    began = time.perf_counter()
    for name in names:
        for i in range(args.versions):
            key, good, bad = SETTINGS[i % len(SETTINGS)]
            state[name][key] = bad if (i // len(SETTINGS)) % 2 == 0 else good
            commit(write(name), f"{name}: set {key}")
    setup_s = time.perf_counter() - began

    wall: list[float] = []
    for i in range(args.rollbacks):
        name = names[i % len(names)]
        for key, _, bad in (SETTINGS[i % 2], SETTINGS[2 + i % 4]):
            state[name][key] = bad
        path = write(name)
        commit(path, f"{name}: bad change")
        rel = str(path.relative_to(root))
        start = time.perf_counter()
        git("checkout", "pre-stage-30", "--", rel)
        restored = yaml.safe_load(path.read_text(encoding="utf-8"))
        git("commit", "-q", "-m", f"{name}: roll back to pre-stage-30")
        wall.append((time.perf_counter() - start) * 1000)
        assert restored == defaults
        state[name] = restored
    return {
        "peer": "git checkout <tag> -- file.yaml; parse; git commit (one YAML file per venture)",
        "git": subprocess.run(["git", "--version"], capture_output=True, text=True, check=True).stdout.strip(),
        "setup_s": round(setup_s, 1),
        "rollback_ms": percentiles(wall),
    }


def timed(fn: Callable[[], dict[str, Any]]) -> dict[str, Any]:
    """fn's result with its wall time."""
    began = time.perf_counter()
    result = fn()
    result["phase_s"] = round(time.perf_counter() - began, 1)
    return result


def main() -> None:
    """Parse options, run on SQLite (and PostgreSQL when given) and the git peer, print JSON."""
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--ventures", type=int, default=20)
    ap.add_argument("--versions", type=int, default=10, help="configuration versions per venture before timing")
    ap.add_argument("--rollbacks", type=int, default=200, help="timed rollbacks (each adds 3 versions)")
    ap.add_argument("--triggered", type=int, default=100, help="timed DEPLOY-002 firings (each rolls back)")
    ap.add_argument("--quick", action="store_true", help="small sizes for a smoke run")
    ap.add_argument("--postgres", default="", help="PostgreSQL URL (a scratch schema is created and dropped)")
    args = ap.parse_args()
    if args.quick:
        args.ventures, args.rollbacks, args.triggered = 5, 40, 10
    started, load = time.perf_counter(), os.getloadavg()
    results = []
    with tempfile.TemporaryDirectory() as tmp:
        results.append(timed(lambda: run(f"sqlite:///{Path(tmp) / 'bench.db'}", args)))
        repo = Path(tmp) / "repo"
        repo.mkdir()
        peer = timed(lambda: git_peer(repo, args))
    if args.postgres:
        schema = f"bench_{uuid.uuid4().hex[:8]}"
        admin = create_engine(args.postgres, isolation_level="AUTOCOMMIT")
        with admin.connect() as conn:
            conn.execute(text(f'CREATE SCHEMA "{schema}"'))
        try:
            sep = "&" if "?" in args.postgres else "?"
            url = f"{args.postgres}{sep}options=-csearch_path%3D{schema}"
            results.append(timed(lambda: run(url, args)))
        finally:
            with admin.connect() as conn:
                conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
            admin.dispose()
    goals = {f"{r['backend']}_p99_under_{GOAL_MS:g}_ms": r["rollback_ms"]["p99"] < GOAL_MS for r in results}
    doc = {
        "benchmark": "rollback",
        "sizes": {k: getattr(args, k) for k in ("ventures", "versions", "rollbacks", "triggered")},
        "results": results,
        "peer": peer,
        "goals": goals,
        "seconds": round(time.perf_counter() - started, 1),
        "load_average_at_start": [round(x, 2) for x in load],
        "load_average_at_end": [round(x, 2) for x in os.getloadavg()],
    }
    print(json.dumps(doc, indent=2))


if __name__ == "__main__":
    main()
