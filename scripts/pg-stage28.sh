#!/usr/bin/env bash
# A throwaway PostgreSQL cluster for the stage-28 crew's tests and demo: its own data directory and
# port (never the machine's 5432 server), with pg_stat_statements preloaded and the hypopg extension
# installed (Debian package postgresql-<version>-hypopg). Trust auth on 127.0.0.1 only.
#
#   scripts/pg-stage28.sh start   # init if needed, start, create database stage28; prints the URL
#   scripts/pg-stage28.sh stop    # stop it (the data directory stays for the next start)
#   scripts/pg-stage28.sh url     # print the URL
#
# VENTUREGATE_PERF_PG_PORT (default 55428) and VENTUREGATE_PERF_PG_DIR (default /tmp/venturegate-pg28-<port>).
set -euo pipefail

PORT=${VENTUREGATE_PERF_PG_PORT:-55428}
DIR=${VENTUREGATE_PERF_PG_DIR:-/tmp/venturegate-pg28-$PORT}
DB=stage28
URL="postgresql://postgres@127.0.0.1:${PORT}/${DB}"

log() { printf '==> %s\n' "$*" >&2; }
die() { printf 'error: %s\n' "$*" >&2; exit 1; }

if [ "$(id -u)" -eq 0 ]; then SUDO=(); else SUDO=(sudo); fi

pg_bin() {
  local v
  v=$({ find /usr/lib/postgresql -mindepth 1 -maxdepth 1 -printf '%f\n' 2>/dev/null || true; } | sort -V | tail -n 1)
  [ -n "$v" ] || die "no PostgreSQL server under /usr/lib/postgresql (run scripts/services.sh first)"
  printf '%s' "$v"
}

VER=$(pg_bin)
BIN=/usr/lib/postgresql/$VER/bin

# Runs a PostgreSQL binary as the postgres user (initdb and postgres refuse to run as root).
as_postgres() {
  if [ "$(id -un)" = postgres ]; then "$@"; else "${SUDO[@]}" runuser -u postgres -- "$@"; fi
}

ensure_hypopg() {
  if [ ! -f "/usr/share/postgresql/$VER/extension/hypopg.control" ]; then
    log "apt-get install postgresql-$VER-hypopg"
    "${SUDO[@]}" flock /tmp/apt.lock env DEBIAN_FRONTEND=noninteractive \
      apt-get install -y -q --no-install-recommends "postgresql-$VER-hypopg" >&2 || {
      "${SUDO[@]}" flock /tmp/apt.lock apt-get update -q >&2
      "${SUDO[@]}" flock /tmp/apt.lock env DEBIAN_FRONTEND=noninteractive \
        apt-get install -y -q --no-install-recommends "postgresql-$VER-hypopg" >&2
    }
  fi
}

ready() { "$BIN/pg_isready" -q -h 127.0.0.1 -p "$PORT" -t 1; }

start() {
  ensure_hypopg
  if ! ready; then
    if [ ! -f "$DIR/PG_VERSION" ]; then
      log "initdb $DIR (PostgreSQL $VER, port $PORT)"
      "${SUDO[@]}" mkdir -p "$DIR"
      "${SUDO[@]}" chown postgres:postgres "$DIR"
      "${SUDO[@]}" chmod 700 "$DIR"
      as_postgres "$BIN/initdb" -D "$DIR" -U postgres --auth=trust -E UTF8 --locale=C.UTF-8 >/dev/null
      as_postgres tee -a "$DIR/postgresql.conf" >/dev/null <<CONF
# venturegate stage-28 test cluster
listen_addresses = '127.0.0.1'
port = $PORT
unix_socket_directories = '$DIR'
shared_preload_libraries = 'pg_stat_statements'
pg_stat_statements.track = top
max_connections = 60
shared_buffers = 64MB
fsync = off
synchronous_commit = off
full_page_writes = off
CONF
    fi
    log "starting the stage-28 PostgreSQL on 127.0.0.1:$PORT"
    as_postgres "$BIN/pg_ctl" -D "$DIR" -l "$DIR/server.log" -w -t 60 start >/dev/null ||
      die "the stage-28 PostgreSQL did not start (see $DIR/server.log)"
  fi
  if [ "$(psql_q postgres "select 1 from pg_database where datname = '$DB'")" != 1 ]; then
    psql_q postgres "create database $DB" >/dev/null
  fi
  echo "$URL"
}

psql_q() { PGCONNECT_TIMEOUT=5 psql -X -w -q -tA -h 127.0.0.1 -p "$PORT" -U postgres -d "$1" -c "$2"; }

stop() {
  if [ -f "$DIR/postmaster.pid" ]; then
    as_postgres "$BIN/pg_ctl" -D "$DIR" -m fast -w stop >/dev/null
    log "stopped the stage-28 PostgreSQL on port $PORT"
  fi
}

case "${1:-start}" in
  start) start ;;
  stop) stop ;;
  url) echo "$URL" ;;
  *) die "usage: $0 [start|stop|url]" ;;
esac
