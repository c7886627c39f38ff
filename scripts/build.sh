#!/usr/bin/env bash
# Builds the site the way cargo-leptos would, in three plain steps: the browser bundle
# (frontend for wasm32 + wasm-bindgen into target/site/pkg, plus CSS and assets), then the
# server binary. `--release` builds optimised artifacts.
set -euo pipefail
cd "$(dirname "$0")/.."

target_dir=${CARGO_TARGET_DIR:-target}
site=target/site
if [ "${1:-}" = "--release" ]; then
  wasm_profile=wasm-release server_flags=(--release) server_dir=release
else
  wasm_profile=dev server_flags=() server_dir=debug
fi
wasm_dir=$([ "$wasm_profile" = dev ] && echo debug || echo "$wasm_profile")

echo "[build] browser bundle ($wasm_profile)"
cargo build -p frontend --lib --target wasm32-unknown-unknown --profile "$wasm_profile"
mkdir -p "$site/pkg" "$site/assets"
wasm-bindgen --target web --no-typescript --out-name meshmart --out-dir "$site/pkg" \
  "$target_dir/wasm32-unknown-unknown/$wasm_dir/frontend.wasm"
cp style/main.css "$site/pkg/meshmart.css"
cp -R public/. "$site/assets/"
# Pre-compressed copies, served when the browser accepts gzip: no per-request compression.
gzip -kf9 "$site"/pkg/*.wasm "$site"/pkg/*.js "$site"/pkg/*.css

echo "[build] server (${server_dir})"
cargo build -p meshmart-server --bin meshmart "${server_flags[@]}"
echo "[build] done: $target_dir/$server_dir/meshmart, site in $site"
