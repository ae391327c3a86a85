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

log() { printf '==> %s\n' "$*" >&2; }
die() { printf 'error: %s\n' "$*" >&2; exit 1; }

if [ "$(id -u)" -eq 0 ]; then SUDO=(); else SUDO=(sudo); fi

VER=$({ find /usr/lib/postgresql -mindepth 1 -maxdepth 1 -printf '%f\n' 2>/dev/null || true; } | sort -V | tail -n 1)
[ -n "$VER" ] || die "no PostgreSQL server under /usr/lib/postgresql (run scripts/services.sh first)"
BIN=/usr/lib/postgresql/$VER/bin

as_postgres() {
  if [ "$(id -un)" = postgres ]; then "$@"; else "${SUDO[@]}" runuser -u postgres -- "$@"; fi
}

ready() { "$BIN/pg_isready" -q -h 127.0.0.1 -p "$PORT" -t 1; }

start() {
  if ! ready; then
    if [ ! -f "$DIR/PG_VERSION" ]; then
      log "initdb $DIR (PostgreSQL $VER, port $PORT)"
      "${SUDO[@]}" mkdir -p "$DIR"
      "${SUDO[@]}" chown postgres:postgres "$DIR"
      "${SUDO[@]}" chmod 700 "$DIR"
      as_postgres "$BIN/initdb" -D "$DIR" -U postgres --auth=trust -E UTF8 --locale=C.UTF-8 >/dev/null
      as_postgres tee -a "$DIR/postgresql.conf" >/dev/null <<CONF
# venturegate benchmark cluster: default durability, statement statistics
listen_addresses = '127.0.0.1'
port = $PORT
unix_socket_directories = '$DIR'
shared_preload_libraries = 'pg_stat_statements'
pg_stat_statements.track = top
track_wal_io_timing = on
max_connections = 60
shared_buffers = 128MB
CONF
    fi
    log "starting the benchmark PostgreSQL on 127.0.0.1:$PORT"
    as_postgres "$BIN/pg_ctl" -D "$DIR" -l "$DIR/server.log" -w -t 60 start >/dev/null ||
      die "the benchmark PostgreSQL did not start (see $DIR/server.log)"
  fi
  echo "$URL"
}

stop() {
  if [ -f "$DIR/postmaster.pid" ]; then
    as_postgres "$BIN/pg_ctl" -D "$DIR" -m fast -w stop >/dev/null
    log "stopped the benchmark PostgreSQL on port $PORT"
  fi
}

case "${1:-start}" in
  start) start ;;
  stop) stop ;;
  url) echo "$URL" ;;
  *) die "usage: $0 [start|stop|url]" ;;
esac
