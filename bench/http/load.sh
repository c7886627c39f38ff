#!/usr/bin/env bash
# `make bench`'s HTTP load (issue 19): wrk (Debian's package) against a running release
# server, on the same two cores, so the server's true capacity is somewhat higher than
# measured. Prints one table row per load and writes them, tab-separated, to OUT for the
# summary that sets them beside the in-process figures of the same run.
#
#   bench/http/load.sh URL TOKEN PRODUCT_PATHS SEARCH_PATHS SERVER_PID OUT
# PRODUCT_PATHS and SEARCH_PATHS: files of request paths, one per line. Environment:
# BENCH_LOAD_SECONDS (each load's length, default 10).
set -euo pipefail
cd "$(dirname "$0")/../.."
url=${1:?usage: load.sh URL TOKEN PRODUCT_PATHS SEARCH_PATHS SERVER_PID OUT}
token=$2 product_paths=$3 search_paths=$4 pid=$5 out=$6
seconds=${BENCH_LOAD_SECONDS:-10}
: >"$out"

rss() { awk '/^VmRSS/ { rss = $2 } /^RssAnon/ { anon = $2 } END { printf "%.0f MB RSS, %.0f MB of it anonymous", rss / 1024, anon / 1024 }' "/proc/$pid/status"; }

# load LABEL PATHS CONNECTIONS TARGET
load() {
  local label=$1 paths=$2 connections=$3 target=$4 threads=$(( $3 > 1 ? 2 : 1 )) result
  result=$(WRK_PATHS=$paths WRK_TOKEN=$token wrk -t"$threads" -c"$connections" -d"${seconds}s" \
    --timeout 10s -s bench/http/paths.lua "$url" | tail -1)
  python3 - "$label" "$connections" "$target" "$result" "$out" <<'PY'
import json, sys
label, connections, target, result, out = sys.argv[1:6]
r = json.loads(result)
errors = sum(r["errors"].values())
rate = r["requests"] / r["seconds"]
size = r["bytes"] / max(r["requests"], 1) / 1024
row = (f"| {label}, {connections} connection{'s' if connections != '1' else ''} | {rate:,.0f} req/s, "
       f"p50 {r['p50_ms']:.1f} ms, p99 {r['p99_ms']:.1f} ms, max {r['max_ms']:.0f} ms; "
       f"{errors} errors; {size:.1f} KB per response (gzip) | {target} |")
print(row)
open(out, "a").write(f"{label}\t{connections}\t{rate:.0f}\t{r['p50_ms']:.2f}\t{r['p99_ms']:.2f}\t{errors}\n")
PY
}

echo "| what (wrk, ${seconds} s each, gzip) | measured | target |"
echo "|---|---|---|"
# Warm-up: every path once, so that the first load does not pay for cold caches alone.
WRK_PATHS=$product_paths WRK_TOKEN=$token wrk -t1 -c1 -d3s -s bench/http/paths.lua "$url" >/dev/null
WRK_PATHS=$search_paths WRK_TOKEN=$token wrk -t1 -c1 -d3s -s bench/http/paths.lua "$url" >/dev/null
load "product page" "$product_paths" 1 "p50 < 10 ms, p99 < 25 ms"
load "product page" "$product_paths" 8 "≥ 600 pages/s"
# The query set repeats (as a catalog's popular searches do), so after the warm-up these
# are answered from the answers kept for the index's contents (domain/src/search/cache.rs).
load "search API" "$search_paths" 1 "p50 < 0.8 ms"
load "search API" "$search_paths" 16 "≥ 3,000 req/s, p99 < 15 ms"
# The same questions with each answer computed (`Cache-Control: no-cache`), as every
# search was before the answers were kept and as a question never asked before is: held
# to the same targets.
WRK_NO_CACHE=1 load "search API, each answer computed (no-cache)" "$search_paths" 1 "p50 < 0.8 ms"
WRK_NO_CACHE=1 load "search API, each answer computed (no-cache)" "$search_paths" 16 "≥ 3,000 req/s, p99 < 15 ms"
# The baseline beside it: the same queries answered in full, every facet counted and
# every hit highlighted, as the API answered before `facets=` and `highlight=`.
full_paths=$(mktemp)
trap 'rm -f "$full_paths"' EXIT
sed 's/$/\&facets=all\&highlight=true/' "$search_paths" >"$full_paths"
load "search API, every facet and highlight asked for" "$full_paths" 16 "baseline: the whole answer, as before facets= and highlight="
load "search API" "$search_paths" 200 "0 errors"
echo "| server memory after these loads | $(rss) | keep (188 MB before) |"
