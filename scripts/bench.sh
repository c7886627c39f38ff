#!/usr/bin/env bash
# `make bench`: catalog benchmarks on this machine, with release builds against the test
# stack's PostgreSQL and broker, in a database of its own (`bench`):
#   1. seed-demo --products 100000: load time and products/s;
#   2. the product page's server time (time to first byte, p50/p99 over 200 requests) and
#      its statements' planning and execution times in PostgreSQL (pg_stat_statements); the
#      server's memory after a start that builds the search index and one that reuses it;
#      an HTTP load with wrk (bench/http/load.sh): product pages at 1 and 8 connections,
#      the search API at 1, 16 and 200, summed up beside the in-process search figures at
#      the end;
#   3. search: Tantivy against two PostgreSQL full-text baselines over the same catalog
#      (one with the search box's features: typo correction via pg_trgm, prefix on the
#      word being typed, any-word fallback; one plain plainto_tsquery) —
#      build times, p50/p99 per query category, QPS at 1 and 2 threads, nDCG@10
#      (domain/benches/search.rs, queries and judgments in bench/search/);
#   4. the schema registry's register / lookup / get-by-id latency over HTTP
#      (bench/registry/latency.py), and whether registrations compared with 100 versions
#      under FULL_TRANSITIVE stall a concurrent /healthz and search loop
#      (bench/registry/stall.py);
#   5. approval → ACL visible on the broker, over 100 approvals
#      (bench/subscriptions/approval_latency.py);
#   6. the lineage page's server time on a 2,000-node lineage;
#   7. the record checker (bench/streams/checker.sh, its own `bench_streams` database with
#      the demo catalog): throughput on Avro and JSON Schema next to a plain consumer,
#      produce-to-checked latency p99 at 1,000 records/s, server RSS over every demo product;
#   8. stream nodes with transactions, pass-through beside customer-enrichment
#      (scripts/node-drill.sh --bench, one run each):
#      throughput over a 500,000-record backlog with one and two instances, and the
#      produce-to-readable latency at 1,000 records/s;
#   0. the browser bundle's size, raw and gzipped (release build, wasm-opt): the main module
#      every page loads, and what each lazily loaded page group adds; a cold
#      first visit in Chromium until the page is interactive (bench/ui/first_visit.cjs);
#   9. the fault suite of self-healing channels (scripts/chaos-bench.sh: `meshmart chaos`
#      over every scenario on a broker of its own, one row per scenario).
set -euo pipefail
cd "$(dirname "$0")/.."
products=${BENCH_PRODUCTS:-100000}
target_dir=${CARGO_TARGET_DIR:-target}

scripts/build.sh --release >/dev/null
# The record checker's baseline: a plain consumer with the checker's client and settings.
cargo build -q --release -p meshmart-server --example plain_consumer
cargo bench -q -p domain --bench search --no-run
trap 'kill -TERM "${server:-0}" 2>/dev/null || true; scripts/stack.sh down test >/dev/null || true' EXIT
scripts/stack.sh up test >/dev/null
# shellcheck disable=SC1091
source .data/test/env
bin="$target_dir/release/meshmart"
echo "== browser bundle (release, wasm-opt -Oz): what every first visit downloads"
kb() { echo "$(($1 * 10 / 1024))e-1"; }
gz_total=0
for file in target/site/pkg/meshmart_bg.wasm target/site/pkg/meshmart.js \
  target/site/pkg/__wasm_split.*.js target/site/pkg/meshmart.css; do
  gz=$(gzip -9c "$file" | wc -c)
  gz_total=$((gz_total + gz))
  printf "%-40s %8.1f KB raw  %7.1f KB gzipped\n" "$(basename "$file")" \
    "$(kb "$(stat -c %s "$file")")" "$(kb "$gz")"
done
printf "%-40s %8s         %7.1f KB gzipped (target < 400 KB)\n" "all of the above" "" "$(kb "$gz_total")"
echo "== lazily loaded page groups (app/src/routes.rs): what entering one adds, gzipped"
python3 - target/site/pkg <<'PY'
import gzip, json, os, sys
pkg = sys.argv[1]
manifest = json.load(open(os.path.join(pkg, "__wasm_split_manifest.json")))
for split, files in sorted(manifest.items()):
    size = sum(len(gzip.compress(open(os.path.join(pkg, f + ".wasm"), "rb").read(), 9)) for f in files)
    print(f"{split.rsplit('_', 1)[0]:<40} {size / 1024:8.1f} KB in {len(files)} files")
PY
psql "$DATABASE_URL" -q -c "set client_min_messages = warning" \
  -c "drop database if exists bench with (force)" -c "create database bench"
export DATABASE_URL="${DATABASE_URL%/*}/bench"
"$bin" migrate >/dev/null
"$bin" seed-demo >/dev/null
# Per-statement planning and execution times (the stack preloads pg_stat_statements), for
# the product page's breakdown below; set before any server connects.
statements=false
if psql "$DATABASE_URL" -q -c "create extension if not exists pg_stat_statements" \
  -c "alter database bench set pg_stat_statements.track_planning = on" 2>/dev/null; then
  statements=true
fi
echo "== seed-demo --products $products"
"$bin" seed-demo --products "$products" | tail -1

export MESHMART__SEARCH__INDEX_DIR=.data/test/bench-search
rm -rf "$MESHMART__SEARCH__INDEX_DIR"
echo "== meshmart reindex (the search index rebuilt from PostgreSQL)"
"$bin" reindex 2>/dev/null

echo "== seed-demo --lineage-nodes 2000 (observed lineage downstream of customer-signed-up)"
"$bin" seed-demo --lineage-nodes 2000 | tail -1

token=$("$bin" token create --user analyst1@meshmart.local --name bench 2>/dev/null)
rss() { awk '/^VmRSS/ { rss = $2 } /^RssAnon/ { anon = $2 } END { printf "%.0f MB RSS, %.0f MB of it anonymous", rss / 1024, anon / 1024 }' "/proc/$1/status"; }
# ready PORT: waits (up to 10 min) until the server on PORT says ready; prints the seconds.
ready() {
  local started=$SECONDS
  for _ in $(seq 1 3000); do
    curl -fsS -o /dev/null "http://127.0.0.1:$1/readyz" 2>/dev/null && break
    sleep 0.2
  done
  echo $((SECONDS - started))
}
# No record checker in these servers: it would subscribe to the 100,000 products' topics.
echo "== server memory, a first start that builds the search index from PostgreSQL"
rm -rf .data/test/bench-search-fresh
MESHMART__CHECKER__ENABLED=false MESHMART__SEARCH__INDEX_DIR=.data/test/bench-search-fresh \
  MESHMART__SERVER__PORT=3198 "$bin" serve >/dev/null 2>&1 &
server=$!
took=$(ready 3198)
sleep 15
# VmHWM: the process's peak RSS, the build's included (the target is about the peak).
hwm=$(awk '/^VmHWM/ { printf "%.0f", $2 / 1024 }' "/proc/$server/status")
echo "ready after ${took} s; peak ${hwm} MB RSS (VmHWM; target < 300 MB); 15 s later: $(rss "$server")"
kill -TERM "$server"; wait "$server" 2>/dev/null || true
rm -rf .data/test/bench-search-fresh
MESHMART__CHECKER__ENABLED=false MESHMART__SERVER__PORT=3199 "$bin" serve >/dev/null 2>&1 &
server=$!
ready 3199 >/dev/null
echo "== server memory, a start that reuses the index: $(rss "$server")"
slugs=$(psql "$DATABASE_URL" -At -c "select slug from products order by random() limit 200")
echo "== product page (/products/{slug}) server time over 200 random products of $(psql "$DATABASE_URL" -At -c 'select count(*) from products')"
# The page leaves whole (SsrMode::Async), so its first byte and its last come together.
for slug in $slugs; do
  curl -s -o /dev/null -w '%{time_starttransfer} %{time_total}\n' -H "Authorization: Bearer $token" \
    "http://127.0.0.1:3199/products/$slug"
done >"$target_dir/bench-product-pages.txt"
for column in 1 2; do
  label=$([ "$column" = 1 ] && echo "first byte " || echo "whole page ")
  awk -v c="$column" '{ print $c }' "$target_dir/bench-product-pages.txt" | sort -n | awk -v label="$label" '
    { t[NR] = $1 } END {
    printf "%s p50 %.1f ms   p99 %.1f ms   max %.1f ms\n", label, t[int(NR*0.5)]*1000, t[int(NR*0.99)]*1000, t[NR]*1000 }'
done

awk '{ print "/products/" $0 }' <<<"$slugs" >"$target_dir/bench-product-paths.txt"
if $statements; then
  echo "== product page: its statements in PostgreSQL (pg_stat_statements over 5 s of pages at one connection)"
  load_pages() {
    WRK_PATHS=$target_dir/bench-product-paths.txt WRK_TOKEN=$token \
      wrk -t1 -c1 -d"$1" -s bench/http/paths.lua http://127.0.0.1:3199 | tail -1
  }
  load_pages 2s >/dev/null
  psql "$DATABASE_URL" -qAt -c "select pg_stat_statements_reset()" >/dev/null
  pages=$(load_pages 5s | python3 -c 'import json, sys; print(json.load(sys.stdin)["requests"])')
  psql "$DATABASE_URL" -q -P footer=off -v pages="$pages" <<'SQL'
select round(calls::numeric / :pages, 1) as "per page",
       round((total_plan_time / calls * 1000)::numeric) as "plan µs",
       round((total_exec_time / calls * 1000)::numeric) as "exec µs",
       round(((total_plan_time + total_exec_time) * 1000 / :pages)::numeric) as "µs per page",
       left(regexp_replace(query, '\s+', ' ', 'g'), 70) as statement
from pg_stat_statements
where dbid = (select oid from pg_database where datname = current_database())
  and calls >= :pages / 2
order by total_plan_time + total_exec_time desc;
SQL
fi

echo "== HTTP load (bench/http/load.sh: wrk on the same 2 cores, product pages and the search benchmark's $(($(wc -l <bench/search/queries.tsv) - 1)) queries)"
python3 -c 'import sys, urllib.parse
for line in list(sys.stdin)[1:]:
    print("/api/v1/search?q=" + urllib.parse.quote(line.rstrip("\n").split("\t", 1)[1]))' \
  <bench/search/queries.tsv >"$target_dir/bench-search-paths.txt"
bench/http/load.sh http://127.0.0.1:3199 "$token" "$target_dir/bench-product-paths.txt" \
  "$target_dir/bench-search-paths.txt" "$server" "$target_dir/bench-http.tsv"

echo "== cold first visit in Chromium (empty cache) until interactive, 10 visits per page (bench/ui/first_visit.cjs)"
node bench/ui/first_visit.cjs http://127.0.0.1:3199 "$token" 10

echo "== lineage page (/products/customer-signed-up/lineage, 2,000-node lineage) server time over 200 requests"
for view in "direction=both&depth=3" "direction=down&depth=6"; do
  for _ in $(seq 1 200); do
    curl -s -o /dev/null -w '%{time_starttransfer}\n' -H "Authorization: Bearer $token" \
      "http://127.0.0.1:3199/products/customer-signed-up/lineage?$view"
  done | sort -n | awk -v view="$view" '{ t[NR] = $1 } END {
    printf "%-22s p50 %.1f ms   p99 %.1f ms   max %.1f ms\n", view, t[int(NR*0.5)]*1000, t[int(NR*0.99)]*1000, t[NR]*1000 }'
done

admin_token=$("$bin" token create --user admin@meshmart.local --name bench 2>/dev/null)
echo "== schema registry over HTTP (/registry, one keep-alive client, Avro, 20 subjects x 10 versions)"
python3 bench/registry/latency.py \
  --url http://127.0.0.1:3199/registry --token "$admin_token"

echo "== a slow compatibility check does not stall other requests (FULL_TRANSITIVE, 100 versions; /healthz + search loop alone vs during registrations)"
python3 bench/registry/stall.py --url http://127.0.0.1:3199 --token "$admin_token" --versions 100 --seconds 10

echo "== approval → ACL on the broker (100 approvals, DescribeAcls polled every 2 ms)"
requester=$("$bin" token create --user analyst1@meshmart.local --name bench 2>/dev/null)
psql "$DATABASE_URL" -At -c "select slug from products where slug like 'syn-%' order by slug limit 100" |
  "${MESHMART_CACHE:-$HOME/.cache/meshmart}/venv/bin/python" bench/subscriptions/approval_latency.py \
    --url http://127.0.0.1:3199 --requester "$requester" --approver "$admin_token" \
    --bootstrap "$KAFKA_BOOTSTRAP_SERVERS" --admin-user "${KAFKA_ADMIN_USER:-meshmart-admin}" --admin-password "${KAFKA_ADMIN_PASSWORD:-meshmart-admin-secret}"

kill -TERM "$server" 2>/dev/null || true
wait "$server" 2>/dev/null || true

bench/streams/checker.sh "$bin" .data/test/kafka/admin.kcat.conf "$target_dir/release/examples/plain_consumer"
for kind in pass-through customer-enrichment; do
  echo "== stream node, $kind with transactions (scripts/node-drill.sh --bench)"
  NODE_DRILL_KIND=$kind NODE_DRILL_RECORDS=500000 \
    scripts/node-drill.sh "$bin" .data/test/kafka/admin.kcat.conf --bench
done
echo "== fault suite: meshmart chaos, every scenario (scripts/chaos-bench.sh)"
scripts/chaos-bench.sh "$bin"
# The search benchmark needs only PostgreSQL: stop the test broker (if this run started
# it) so its JVM does not add noise to sub-millisecond timings on two cores.
if grep -qx kafka .data/test/started 2>/dev/null; then
  KAFKA_DATA=.data/test/kafka KAFKA_PORT=19192 KAFKA_CONTROLLER_PORT=19193 scripts/kafka.sh stop >/dev/null 2>&1 || true
fi
echo "== search: Tantivy vs PostgreSQL full-text baselines"
cargo bench -q -p domain --bench search | tee "$target_dir/bench-search.txt"
echo "== search over HTTP beside the engine in-process, same catalog, same run"
python3 - "$target_dir/bench-search.txt" "$target_dir/bench-http.tsv" <<'PY'
import sys
engine = open(sys.argv[1]).read().splitlines()
cells = lambda line: [c.strip() for c in line.strip().strip("|").split("|")]
all_row = next(cells(l) for l in engine if l.startswith("| all |"))
qps = {cells(l)[0]: cells(l)[1] for l in engine if l.startswith("| 1 |") or l.startswith("| 2 |")}
http = {(r[0], r[1]): r for r in (l.split("\t") for l in open(sys.argv[2]).read().splitlines())}
one, many = http[("search API", "1")], http[("search API", "16")]
computed = "search API, each answer computed (no-cache)"
one_c, many_c = http[(computed, "1")], http[(computed, "16")]
print("| search | in-process (engine only, top 10) | over HTTP, each answer computed (no-cache) | over HTTP, kept answers (the query set repeats) |")
print("|---|---|---|---|")
print(f"| one client, p50 / p99 | {all_row[2]} / {all_row[3]} ms | {one_c[3]} / {one_c[4]} ms | {one[3]} / {one[4]} ms |")
print(f"| throughput | {qps.get('1')} queries/s on 1 thread, {qps.get('2')} on 2 | {int(one_c[2]):,} req/s on 1 connection, {int(many_c[2]):,} on 16 | {int(one[2]):,} req/s on 1 connection, {int(many[2]):,} on 16 |")
PY
