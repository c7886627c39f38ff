#!/usr/bin/env bash
# `make test`: every check, in the order a reviewer would want them to fail — format, lints
# (server and wasm), the site build, then unit and integration tests against a real
# PostgreSQL and a real Apache Kafka broker (the `test` stack, separate from `make run`'s),
# then the browser tests in Debian's Chromium against a running server.
set -euo pipefail
cd "$(dirname "$0")/.."

export CARGO_TERM_COLOR=${CARGO_TERM_COLOR:-never}
target_dir=${CARGO_TARGET_DIR:-target}
step() { printf '\n==> %s\n' "$*"; }
started=$(date +%s)

step "cargo fmt --check"
cargo fmt --all -- --check

step "clippy (server side: domain, app with ssr, server)"
cargo clippy --workspace --exclude frontend --all-targets -- -D warnings

step "clippy (browser side: app with hydrate, frontend, wasm32)"
cargo clippy -p frontend -p app --target wasm32-unknown-unknown -- -D warnings

step "Kubernetes manifests (deploy/k8s) against the API schemas of Kubernetes 1.31, strict"
"${MESHMART_CACHE:-$HOME/.cache/meshmart}/venv/bin/kubernetes-validate" --strict --quiet -k 1.31.0 deploy/k8s/*.yaml

step "build the site"
scripts/build.sh

step "start the test stack (PostgreSQL + Apache Kafka)"
server_pid=
traffic_pid=
node_pids=()
cleanup() {
  for pid in "${node_pids[@]}"; do kill -TERM "$pid" 2>/dev/null || true; wait "$pid" 2>/dev/null || true; done
  if [ -n "$traffic_pid" ]; then kill -TERM "$traffic_pid" 2>/dev/null || true; wait "$traffic_pid" 2>/dev/null || true; fi
  if [ -n "$server_pid" ]; then kill -TERM "$server_pid" 2>/dev/null || true; wait "$server_pid" 2>/dev/null || true; fi
  scripts/stack.sh down test || true
}
trap cleanup EXIT
scripts/stack.sh up test
# shellcheck disable=SC1091
source .data/test/env

step "unit and integration tests (real PostgreSQL, real broker)"
cargo test --workspace --exclude frontend --no-fail-fast

step "stream node drill (two processes, kill -9 three times, exactly once by read_committed)"
scripts/node-drill.sh "$target_dir/debug/meshmart" .data/test/kafka/admin.kcat.conf

step "scale-out drill (two processes behind HAProxy: shared state, workers act once, kill -9 under load)"
scripts/scale-out-drill.sh "$target_dir/debug/meshmart" .data/test/kafka/admin.kcat.conf

step "browser tests (Playwright + Chromium)"
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
(cd end2end && MESHMART_E2E_URL=http://127.0.0.1:3100 MESHMART_E2E_DATABASE_URL="$e2e_url" npx playwright test)

if grep -qx kafka .data/test/started 2>/dev/null; then
  step "broker outage drill (/readyz names the broker, recovers after restart)"
  scripts/broker-outage-drill.sh http://127.0.0.1:3100 || {
    if [[ -f core ]] && command -v gdb >/dev/null; then
      gdb -batch -ex "thread apply all bt 25" "$target_dir/debug/meshmart" core 2>/dev/null | tail -150
    fi
    exit 1
  }
fi

step "all checks passed in $(( $(date +%s) - started )) s"
