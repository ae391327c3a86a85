# shellcheck shell=bash
# Shared by scripts/pg-bench.sh and scripts/pg-stage28.sh (sourced, not run): a throwaway PostgreSQL cluster
# on port $PORT with its own data directory $DIR (never the machine's 5432 server), trust auth on 127.0.0.1 only.
#
# The caller sets PORT, DIR, URL and LABEL ("benchmark", "stage-28": the log lines name it), defines
# `cluster_conf` (prints the postgresql.conf lines beyond address, port and socket directory), may define
# `before_start` and `after_start` hooks, then calls `pg_cluster_main "$@"` (start | stop | url).

log() { printf '==> %s\n' "$*" >&2; }
die() { printf 'error: %s\n' "$*" >&2; exit 1; }

if [ "$(id -u)" -eq 0 ]; then SUDO=(); else SUDO=(sudo); fi

VER=$({ find /usr/lib/postgresql -mindepth 1 -maxdepth 1 -printf '%f\n' 2>/dev/null || true; } | sort -V | tail -n 1)
[ -n "$VER" ] || die "no PostgreSQL server under /usr/lib/postgresql (run scripts/services.sh first)"
BIN=/usr/lib/postgresql/$VER/bin

# Runs a PostgreSQL binary as the postgres user (initdb and postgres refuse to run as root).
as_postgres() {
  if [ "$(id -un)" = postgres ]; then "$@"; else "${SUDO[@]}" runuser -u postgres -- "$@"; fi
}

ready() { "$BIN/pg_isready" -q -h 127.0.0.1 -p "$PORT" -t 1; }

psql_q() { PGCONNECT_TIMEOUT=5 psql -X -w -q -tA -h 127.0.0.1 -p "$PORT" -U postgres -d "$1" -c "$2"; }

declare -F before_start >/dev/null || before_start() { :; }
declare -F after_start >/dev/null || after_start() { :; }

pg_cluster_start() {
  before_start
  if ! ready; then
    if [ ! -f "$DIR/PG_VERSION" ]; then
      log "initdb $DIR (PostgreSQL $VER, port $PORT)"
      "${SUDO[@]}" mkdir -p "$DIR"
      "${SUDO[@]}" chown postgres:postgres "$DIR"
      "${SUDO[@]}" chmod 700 "$DIR"
      as_postgres "$BIN/initdb" -D "$DIR" -U postgres --auth=trust -E UTF8 --locale=C.UTF-8 >/dev/null
      {
        printf '# venturegate %s cluster\n' "$LABEL"
        printf "listen_addresses = '127.0.0.1'\nport = %s\nunix_socket_directories = '%s'\n" "$PORT" "$DIR"
        cluster_conf
      } | as_postgres tee -a "$DIR/postgresql.conf" >/dev/null
    fi
    log "starting the $LABEL PostgreSQL on 127.0.0.1:$PORT"
    as_postgres "$BIN/pg_ctl" -D "$DIR" -l "$DIR/server.log" -w -t 60 start >/dev/null ||
      die "the $LABEL PostgreSQL did not start (see $DIR/server.log)"
  fi
  after_start
  echo "$URL"
}

pg_cluster_stop() {
  if [ -f "$DIR/postmaster.pid" ]; then
    as_postgres "$BIN/pg_ctl" -D "$DIR" -m fast -w stop >/dev/null
    log "stopped the $LABEL PostgreSQL on port $PORT"
  fi
}

pg_cluster_main() {
  case "${1:-start}" in
    start) pg_cluster_start ;;
    stop) pg_cluster_stop ;;
    url) echo "$URL" ;;
    *) die "usage: $0 [start|stop|url]" ;;
  esac
}
