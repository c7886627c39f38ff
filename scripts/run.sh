#!/usr/bin/env bash
# `make run`: start the local stack (or use DATABASE_URL / KAFKA_BOOTSTRAP_SERVERS), apply
# migrations, load the demo data once, and serve at http://127.0.0.1:3000 until Ctrl-C,
# which stops everything this script started.
set -euo pipefail
cd "$(dirname "$0")/.."

bin="${CARGO_TARGET_DIR:-target}/debug/meshmart"
scripts/stack.sh up run
trap 'trap "" PIPE INT TERM; scripts/stack.sh down run' EXIT
# shellcheck disable=SC1091
source .data/run/env
export MESHMART__SEARCH__INDEX_DIR=${MESHMART__SEARCH__INDEX_DIR:-.data/run/search}
# A local demo may point webhooks at a receiver on this machine (production refuses that).
export MESHMART__WEBHOOKS__ALLOW_PRIVATE_TARGETS=${MESHMART__WEBHOOKS__ALLOW_PRIVATE_TARGETS:-true}

"$bin" migrate
"$bin" seed-demo

port=${MESHMART__SERVER__PORT:-3000}
cat <<MSG

  Meshmart is starting at  http://127.0.0.1:${port}
  Health:                  http://127.0.0.1:${port}/readyz   metrics: /metrics
  Database:                ${DATABASE_URL%%\?*}
  Kafka bootstrap:         ${KAFKA_BOOTSTRAP_SERVERS} (SASL PLAIN, admin principal User:meshmart-admin)
  Demo logins (password "meshmart"; seed-demo data, for demos only):
                           admin@meshmart.local                      admin
                           owner.customer-management@meshmart.local  owner of customer-management
                           owner.sales@meshmart.local                owner of sales
                           owner.marketing@meshmart.local            owner of marketing
                           analyst1@meshmart.local … analyst3@meshmart.local
  Demo traffic:            ${MESHMART_DEMO_TRAFFIC_RATE:-2} events/s each to customer-signed-up, order-placed and ticket-opened,
                           each as its domain's producer principal (local broker only;
                           MESHMART_DEMO_TRAFFIC_RATE=0 turns it off)
  Enrichment node:         customer-enrichment (CustomerSignedUp → EnrichedCustomerSignedUp,
                           exactly once, as User:svc-node-customer-enrichment)
  Stop:                    Ctrl-C

MSG
"$bin" serve &
server=$!

# Demo traffic on the local broker only (never on one given by KAFKA_BOOTSTRAP_SERVERS):
# a few CustomerSignedUp, OrderPlaced and TicketOpened events a second, so the topics are
# not empty. MESHMART_DEMO_TRAFFIC_RATE=0 turns it off. The server's outbox creates the
# topics and the producer principals' credentials after the first seed, so `traffic` (exit
# code 2 while a topic or credential is missing) is retried a while.
traffic=
rate=${MESHMART_DEMO_TRAFFIC_RATE:-2}
if grep -qx kafka .data/run/started 2>/dev/null && [ "$rate" != 0 ]; then
  (
    for _ in $(seq 1 60); do
      curl -fsS -o /dev/null "http://127.0.0.1:${port}/readyz" 2>/dev/null && break
      sleep 1
    done
    for _ in $(seq 1 30); do
      if "$bin" traffic --rate "$rate"; then exit 0; else code=$?; fi
      [ "$code" -eq 2 ] || exit "$code"
      sleep 2
    done
  ) &
  traffic=$!
fi

# The seed's enrichment node, a process of its own as in production. It waits for its
# credential and ACLs (the server's outbox provisions them) and is restarted if it exits.
(
  for _ in $(seq 1 60); do
    curl -fsS -o /dev/null "http://127.0.0.1:${port}/readyz" 2>/dev/null && break
    sleep 1
  done
  for _ in $(seq 1 30); do
    "$bin" node run customer-enrichment && exit 0
    sleep 2
  done
) &
node=$!

stop_all() {
  # Output may be a pipe whose reader died with the same Ctrl-C (`make run | tee`):
  # stopping must not die of SIGPIPE half-way.
  trap '' PIPE INT TERM
  if [ -n "$traffic" ]; then
    pkill -TERM -P "$traffic" 2>/dev/null || true
    kill -TERM "$traffic" 2>/dev/null || true
  fi
  pkill -TERM -P "$node" 2>/dev/null || true
  kill -TERM "$node" 2>/dev/null || true
  kill -TERM "$server" 2>/dev/null || true
  # The node commits what it has and the traffic flushes while the broker is still up;
  # whatever has not stopped after 15 s is killed before the stack goes down.
  for _ in $(seq 1 30); do
    pgrep -P "$node" >/dev/null 2>&1 || { [ -z "$traffic" ] || pgrep -P "$traffic" >/dev/null 2>&1; } || break
    sleep 0.5
  done
  pkill -KILL -P "$node" 2>/dev/null || true
  [ -z "$traffic" ] || pkill -KILL -P "$traffic" 2>/dev/null || true
  wait "$server" 2>/dev/null || true
  scripts/stack.sh down run || true
}
trap stop_all EXIT
trap 'exit 0' INT TERM
wait "$server"
