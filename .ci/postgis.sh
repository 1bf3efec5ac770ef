#!/usr/bin/env bash
# Start a throwaway PostGIS server for the storage tests and print its URL (last line of stdout).
#
#   url=$(bash .ci/postgis.sh)     # installs Debian's postgresql + postgresql-15-postgis-3 if missing,
#                                  # starts a cluster on 127.0.0.1 (a free port, trust auth, loopback
#                                  # only), creates database planner_test with the postgis extension
#   bash .ci/postgis.sh stop       # stop it
#
# The cluster lives in $PLANNER_PG_DIR (default /tmp/planner-pg); a second run reuses a running
# server. Not for production: a team's server is set up as README.md says
# (section "A team's PostGIS").
set -euo pipefail

DIR=${PLANNER_PG_DIR:-/tmp/planner-pg}
DB=planner_test
PY=${PYTHON:-python3}

log() { echo "postgis.sh: $*" >&2; }

need_apt() {  # install Debian packages that are missing (needs root or sudo)
  local missing=()
  for pkg in "$@"; do dpkg -s "$pkg" >/dev/null 2>&1 || missing+=("$pkg"); done
  [ ${#missing[@]} -eq 0 ] && return 0
  local sudo=""
  [ "$(id -u)" -eq 0 ] || sudo="sudo"
  $sudo apt-get update -qq >&2
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >&2
}

as_pg() {  # the server refuses to run as root: run as the postgres user then
  if [ "$(id -u)" -eq 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi
}

bindir() { ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1; }

if [ "${1:-}" = stop ]; then
  BIN=$(bindir)
  [ -n "$BIN" ] && [ -f "$DIR/data/postmaster.pid" ] && as_pg "$BIN/pg_ctl" -D "$DIR/data" -m fast stop >&2
  exit 0
fi

need_apt postgresql postgresql-15-postgis-3
BIN=$(bindir)
[ -x "$BIN/pg_ctl" ] || { log "no PostgreSQL binaries under /usr/lib/postgresql"; exit 1; }

mkdir -p "$DIR"
[ "$(id -u)" -eq 0 ] && chown postgres:postgres "$DIR"
if [ ! -f "$DIR/data/PG_VERSION" ]; then
  log "initdb $DIR/data"
  as_pg "$BIN/initdb" -D "$DIR/data" -U postgres --auth=trust -E UTF8 --no-locale >/dev/null
fi

if as_pg "$BIN/pg_ctl" -D "$DIR/data" status >/dev/null 2>&1 && [ -f "$DIR/port" ]; then
  PORT=$(cat "$DIR/port")
  log "reusing the server on 127.0.0.1:$PORT"
else
  PORT=$($PY -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
  echo "$PORT" >"$DIR/port"
  log "starting the server on 127.0.0.1:$PORT"
  as_pg "$BIN/pg_ctl" -D "$DIR/data" -l "$DIR/server.log" -w -t 60 \
    -o "-p $PORT -c listen_addresses=127.0.0.1 -k $DIR -c fsync=off -c max_connections=200" start >&2
fi

PSQL=("$BIN/psql" -h 127.0.0.1 -p "$PORT" -U postgres -v ON_ERROR_STOP=1 -qAt)
if [ "$(as_pg "${PSQL[@]}" -d postgres -c "SELECT count(*) FROM pg_database WHERE datname = '$DB'")" = 0 ]; then
  as_pg "${PSQL[@]}" -d postgres -c "CREATE DATABASE $DB" >&2
fi
as_pg "${PSQL[@]}" -d "$DB" -c "SET client_min_messages = warning; CREATE EXTENSION IF NOT EXISTS postgis" >&2
log "PostGIS $(as_pg "${PSQL[@]}" -d "$DB" -c 'SELECT postgis_lib_version()') ready"
echo "postgresql://postgres@127.0.0.1:$PORT/$DB"
