#!/usr/bin/env bash
# The multi-process deployment on this machine (benchmarks/cluster.py): a fresh database on PostgreSQL
# 127.0.0.1:5432, its own Redis, two `venturegate serve --no-worker` behind HAProxy, two `venturegate worker`s
# and a local notification inbox. Without arguments it drives the cluster for a minute under faults (a worker
# and an API process SIGKILLed, PostgreSQL connections cut) and checks that every effect happened exactly once;
# `--up` only starts it and waits for Ctrl-C. Other options: --ventures N, --seconds S, --batch N, --dir D, --keep.
# `make cluster` runs it after `make services`.
set -euo pipefail
cd "$(dirname "$0")/.."
py=.venv/bin/python
[ -x "$py" ] || { echo "error: $py not found: run 'make install'" >&2; exit 1; }
exec "$py" benchmarks/cluster.py "$@"
