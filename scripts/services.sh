#!/usr/bin/env bash
# Installs (from Debian's packages) and starts what the tests need, when it is
# not already there: PostgreSQL on 127.0.0.1:5432 with the venturegate_test
# database, Redis on 127.0.0.1:6379, the haproxy binary (not started: the
# tests start their own instances) and Chromium for the dashboard's browser test
# (/usr/bin/chromium, driven headless by Playwright). Idempotent; does nothing
# slow when all is up.
set -euo pipefail

PG_HOST=127.0.0.1
PG_PORT=5432
PG_USER=postgres
PG_DB=venturegate_test
REDIS_PORT=6379
TEST_URL="postgresql+psycopg://${PG_USER}@${PG_HOST}:${PG_PORT}/${PG_DB}"

log() { printf '==> %s\n' "$*"; }
die() { printf 'error: %s\n' "$*" >&2; exit 1; }

if [ "$(id -u)" -eq 0 ]; then
  SUDO=()
elif command -v sudo >/dev/null 2>&1; then
  SUDO=(sudo)
else
  die "not root and no sudo: cannot install or start services"
fi

APT_UPDATED=0
apt_install() {
  command -v apt-get >/dev/null 2>&1 || die "apt-get not found: install $* by hand"
  if [ "$APT_UPDATED" -eq 0 ]; then
    log "apt-get update"
    "${SUDO[@]}" apt-get update -q
    APT_UPDATED=1
  fi
  log "apt-get install $*"
  "${SUDO[@]}" env DEBIAN_FRONTEND=noninteractive \
    apt-get install -y -q --no-install-recommends "$@"
}

# Waits up to $1 seconds for the command that follows to succeed.
wait_for() {
  local seconds=$1; shift
  local i
  for ((i = 0; i < seconds * 4; i++)); do
    if "$@" >/dev/null 2>&1; then return 0; fi
    sleep 0.25
  done
  return 1
}

psql_tcp() {
  PGCONNECT_TIMEOUT=5 psql -X -w -q -v ON_ERROR_STOP=1 \
    -h "$PG_HOST" -p "$PG_PORT" -U "$PG_USER" "$@"
}

# ---------------------------------------------------------------- PostgreSQL
pg_server_installed() {
  command -v pg_ctlcluster >/dev/null 2>&1 &&
    command -v psql >/dev/null 2>&1 &&
    compgen -G '/usr/lib/postgresql/*/bin/postgres' >/dev/null
}

pg_ready() { pg_isready -q -h "$PG_HOST" -p "$PG_PORT" -t 2; }

pg_login_ok() { psql_tcp -d postgres -tAc 'select 1' >/dev/null 2>&1; }

# Version of the cluster to use: the one on port 5432, else the newest server.
pg_version() {
  local v
  v=$({ pg_lsclusters -h 2>/dev/null || true; } |
    awk -v port="$PG_PORT" '$2 == "main" && $3 == port { print $1 }' | sort -V | tail -n 1)
  if [ -z "$v" ]; then
    v=$({ find /usr/lib/postgresql -mindepth 1 -maxdepth 1 -printf '%f\n' 2>/dev/null || true; } |
      sort -V | tail -n 1)
  fi
  printf '%s' "$v"
}

# Lets role postgres in over TCP from loopback without a password.
pg_trust_loopback() {
  local ver=$1 hba marker='# venturegate tests: trust role postgres on loopback'
  hba=/etc/postgresql/$ver/main/pg_hba.conf
  [ -f "$hba" ] || die "$hba not found"
  if ! "${SUDO[@]}" grep -qF "$marker" "$hba"; then
    log "Allowing role $PG_USER on 127.0.0.1 and ::1 without password ($hba)"
    local tmp
    tmp=$(mktemp)
    {
      echo "$marker"
      echo "host    all    $PG_USER    127.0.0.1/32    trust"
      echo "host    all    $PG_USER    ::1/128         trust"
      "${SUDO[@]}" cat "$hba"
    } >"$tmp"
    "${SUDO[@]}" cp "$tmp" "$hba"
    rm -f "$tmp"
  fi
  "${SUDO[@]}" pg_ctlcluster --skip-systemctl-redirect "$ver" main reload
  wait_for 10 pg_login_ok
}

ensure_postgres() {
  if pg_ready && pg_login_ok; then
    log "PostgreSQL is running on $PG_HOST:$PG_PORT"
  else
    if ! pg_server_installed; then
      apt_install postgresql
    fi
    local ver
    ver=$(pg_version)
    [ -n "$ver" ] || die "no PostgreSQL server version found under /usr/lib/postgresql"
    if [ ! -d "/etc/postgresql/$ver/main" ]; then
      log "Creating PostgreSQL $ver cluster 'main' on port $PG_PORT"
      "${SUDO[@]}" pg_createcluster --port "$PG_PORT" "$ver" main
    fi
    if ! pg_ready; then
      log "Starting PostgreSQL $ver (cluster main)"
      "${SUDO[@]}" pg_ctlcluster --skip-systemctl-redirect "$ver" main start ||
        pg_ready || die "PostgreSQL $ver did not start (see /var/log/postgresql/)"
      wait_for 30 pg_ready || die "PostgreSQL is not accepting connections on $PG_HOST:$PG_PORT"
    fi
    if ! pg_login_ok; then
      pg_trust_loopback "$ver" ||
        die "cannot log in as $PG_USER on $PG_HOST:$PG_PORT: check pg_hba.conf"
    fi
    log "PostgreSQL $ver is running on $PG_HOST:$PG_PORT"
  fi

  if [ "$(psql_tcp -d postgres -tAc "select 1 from pg_database where datname = '$PG_DB'")" != 1 ]; then
    log "Creating database $PG_DB (owner $PG_USER)"
    psql_tcp -d postgres -c "create database $PG_DB owner $PG_USER"
  fi
}

# --------------------------------------------------------------------- Redis
redis_ready() {
  if command -v redis-cli >/dev/null 2>&1; then
    [ "$(redis-cli -h 127.0.0.1 -p "$REDIS_PORT" ping 2>/dev/null)" = PONG ]
  else
    # Speaks RESP directly when redis-cli (redis-tools) is absent.
    local reply
    exec 3<>"/dev/tcp/127.0.0.1/$REDIS_PORT" || return 1
    printf 'PING\r\n' >&3
    IFS= read -r -t 2 reply <&3 || true
    exec 3>&-
    [ "${reply%$'\r'}" = "+PONG" ]
  fi
}

ensure_redis() {
  if redis_ready; then
    log "Redis is running on 127.0.0.1:$REDIS_PORT"
    return
  fi
  if ! command -v redis-server >/dev/null 2>&1; then
    apt_install redis-server
    # The package may have started its own server already.
    if wait_for 5 redis_ready; then
      log "Redis is running on 127.0.0.1:$REDIS_PORT"
      return
    fi
  fi
  log "Starting Redis on 127.0.0.1:$REDIS_PORT"
  "${SUDO[@]}" redis-server --daemonize yes --bind 127.0.0.1 -::1 --port "$REDIS_PORT" \
    --save "" --appendonly no
  wait_for 15 redis_ready || die "Redis is not answering on 127.0.0.1:$REDIS_PORT"
  log "Redis is running on 127.0.0.1:$REDIS_PORT"
}

# ------------------------------------------------------------------- HAProxy
ensure_haproxy() {
  if ! command -v haproxy >/dev/null 2>&1; then
    apt_install haproxy
  fi
  command -v haproxy >/dev/null 2>&1 || die "haproxy is still not on PATH after installing it"
  log "HAProxy is installed: $(haproxy -v 2>/dev/null | head -n 1) (the tests start their own)"
}

# ------------------------------------------------------------------ Chromium
CHROMIUM=/usr/bin/chromium

ensure_chromium() {
  if [ ! -x "$CHROMIUM" ]; then
    apt_install chromium
  fi
  [ -x "$CHROMIUM" ] || die "$CHROMIUM is still missing after installing chromium"
  log "Chromium is installed: $("$CHROMIUM" --version 2>/dev/null | head -n 1) (the browser test drives it headless)"
}

# ------------------------------------------------------------------- Stage 28
# The stage-28 crew needs pg_stat_statements preloaded and hypopg: a throwaway cluster on its own port
# (scripts/pg-stage28.sh), so the machine's server on 5432 is never reconfigured.
ensure_stage28_postgres() {
  local url
  url=$(bash "$(dirname "$0")/pg-stage28.sh" start)
  log "Stage-28 PostgreSQL (pg_stat_statements, hypopg) is running: $url"
}

# `services.sh stage28` installs and starts only what the stage-28 demo scene needs.
if [ "${1:-}" = "stage28" ]; then
  pg_server_installed || apt_install postgresql
  command -v redis-server >/dev/null 2>&1 || apt_install redis-server
  ensure_stage28_postgres
  exit 0
fi

# `services.sh haproxy` installs only HAProxy (what `make demo` needs for its stage-30 deployment).
if [ "${1:-}" = "haproxy" ]; then
  ensure_haproxy
  exit 0
fi

ensure_postgres
ensure_redis
ensure_haproxy
ensure_chromium
ensure_stage28_postgres
log "Services ready. Test database URL:"
echo "VENTUREGATE_TEST_POSTGRES_URL=$TEST_URL"
