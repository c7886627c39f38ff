#!/usr/bin/env bash
# `make fuzz`: coverage-guided fuzzing (libFuzzer through cargo-fuzz, nightly toolchain) of
# every parser that reads network input; the targets are in fuzz/fuzz_targets/, each says
# what it reaches. Not part of `make test`: each target runs for FUZZ_SECONDS (default 300).
#
#   scripts/fuzz.sh [TARGET...]      (default: every target)
# Environment: FUZZ_SECONDS (per target, default 300), FUZZ_TARGET_DIR (the nightly build's
# own target dir, default "${CARGO_TARGET_DIR:-target}-fuzz": never mixed with the stable
# build's).
#
# Inputs: fuzz/seeds/TARGET (hand-made and conformance seeds, read only) and
# fuzz/corpus/TARGET (what the fuzzer found worth keeping; committed, so each run starts
# where the last one ended). A crash is written to fuzz/artifacts/TARGET/ and makes the
# script fail at the end; turn each into a regression test before fixing it (README,
# "Fuzzing"). Prints one row per target: executions, speed, coverage, corpus, crashes.
set -euo pipefail
cd "$(dirname "$0")/.."
seconds=${FUZZ_SECONDS:-300}
export CARGO_TARGET_DIR=${FUZZ_TARGET_DIR:-$(realpath -m "${CARGO_TARGET_DIR:-target}")-fuzz}
# The domain crate's SQL is checked against the committed query data, not a database.
export SQLX_OFFLINE=true SQLX_OFFLINE_DIR=$PWD/.sqlx
if ! rustup run nightly rustc --version >/dev/null 2>&1; then
  echo "[fuzz] needs the nightly toolchain (rustup toolchain install nightly --profile minimal)" >&2
  exit 1
fi
if ! cargo fuzz --version >/dev/null 2>&1; then
  echo "[fuzz] installing cargo-fuzz from crates.io (once)"
  cargo install cargo-fuzz --locked --quiet
fi
if [ $# -gt 0 ]; then
  targets=("$@")
else
  mapfile -t targets < <(cd fuzz && cargo fuzz list)
fi
cd fuzz
echo "[fuzz] building ${#targets[@]} targets (release, no sanitizer: Rust checks memory itself; panics and aborts are crashes)"
cargo +nightly fuzz build -s none -O >/dev/null
logs=$(mktemp -d)
trap 'rm -rf "$logs"' EXIT
failed=0
for target in "${targets[@]}"; do
  mkdir -p "corpus/$target" "seeds/$target"
  echo "[fuzz] $target for ${seconds} s"
  if ! cargo +nightly fuzz run -s none -O "$target" "corpus/$target" "seeds/$target" -- \
    -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 -max_len=65536 \
    -print_final_stats=1 >"$logs/$target" 2>&1; then
    failed=1
    echo "[fuzz] $target: CRASH, see fuzz/artifacts/$target/ and the log tail:"
    tail -20 "$logs/$target"
  fi
done
echo
echo "| target | seconds | executions | per second | coverage (edges) | features | corpus | crashes |"
echo "|---|---:|---:|---:|---:|---:|---:|---:|"
for target in "${targets[@]}"; do
  python3 - "$target" "$logs/$target" "$seconds" "artifacts/$target" <<'PY'
import os, re, sys
target, log, seconds, artifacts = sys.argv[1:]
text = open(log, errors="replace").read()
def stat(name):
    m = re.search(rf"stat::{name}:\s+(\d+)", text)
    return int(m.group(1)) if m else 0
lines = re.findall(r"#(\d+)\s+\w+\s+cov: (\d+) ft: (\d+) corp: (\d+)", text)
cov, ft, corp = (lines[-1][1:] if lines else ("?", "?", "?"))
runs = stat("number_of_executed_units")
crashes = len([f for f in os.listdir(artifacts) if f.startswith(("crash-", "oom-", "timeout-"))]) if os.path.isdir(artifacts) else 0
print(f"| {target} | {seconds} | {runs:,} | {runs // max(int(seconds), 1):,} | {cov} | {ft} | {corp} | {crashes} |")
PY
done
exit "$failed"
