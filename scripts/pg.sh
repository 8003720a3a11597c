#!/usr/bin/env bash
# A throwaway PostgreSQL server for tests and benchmarks, from Debian's `postgresql` package.
#   scripts/pg.sh start DIR PORT   initialise a cluster in DIR (unless there is one), start it on
#                                  127.0.0.1:PORT, create the database `bakeoff`, print its URL
#   scripts/pg.sh stop DIR         stop it (DIR stays; rm -rf it to forget the data)
# Made for speed, not safety: fsync off, trust authentication (127.0.0.1, and the unix socket in
# DIR, which only DIR's owner can reach). Postgres refuses to run as root: as root, the server
# runs as the `postgres` user (DIR is given to it); as anyone else, as that user. The superuser
# is `postgres` either way.
set -euo pipefail

log() { echo "[pg] $*" >&2; }
die() { log "$2"; exit "$1"; }
usage() { die 64 "usage: $0 start DIR PORT | stop DIR"; }

# Debian puts the server binaries in /usr/lib/postgresql/VERSION/bin (not on PATH): the newest.
bindir() {
  local d
  d=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1 || true)
  if [ -z "$d" ] && command -v pg_ctl >/dev/null; then d=$(dirname "$(readlink -f "$(command -v pg_ctl)")"); fi
  [ -n "$d" ] && [ -x "$d/initdb" ] && [ -x "$d/pg_ctl" ] ||
    die 2 "PostgreSQL is not installed: install the \`postgresql\` package (apt-get install postgresql)"
  echo "$d"
}

# Run a server binary as the cluster's owner: `postgres` when we are root (from /, which it can
# read), else ourselves.
as_owner() {
  if [ "$(id -u)" -eq 0 ]; then (cd / && runuser -u postgres -- "$@"); else "$@"; fi
}

# DIR as an absolute path, created; as root, given to `postgres`, who must be able to reach it.
# A DIR that is neither empty nor a cluster is left alone.
prepare_dir() {
  mkdir -p "$1"
  DIR=$(cd "$1" && pwd)
  if [ ! -f "$DIR/PG_VERSION" ] && [ -n "$(ls -A "$DIR")" ]; then
    die 1 "$DIR is neither empty nor a cluster: choose another DIR"
  fi
  if [ "$(id -u)" -eq 0 ]; then
    id postgres >/dev/null 2>&1 || die 2 "no \`postgres\` user to run the server as: install the \`postgresql\` package"
    (cd / && runuser -u postgres -- test -x "$(dirname "$DIR")") ||
      die 1 "the postgres user cannot reach $DIR: make its parent directories searchable (chmod o+x) or choose a DIR under /tmp"
    chown postgres: "$DIR"
  fi
  chmod 700 "$DIR"
}

start() {
  local port=$1 bin out
  [[ "$port" =~ ^[0-9]+$ ]] || usage
  bin=$(bindir)
  prepare_dir "$DIR"
  if [ ! -f "$DIR/PG_VERSION" ]; then
    log "initdb in $DIR ($("$bin/postgres" --version))"
    out=$(as_owner "$bin/initdb" -D "$DIR" -U postgres --auth=trust --encoding=UTF8 --locale=C --no-sync 2>&1) ||
      { echo "$out" >&2; die 1 "initdb failed"; }
    # Only this machine, no password: a cluster for tests.
    printf '%s\n' "local all all trust" "host all all 127.0.0.1/32 trust" >"$DIR/pg_hba.conf"
    chown --reference="$DIR/PG_VERSION" "$DIR/pg_hba.conf"
  fi
  if as_owner "$bin/pg_ctl" -D "$DIR" status >/dev/null 2>&1; then
    local running
    running=$(sed -n 4p "$DIR/postmaster.pid")
    [ "$running" = "$port" ] || die 1 "already running in $DIR on port $running: stop it first to change the port"
    log "already running in $DIR"
  else
    # The settings live in postgresql.auto.conf, written at every start (the port may change).
    cat >"$DIR/postgresql.auto.conf" <<EOF
listen_addresses = '127.0.0.1'
port = $port
unix_socket_directories = '$DIR'
max_connections = 200
fsync = off
synchronous_commit = off
full_page_writes = off
EOF
    chown --reference="$DIR/PG_VERSION" "$DIR/postgresql.auto.conf"
    as_owner "$bin/pg_ctl" -D "$DIR" -l "$DIR/server.log" -w -t 60 start >/dev/null ||
      { tail -n 20 "$DIR/server.log" >&2 || true; die 1 "the server did not start (port $port taken?): see $DIR/server.log"; }
  fi
  local psql=("$bin/psql" -h 127.0.0.1 -p "$port" -U postgres -X -q -v ON_ERROR_STOP=1)
  if [ -z "$(as_owner "${psql[@]}" -d postgres -tAc "SELECT 1 FROM pg_database WHERE datname = 'bakeoff'")" ]; then
    as_owner "${psql[@]}" -d postgres -c "CREATE DATABASE bakeoff"
  fi
  echo "postgres://postgres@127.0.0.1:$port/bakeoff"
}

stop() {
  local bin
  bin=$(bindir)
  [ -f "$DIR/PG_VERSION" ] || die 1 "$DIR holds no cluster"
  if as_owner "$bin/pg_ctl" -D "$DIR" status >/dev/null 2>&1; then
    as_owner "$bin/pg_ctl" -D "$DIR" -m fast -w stop >/dev/null
    log "stopped ($DIR)"
  else
    log "not running ($DIR)"
  fi
}

case "${1:-}" in
  start) [ $# -eq 3 ] || usage; DIR=$2; start "$3" ;;
  stop) [ $# -eq 2 ] || usage; DIR=$2; stop ;;
  *) usage ;;
esac
