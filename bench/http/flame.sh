#!/usr/bin/env bash
# A flame graph of a running server under wrk load (how the product page's costs in the
# README were found). Needs `perf` (Debian's linux-perf) and inferno
# (`cargo install inferno`); neither is part of `make setup`.
#
#   bench/http/flame.sh URL TOKEN PATHS SERVER_PID OUT.svg [CONNECTIONS]
#
# Loads the server with the paths of PATHS (one per line, as bench/http/load.sh) for 16 s
# and samples the server's stacks (DWARF unwinding, 299 Hz) for 6 s in the middle. Also
# prints the frames of Meshmart, its web and database libraries that take the most time,
# inclusive, as a share of the server's samples.
set -euo pipefail
cd "$(dirname "$0")/../.."
url=${1:?usage: flame.sh URL TOKEN PATHS SERVER_PID OUT.svg [CONNECTIONS]}
token=$2 paths=$3 pid=$4 out=$5 connections=${6:-8}
for tool in perf wrk inferno-collapse-perf inferno-flamegraph; do
  command -v "$tool" >/dev/null || { echo "flame.sh: $tool is missing" >&2; exit 1; }
done
scratch=$(mktemp -d)
trap 'rm -rf "$scratch"' EXIT

WRK_PATHS=$paths WRK_TOKEN=$token wrk -t2 -c"$connections" -d16s -s bench/http/paths.lua "$url" \
  >"$scratch/wrk.txt" &
load=$!
sleep 5
perf record -F 299 --call-graph dwarf,16384 -p "$pid" -o "$scratch/perf.data" -- sleep 6 \
  >/dev/null 2>&1
wait "$load"
perf script -i "$scratch/perf.data" 2>/dev/null | inferno-collapse-perf >"$scratch/folded"
inferno-flamegraph --title "$(basename "$out" .svg), $connections connections" \
  "$scratch/folded" >"$out"
echo "flame graph: $out ($(tail -1 "$scratch/wrk.txt" | cut -c1-120))"
python3 - "$scratch/folded" <<'PY'
import collections, sys
total, inclusive = 0, collections.Counter()
ours = ("app::", "domain::", "server::", "leptos", "tachys", "casbin", "sqlx", "axum",
        "hyper", "async_compression", "serde_json")
for line in open(sys.argv[1]):
    stack, count = line.rsplit(" ", 1)
    total += int(count)
    for frame in {f[:110] for f in stack.split(";") if f.startswith(ours)}:
        inclusive[frame] += int(count)
for frame, count in inclusive.most_common(25):
    print(f"{100 * count / max(total, 1):5.1f} %  {frame}")
PY
