#!/usr/bin/env bash
# `make run`: start the local stack (or use DATABASE_URL / KAFKA_BOOTSTRAP_SERVERS), apply
# migrations, load the demo data once, and serve at http://127.0.0.1:3000 until Ctrl-C,
# which stops everything this script started.
set -euo pipefail
cd "$(dirname "$0")/.."

bin="${CARGO_TARGET_DIR:-target}/debug/meshmart"
scripts/stack.sh up run
trap 'scripts/stack.sh down run' EXIT
# shellcheck disable=SC1091
source .data/run/env

"$bin" migrate
"$bin" seed-demo

port=${MESHMART__SERVER__PORT:-3000}
cat <<MSG

  Meshmart is starting at  http://127.0.0.1:${port}
  Health:                  http://127.0.0.1:${port}/readyz   metrics: /metrics
  Database:                ${DATABASE_URL%%\?*}
  Kafka bootstrap:         ${KAFKA_BOOTSTRAP_SERVERS} (SASL PLAIN, admin principal User:meshmart-admin)
  Demo logins:             none yet: seed-demo fills them in as features arrive
  Stop:                    Ctrl-C

MSG
"$bin" serve &
server=$!
trap 'kill -TERM "$server" 2>/dev/null; wait "$server" 2>/dev/null; scripts/stack.sh down run' EXIT
trap 'exit 0' INT TERM
wait "$server"
