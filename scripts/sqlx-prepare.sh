#!/usr/bin/env bash
# Writes `.sqlx/`, the query data that lets `sqlx::query!` and friends check every query
# against the schema at compile time without a database (`SQLX_OFFLINE=true`, set in
# `.cargo/config.toml`). Run it after adding or changing a query; `make test` runs it with
# `--check`, which fails when `.sqlx/` is stale.
#
# It needs the test stack's PostgreSQL (`scripts/stack.sh up test`). It recreates the
# database `meshmart_sqlx` there from `migrations/`, so the queries are checked against
# exactly the schema the migrations build.
#
#   scripts/sqlx-prepare.sh          # write .sqlx/
#   scripts/sqlx-prepare.sh --check  # fail if .sqlx/ does not match the queries
set -euo pipefail
cd "$(dirname "$0")/.."

env_file=.data/test/env
if [ -z "${DATABASE_URL:-}" ]; then
  [ -f "$env_file" ] || { echo "sqlx-prepare: start the test stack first (scripts/stack.sh up test)" >&2; exit 1; }
  # shellcheck disable=SC1090
  source "$env_file"
fi
# The same server, a database of its own.
export DATABASE_URL="${DATABASE_URL%/*}/meshmart_sqlx"
cargo sqlx database drop -y >/dev/null
cargo sqlx database create
cargo sqlx migrate run --source migrations >/dev/null
# `--all-targets`: queries in tests are checked too. `--exclude frontend`: the same build
# graph as clippy's (the wasm entry point would turn on browser features for the host), so
# no dependency is rebuilt here with SQLX_OFFLINE off — a rebuilt `sqlx-adapter` would add
# its own queries to what is compared, and the check would fail on a fresh machine.
cargo sqlx prepare --workspace "$@" -- --workspace --exclude frontend --all-targets
