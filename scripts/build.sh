#!/usr/bin/env bash
# Builds the site the way cargo-leptos would, in three plain steps: the browser bundle
# (frontend for wasm32 + wasm-bindgen into target/site/pkg, plus CSS and assets), then the
# server binary. `--release` builds optimised artifacts, and shrinks the browser bundle with
# binaryen's wasm-opt -Oz (version 116 from crates.io, installed here on first use: ~14 min
# once; Debian's binaryen 108 breaks hydration, so it is never used).
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
# The lazy routes' code goes into chunks of its own (app/src/routes.rs); the splitter is
# ours (tools/wasm-split), installed here when missing or out of date (~1 min, once).
split_version=$(sed -n 's/^version = "\(.*\)"/\1/p' tools/wasm-split/Cargo.toml | head -1)
if ! meshmart-wasm-split --version 2>/dev/null | grep -qx "meshmart-wasm-split $split_version"; then
  echo "[build] installing meshmart-wasm-split $split_version (tools/wasm-split)"
  cargo install --path tools/wasm-split --locked --quiet
fi
rm -f "$site"/pkg/*.wasm "$site"/pkg/*.wasm.gz "$site"/pkg/__wasm_split*
meshmart-wasm-split "$target_dir/wasm32-unknown-unknown/$wasm_dir/frontend.wasm" \
  "$target_dir/meshmart-main.wasm" "$site/pkg" meshmart
# The chunks fill their functions into the main module's table, which LLD exports and
# wasm-bindgen would otherwise drop.
wasm-bindgen --target web --no-typescript --keep-lld-exports --out-name meshmart \
  --out-dir "$site/pkg" \
  "$target_dir/meshmart-main.wasm"
if [ "$wasm_profile" = wasm-release ]; then
  if ! wasm-opt --version 2>/dev/null | grep -q "version 116"; then
    echo "[build] installing wasm-opt 0.116.1 (binaryen from source; ~14 min, once)"
    cargo install wasm-opt --version 0.116.1 --locked --quiet
  fi
  for wasm in "$site"/pkg/*.wasm; do
    # The features rustc's wasm32 target emits by default.
    wasm-opt -Oz --quiet --enable-bulk-memory --enable-sign-ext --enable-mutable-globals \
      --enable-nontrapping-float-to-int --enable-reference-types --enable-multivalue \
      "$wasm" -o "$wasm.opt"
    mv "$wasm.opt" "$wasm"
  done
fi
cp style/main.css "$site/pkg/meshmart.css"
cp -R public/. "$site/assets/"
# Pre-compressed copies, served when the browser accepts gzip: no per-request compression.
gzip -kf9 "$site"/pkg/*.wasm "$site"/pkg/*.js "$site"/pkg/*.css "$site"/pkg/*.json

echo "[build] server (${server_dir})"
cargo build -p meshmart-server --bin meshmart "${server_flags[@]}"
echo "[build] done: $target_dir/$server_dir/meshmart, site in $site"
