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

# CI builds each fresh clone once: incremental caches are never read again there, and in the
# target dir that clones share they only pile up (scripts/prune-target.sh).
if [ "${CI:-}" = true ]; then export CARGO_INCREMENTAL=0; fi
scripts/prune-target.sh "$target_dir"

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
trap 'scripts/stack.sh down test || true' EXIT
scripts/stack.sh up test
# shellcheck disable=SC1091
source .data/test/env

step "unit and integration tests (real PostgreSQL, real broker)"
cargo test --workspace --exclude frontend --no-fail-fast

step "stream node drill (two processes, kill -9 three times, exactly once by read_committed)"
scripts/node-drill.sh "$target_dir/debug/meshmart" .data/test/kafka/admin.kcat.conf

step "scale-out drill (two processes behind HAProxy: shared state, workers act once, kill -9 under load)"
scripts/scale-out-drill.sh "$target_dir/debug/meshmart" .data/test/kafka/admin.kcat.conf

step "browser tests (Playwright + Chromium), then the broker outage drill"
scripts/e2e.sh "$target_dir"

# Last: sqlx-cli touches the crates' sources to recompile their queries, which would make
# every step after it build them again.
step "compile-checked SQL: .sqlx/ matches every query (cargo sqlx prepare --check)"
scripts/sqlx-prepare.sh --check

step "all checks passed in $(( $(date +%s) - started )) s"
