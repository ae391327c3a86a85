#!/usr/bin/env bash
# A throwaway PostgreSQL cluster for benchmarks/concurrency.py: its own data directory and port (never the
# machine's 5432 server, never the stage-28 cluster), PostgreSQL's default durability (fsync on,
# synchronous_commit on, full_page_writes on — like a production server, unlike the stage-28 test cluster), with
# pg_stat_statements preloaded and WAL I/O timing on, so a run can show where the server's time went.
# Trust auth on 127.0.0.1 only.
#
#   scripts/pg-bench.sh start   # init if needed, start; prints the admin URL
#   scripts/pg-bench.sh stop    # stop it (the data directory stays)
#   scripts/pg-bench.sh url     # print the admin URL
#
# VENTUREGATE_BENCH_PG_PORT (default 55431) and VENTUREGATE_BENCH_PG_DIR (default /tmp/venturegate-pg-bench-<port>).
set -euo pipefail

PORT=${VENTUREGATE_BENCH_PG_PORT:-55431}
DIR=${VENTUREGATE_BENCH_PG_DIR:-/tmp/venturegate-pg-bench-$PORT}
URL="postgresql+psycopg://postgres@127.0.0.1:${PORT}/postgres"
LABEL=benchmark

cluster_conf() {
  cat <<CONF
# default durability, statement statistics
shared_preload_libraries = 'pg_stat_statements'
pg_stat_statements.track = top
track_wal_io_timing = on
max_connections = 60
shared_buffers = 128MB
CONF
}

# shellcheck source=scripts/_pg-cluster.sh
. "$(dirname "$0")/_pg-cluster.sh"
pg_cluster_main "$@"
