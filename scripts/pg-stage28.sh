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
LABEL=stage-28

cluster_conf() {
  cat <<CONF
shared_preload_libraries = 'pg_stat_statements'
pg_stat_statements.track = top
max_connections = 60
shared_buffers = 64MB
fsync = off
synchronous_commit = off
full_page_writes = off
CONF
}

before_start() {  # hypopg, which the crew's profiler needs
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

after_start() {  # the database the tests and the demo use
  if [ "$(psql_q postgres "select 1 from pg_database where datname = '$DB'")" != 1 ]; then
    psql_q postgres "create database $DB" >/dev/null
  fi
}

# shellcheck source=scripts/_pg-cluster.sh
. "$(dirname "$0")/_pg-cluster.sh"
pg_cluster_main "$@"
