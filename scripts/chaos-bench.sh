#!/usr/bin/env bash
# The fault suite of self-healing channels (issue 17), as `make bench` runs it: a stack of
# its own — a broker on its own ports (the suite stops it for broker-unreachable), a
# database of its own on the running PostgreSQL (`chaos_bench`), the demo seed, a server
# with its incident detector, and the seed's enrichment node restarted whenever it exits
# (as `make run` does) — then `meshmart chaos` over every scenario (or those given), which
# prints one row per scenario and the summary against the issue's targets.
#
#   scripts/chaos-bench.sh BIN [CHAOS ARGUMENTS...]     e.g. scripts/chaos-bench.sh BIN clean
# Environment: DATABASE_URL (any database of the PostgreSQL to use), CHAOS_DIR (default
# .data/test/chaos), CHAOS_PORT (the server's, default 3196), CHAOS_KAFKA_PORT (default
# 19392; its controller the next port). The results are also written as JSON to
# $CHAOS_DIR/results.json; the harness's progress goes to standard error.
set -euo pipefail
cd "$(dirname "$0")/.."
bin=${1:?usage: chaos-bench.sh BIN [CHAOS ARGUMENTS...]}
shift
dir=${CHAOS_DIR:-.data/test/chaos}
port=${CHAOS_PORT:-3196}
kafka_port=${CHAOS_KAFKA_PORT:-19392}
controller_port=$((kafka_port + 1))
say() { printf '[chaos-bench] %s\n' "$*" >&2; }

mkdir -p "$dir"
rm -f "$dir"/*.log "$dir/results.json"
kafka_env="KAFKA_DATA=$dir/kafka KAFKA_PORT=$kafka_port KAFKA_CONTROLLER_PORT=$controller_port"
kafka() { env KAFKA_DATA="$dir/kafka" KAFKA_PORT="$kafka_port" KAFKA_CONTROLLER_PORT="$controller_port" scripts/kafka.sh "$@"; }

server=
node_loop=
cleanup() {
  if [[ -n $node_loop ]]; then
    pkill -TERM -P "$node_loop" 2>/dev/null || true
    kill -TERM "$node_loop" 2>/dev/null || true
  fi
  [[ -z $server ]] || kill -TERM "$server" 2>/dev/null || true
  for pid in $node_loop $server; do wait "$pid" 2>/dev/null || true; done
  # A node the harness had to start itself (nothing else restarted it) outlives it.
  if [[ -n ${DATABASE_URL:-} ]]; then
    for pid in $(psql "$DATABASE_URL" -At -c "select pid from node_instances where host = '$(cat /etc/hostname 2>/dev/null || echo localhost)'" 2>/dev/null); do
      grep -qz "customer-enrichment" "/proc/$pid/cmdline" 2>/dev/null && kill -TERM "$pid" 2>/dev/null || true
    done
  fi
  kafka stop >/dev/null 2>&1 || true
}
trap cleanup EXIT

kafka start >/dev/null
export KAFKA_BOOTSTRAP_SERVERS=127.0.0.1:$kafka_port
psql "$DATABASE_URL" -q -c "set client_min_messages = warning" \
  -c "drop database if exists chaos_bench with (force)" -c "create database chaos_bench"
export DATABASE_URL="${DATABASE_URL%/*}/chaos_bench"
export MESHMART__SEARCH__INDEX_DIR=$dir/search MESHMART__SERVER__PORT=$port
rm -rf "$MESHMART__SEARCH__INDEX_DIR"
"$bin" migrate >/dev/null
"$bin" seed-demo >/dev/null

"$bin" serve >"$dir/serve.log" 2>&1 &
server=$!
# The outbox creates the topics, credentials and ACLs of the demo.
for _ in $(seq 1 300); do
  [[ $(psql "$DATABASE_URL" -At -c "select count(*) from outbox where done_at is null") == 0 ]] && break
  sleep 0.5
done
[[ $(psql "$DATABASE_URL" -At -c "select count(*) from outbox where done_at is null") == 0 ]] ||
  { say "FAILED: the outbox did not drain; see $dir/serve.log"; exit 1; }

# The seed's enrichment node, restarted 2 s after it exits, as `make run` supervises it.
(
  while true; do
    "$bin" node run customer-enrichment >>"$dir/node.log" 2>&1 && exit 0
    sleep 2
  done
) &
node_loop=$!
for _ in $(seq 1 120); do
  [[ $(psql "$DATABASE_URL" -At -c "select count(*) from node_instances where state = 'running' and heartbeat_at > now() - interval '10 seconds'") -gt 0 ]] && break
  sleep 0.5
done
say "stack up: broker 127.0.0.1:$kafka_port, database chaos_bench, server :$port, node customer-enrichment"

# The harness's own log lines would share standard output with the table: keep them out.
RUST_LOG=off "$bin" chaos --out "$dir/results.json" \
  --broker-stop "$kafka_env scripts/kafka.sh stop" \
  --broker-start "$kafka_env scripts/kafka.sh start" "$@"
