#!/usr/bin/env bash
# Project-local PostgreSQL 15 cluster built from Debian's binaries.
#
#   scripts/pg.sh start|stop|status
#
# Environment:
#   PG_DATA   data directory (default: <repo>/.data/run/pg)
#   PG_PORT   TCP port on 127.0.0.1 (default: 54329)
#   PG_BIN    PostgreSQL binaries (default: /usr/lib/postgresql/15/bin)
#   PG_START_TIMEOUT  seconds to wait for readiness (default: 30)
#
# The cluster listens on 127.0.0.1 only, keeps its Unix socket and its log
# (server.log) inside PG_DATA, trusts local connections as user `postgres`,
# and has a database `meshmart`. As root, the server runs as user `postgres`.
set -euo pipefail

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
PG_DATA=${PG_DATA:-$repo/.data/run/pg}
PG_PORT=${PG_PORT:-54329}
PG_BIN=${PG_BIN:-/usr/lib/postgresql/15/bin}
PG_START_TIMEOUT=${PG_START_TIMEOUT:-30}
PG_DB=meshmart
PG_LOG=$PG_DATA/server.log

log() { printf '[stack] pg: %s\n' "$*" || true; }
die() { printf '[stack] pg: error: %s\n' "$*" >&2; exit 1; }

usage() {
  echo "usage: $0 start|stop|status  (env: PG_DATA, PG_PORT)" >&2
  exit 2
}

is_root() { [[ $(id -u) -eq 0 ]]; }

# Run a server-side command as the cluster owner (root may not run postgres).
as_owner() {
  if is_root; then
    runuser -u postgres -- "$@"
  else
    "$@"
  fi
}

ensure_binaries() {
  [[ -x $PG_BIN/pg_ctl && -x $PG_BIN/initdb && -x $PG_BIN/pg_isready && -x $PG_BIN/psql ]] && return 0
  if ! is_root; then
    die "PostgreSQL 15 binaries not found in $PG_BIN; install them with: sudo apt-get install -y postgresql (Debian 12)"
  fi
  log "PostgreSQL binaries missing in $PG_BIN; installing Debian package postgresql"
  if ! apt-cache show postgresql >/dev/null 2>&1; then
    apt-get update -q
  fi
  DEBIAN_FRONTEND=noninteractive apt-get install -y -q postgresql
  [[ -x $PG_BIN/pg_ctl ]] || die "apt-get installed postgresql but $PG_BIN/pg_ctl is still missing (not version 15?); set PG_BIN"
}

ensure_owner_account() {
  is_root || return 0
  if ! id -u postgres >/dev/null 2>&1; then
    log "creating system user postgres"
    useradd --system --home-dir /var/lib/postgresql --shell /bin/bash postgres
  fi
}

# As root, the server runs as `postgres`: every parent of PG_DATA must be
# traversable (o+x) for it.
ensure_traversable() {
  is_root || return 0
  local dir parents=()
  dir=$(dirname "$PG_DATA")
  while [[ $dir != / ]]; do
    parents=("$dir" "${parents[@]}")
    dir=$(dirname "$dir")
  done
  for dir in "${parents[@]}"; do # top-down, so each test sees fixed parents
    if ! runuser -u postgres -- test -x "$dir"; then
      log "making $dir traversable for user postgres (chmod o+x)"
      chmod o+x "$dir"
    fi
  done
}

is_running() {
  [[ -f $PG_DATA/PG_VERSION ]] || return 1
  as_owner "$PG_BIN/pg_ctl" status -D "$PG_DATA" >/dev/null 2>&1
}

port_in_use() {
  (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null
}

prepare_data_dir() {
  mkdir -p "$PG_DATA"
  PG_DATA=$(cd "$PG_DATA" && pwd)
  PG_LOG=$PG_DATA/server.log
}

init_cluster() {
  if [[ -f $PG_DATA/PG_VERSION ]]; then
    return 0
  fi
  if [[ -n $(ls -A "$PG_DATA") ]]; then
    die "$PG_DATA is not empty and holds no cluster; empty it or choose another PG_DATA"
  fi
  if is_root; then
    chown postgres:postgres "$PG_DATA"
  fi
  chmod 700 "$PG_DATA"
  local locale=C
  if grep -qix 'c\.utf-\?8' < <(locale -a 2>/dev/null); then
    locale=C.UTF-8
  fi
  log "initializing cluster in $PG_DATA (UTF8, locale $locale)"
  local out
  if ! out=$(as_owner "$PG_BIN/initdb" -D "$PG_DATA" -U postgres --auth=trust \
    --encoding=UTF8 --locale="$locale" 2>&1); then
    printf '%s\n' "$out" >&2
    die "initdb failed"
  fi
}

wait_ready() {
  local deadline=$((SECONDS + PG_START_TIMEOUT))
  until "$PG_BIN/pg_isready" -q -h 127.0.0.1 -p "$PG_PORT" -d postgres -U postgres; do
    if ((SECONDS >= deadline)); then
      printf '[stack] pg: not ready after %ss; last lines of %s:\n' "$PG_START_TIMEOUT" "$PG_LOG" >&2
      tail -n 30 "$PG_LOG" >&2 2>/dev/null || true
      exit 1
    fi
    sleep 0.3
  done
}

ensure_database() {
  local psql=("$PG_BIN/psql" -X -q -v ON_ERROR_STOP=1 -h 127.0.0.1 -p "$PG_PORT" -U postgres -d postgres)
  if [[ $("${psql[@]}" -tAc "SELECT 1 FROM pg_database WHERE datname = '$PG_DB'") != 1 ]]; then
    log "creating database $PG_DB"
    "${psql[@]}" -c "CREATE DATABASE $PG_DB"
  fi
}

cmd_start() {
  ensure_binaries
  ensure_owner_account
  prepare_data_dir
  ensure_traversable
  init_cluster
  if is_running; then
    local running_port
    running_port=$(sed -n 4p "$PG_DATA/postmaster.pid" 2>/dev/null || true)
    if [[ -n $running_port && $running_port != "$PG_PORT" ]]; then
      die "already running on port $running_port (PG_PORT=$PG_PORT); stop it first"
    fi
    log "already running on 127.0.0.1:$PG_PORT ($PG_DATA)"
  else
    if port_in_use "$PG_PORT"; then
      die "port 127.0.0.1:$PG_PORT is already in use by another process"
    fi
    log "starting on 127.0.0.1:$PG_PORT (data $PG_DATA, log $PG_LOG)"
    # Port, socket dir and listen address are passed on every start so that
    # a changed PG_PORT applies; the socket lives inside the data directory.
    # pg_stat_statements (in Debian's server package) is loaded so that `make bench` can
    # say which statements a page's database time goes to (read through the extension,
    # which only the bench database creates).
    local preload=""
    if [[ -f $PG_BIN/../lib/pg_stat_statements.so ]]; then
      preload="-c shared_preload_libraries=pg_stat_statements"
    fi
    as_owner "$PG_BIN/pg_ctl" start -D "$PG_DATA" -W -l "$PG_LOG" \
      -o "-p $PG_PORT -k '$PG_DATA' -c listen_addresses=127.0.0.1 $preload" >/dev/null
  fi
  wait_ready
  ensure_database
  log "ready: postgres://postgres@127.0.0.1:$PG_PORT/$PG_DB"
}

cmd_stop() {
  if [[ -x $PG_BIN/pg_ctl ]] && is_running; then
    log "stopping ($PG_DATA)"
    as_owner "$PG_BIN/pg_ctl" stop -D "$PG_DATA" -m fast -w >/dev/null
    log "stopped"
  else
    log "not running ($PG_DATA)"
  fi
}

cmd_status() {
  if [[ -x $PG_BIN/pg_ctl ]] && is_running; then
    log "running ($PG_DATA, port $(sed -n 4p "$PG_DATA/postmaster.pid"))"
  else
    log "not running ($PG_DATA)"
    exit 1
  fi
}

[[ $# -eq 1 ]] || usage
case $1 in
  start) cmd_start ;;
  stop) cmd_stop ;;
  status) cmd_status ;;
  *) usage ;;
esac
