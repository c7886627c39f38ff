#!/usr/bin/env bash
# The browser tests (Playwright + Debian's Chromium) against a server of their own on a fresh
# database, with live traffic and the seed's enrichment node running, then the broker outage
# drill against the same server. `make test` runs it after the Rust tests; alone, with the
# test stack up (`scripts/stack.sh up test`):
#
#   scripts/e2e.sh [target-dir] [playwright args, e.g. tests/standards.spec.ts]
set -euo pipefail
cd "$(dirname "$0")/.."
target_dir=${1:-${CARGO_TARGET_DIR:-target}}
shift || true
step() { printf '\n==> %s\n' "$*"; }
# shellcheck disable=SC1091
source .data/test/env

server_pid=
traffic_pid=
node_pids=()
cleanup() {
  for pid in "${node_pids[@]}"; do kill -TERM "$pid" 2>/dev/null || true; wait "$pid" 2>/dev/null || true; done
  if [ -n "$traffic_pid" ]; then kill -TERM "$traffic_pid" 2>/dev/null || true; wait "$traffic_pid" 2>/dev/null || true; fi
  if [ -n "$server_pid" ]; then kill -TERM "$server_pid" 2>/dev/null || true; wait "$server_pid" 2>/dev/null || true; fi
}
trap cleanup EXIT

e2e_db=meshmart_e2e
e2e_url="${DATABASE_URL%/*}/$e2e_db"
psql "${DATABASE_URL}" -q -c "set client_min_messages = warning" -c "drop database if exists $e2e_db with (force)" -c "create database $e2e_db"
export MESHMART__SERVER__PORT=3100
export MESHMART__SEARCH__INDEX_DIR=.data/test/e2e-search
rm -rf "$MESHMART__SEARCH__INDEX_DIR"
DATABASE_URL="$e2e_url" "$target_dir/debug/meshmart" migrate >/dev/null
DATABASE_URL="$e2e_url" "$target_dir/debug/meshmart" seed-demo >/dev/null
# A 2,000-node observed lineage downstream of customer-signed-up (lineage.spec.ts).
DATABASE_URL="$e2e_url" "$target_dir/debug/meshmart" seed-demo --lineage-nodes 2000 >/dev/null
# A crash of this server leaves a core file (./core, as the kernel's core_pattern has it
# here) whose backtrace the drill's failure prints: one segfault in about 25 drills was seen
# during a broker restart, with nothing in the log.
(ulimit -c unlimited 2>/dev/null || true; rm -f core
  DATABASE_URL="$e2e_url" exec "$target_dir/debug/meshmart" serve >.data/test/e2e-server.log 2>&1) &
server_pid=$!
for _ in $(seq 1 100); do
  curl -fsS -o /dev/null "http://127.0.0.1:3100/healthz" 2>/dev/null && break
  sleep 0.2
done
# Live streams for the Health section's tests, as `make run` has them.
DATABASE_URL="$e2e_url" "$target_dir/debug/meshmart" traffic --products customer-signed-up --rate 5 \
  >.data/test/e2e-traffic.log 2>&1 &
traffic_pid=$!
# The seed's enrichment node as two processes, for the processor page's tests.
for instance in 0 1; do
  DATABASE_URL="$e2e_url" "$target_dir/debug/meshmart" node run customer-enrichment --instance "$instance" \
    >".data/test/e2e-node-$instance.log" 2>&1 &
  node_pids+=($!)
done
(cd end2end && MESHMART_E2E_URL=http://127.0.0.1:3100 MESHMART_E2E_DATABASE_URL="$e2e_url" npx playwright test "$@") || {
  # The failures again, last, where a log's tail shows them (the list reporter prints each
  # failure's attachments after its error).
  node end2end/failures.js end2end/test-results/report.json || true
  exit 1
}

# Only on a whole run, and only with a broker this stack started (it restarts it).
if [ $# -eq 0 ] && grep -qx kafka .data/test/started 2>/dev/null; then
  step "broker outage drill (/readyz names the broker, recovers after restart)"
  scripts/broker-outage-drill.sh http://127.0.0.1:3100 || {
    if [[ -f core ]] && command -v gdb >/dev/null; then
      gdb -batch -ex "thread apply all bt 25" "$target_dir/debug/meshmart" core 2>/dev/null | tail -150
    fi
    exit 1
  }
fi

