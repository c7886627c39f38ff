#!/usr/bin/env bash
# Local backing services for Meshmart: PostgreSQL 15 and Apache Kafka (KRaft,
# SASL + ACLs), one isolated set per profile.
#
#   scripts/stack.sh up|down|env PROFILE      PROFILE: run | test
#
#   profile  data              postgres  kafka  kafka controller
#   run      .data/run/        54329     19092  19093
#   test     .data/test/       54339     19192  19193
#
# up    starts PostgreSQL (unless DATABASE_URL is set) and Kafka (unless
#       KAFKA_BOOTSTRAP_SERVERS is set) and writes .data/PROFILE/env;
#       use it with: eval "$(scripts/stack.sh env run)"
# env   prints .data/PROFILE/env
# down  stops the services `up` started for PROFILE (never external ones)
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
repo=$(cd "$here/.." && pwd)

log() { printf '[stack] %s\n' "$*" || true; }
die() { printf '[stack] error: %s\n' "$*" >&2; exit 1; }

usage() {
  echo "usage: $0 up|down|env run|test" >&2
  exit 2
}

[[ $# -eq 2 ]] || usage
action=$1
profile=$2
case $profile in
  run) pg_port=54329 kafka_port=19092 controller_port=19093 ;;
  test) pg_port=54339 kafka_port=19192 controller_port=19193 ;;
  *) usage ;;
esac

dir=$repo/.data/$profile
env_file=$dir/env
# Services started by `up` for this profile, one name per line.
state_file=$dir/started

mark_started() {
  mkdir -p "$dir"
  grep -qx "$1" "$state_file" 2>/dev/null || echo "$1" >>"$state_file"
}

was_started() { grep -qx "$1" "$state_file" 2>/dev/null; }

pg() { PG_DATA=$dir/pg PG_PORT=$pg_port "$here/pg.sh" "$@"; }

kafka() {
  KAFKA_DATA=$dir/kafka KAFKA_PORT=$kafka_port KAFKA_CONTROLLER_PORT=$controller_port \
    "$here/kafka.sh" "$@"
}

cmd_up() {
  mkdir -p "$dir"
  local database_url bootstrap
  if [[ -n ${DATABASE_URL:-} ]]; then
    log "$profile: DATABASE_URL is set; not starting a local PostgreSQL"
    database_url=$DATABASE_URL
  else
    mark_started pg # before starting, so `down` cleans up after a failed start
    pg start
    database_url=postgres://postgres@127.0.0.1:$pg_port/meshmart
  fi
  if [[ -n ${KAFKA_BOOTSTRAP_SERVERS:-} ]]; then
    log "$profile: KAFKA_BOOTSTRAP_SERVERS is set; not starting a local Kafka"
    bootstrap=$KAFKA_BOOTSTRAP_SERVERS
  else
    mark_started kafka
    kafka start
    bootstrap=127.0.0.1:$kafka_port
  fi
  {
    printf 'export DATABASE_URL=%q\n' "$database_url"
    printf 'export KAFKA_BOOTSTRAP_SERVERS=%q\n' "$bootstrap"
  } >"$env_file.tmp"
  mv "$env_file.tmp" "$env_file"
  log "$profile: up; environment in $env_file"
}

cmd_down() {
  if [[ ! -f $state_file ]]; then
    log "$profile: nothing started by up"
    return 0
  fi
  # Kafka first: it holds no state in PostgreSQL, but clients may.
  if was_started kafka; then kafka stop; fi
  if was_started pg; then pg stop; fi
  rm -f "$state_file"
  log "$profile: down"
}

cmd_env() {
  [[ -f $env_file ]] || die "$env_file not found; run: $0 up $profile"
  cat "$env_file"
}

case $action in
  up) cmd_up ;;
  down) cmd_down ;;
  env) cmd_env ;;
  *) usage ;;
esac
