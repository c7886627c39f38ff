#!/usr/bin/env bash
# The record checker's numbers (issue 15, "Numbers"), printed as one table:
#   1. checker throughput over a pre-produced backlog, Avro and JSON Schema, next to two
#      plain consumers that only read the same records: kcat (-C -e -o beginning -q, as the
#      admin; its time includes connecting), and `plain_consumer`
#      (server/examples/plain_consumer.rs: the checker's own client, principal and consumer
#      settings, timed from its first record: joining a group is not reading; the checker's
#      steady rate leaves out its group's joining and its last flush the same way, see
#      `checked`), with the CPU time each spends per record;
#   2. produce-to-checked latency p99 at 1,000 records/s, from the health API;
#   3. server RSS with the checker subscribed to every demo product, while traffic flows on
#      the products the traffic generator knows.
#
# Called by scripts/bench.sh with a release `meshmart` and `plain_consumer`, a PostgreSQL
# and a broker:
#   bench/streams/checker.sh BIN KCAT_CONFIG PLAIN_BIN
# Environment: DATABASE_URL (any database of the server; this script uses its own,
# `bench_streams`), KAFKA_BOOTSTRAP_SERVERS, BENCH_STREAMS_RECORDS (backlog per format,
# default 3,000,000: at half a million records/s the health API's one-second flushes make
# a shorter run's rate coarse), BENCH_STREAMS_QUICK (set: throughput only, no latency or RSS
# run; for working on the checker), BENCH_STREAMS_PORT (default 3198), BENCH_STREAMS_DIR
# (scratch, default .data/test/bench-streams).
#
# The two measured products are the demo `customer-signed-up` contract (JSON Schema, its
# rules: five required fields and the 5 s latency SLA as freshness) pushed twice under new
# names, once with `format: json` and once with `format: avro`, each on a topic of its own
# named after this run: the demo topics on a shared broker may hold other runs' records.
set -euo pipefail
bin=${1:?usage: checker.sh BIN KCAT_CONFIG PLAIN_BIN}
kcat_config=${2:?usage: checker.sh BIN KCAT_CONFIG PLAIN_BIN}
plain_bin=${3:?usage: checker.sh BIN KCAT_CONFIG PLAIN_BIN}
records=${BENCH_STREAMS_RECORDS:-3000000}
quick=${BENCH_STREAMS_QUICK:-}
port=${BENCH_STREAMS_PORT:-3198}
dir=${BENCH_STREAMS_DIR:-.data/test/bench-streams}
run=$(date +%s)
url=http://127.0.0.1:$port

mkdir -p "$dir"
rm -f "$dir/peak"
export MESHMART__SEARCH__INDEX_DIR=$dir/search
rm -rf "$MESHMART__SEARCH__INDEX_DIR"
psql "$DATABASE_URL" -q -c "set client_min_messages = warning" \
  -c "drop database if exists bench_streams with (force)" -c "create database bench_streams"
export DATABASE_URL="${DATABASE_URL%/*}/bench_streams"
"$bin" migrate >/dev/null
"$bin" seed-demo >/dev/null

# The two twins of customer-signed-up, from its stored contract.
psql "$DATABASE_URL" -At -c "select cv.document from contract_versions cv
  join products p on p.id = cv.product_id where p.slug = 'customer-signed-up'
  order by cv.created_at desc limit 1" >"$dir/customer-signed-up.json"
for format in avro json; do
  python3 - "$dir/customer-signed-up.json" "$format" "$run" >"$dir/bench-signups-$format.yaml" <<'PY'
import json, sys
document = json.load(open(sys.argv[1]))
fmt, run = sys.argv[2], sys.argv[3]
slug = f"bench-signups-{fmt}"
document["id"] = f"{document['id']}-bench-{fmt}"
document["dataProduct"] = slug
document["status"] = "active"
document["description"]["purpose"] = f"Benchmark copy of customer-signed-up ({fmt})."
document["schema"][0]["physicalName"] = f"customer-management.{slug}-{run}.v1"
for server in document.get("servers", []):
    server["format"] = fmt
print(json.dumps(document))  # JSON is YAML
PY
  "$bin" contract push "$dir/bench-signups-$format.yaml" >/dev/null
done
topic_avro=customer-management.bench-signups-avro-$run.v1
topic_json=customer-management.bench-signups-json-$run.v1
token=$("$bin" token create --user admin@meshmart.local --name bench-streams 2>/dev/null)

server=
stop_server() {
  if [[ -n $server ]]; then
    kill -TERM "$server" 2>/dev/null || true
    wait "$server" 2>/dev/null || true
    server=
  fi
}
start_server() { # start_server CHECKER_ENABLED [GROUP]
  MESHMART__SERVER__PORT=$port MESHMART__CHECKER__ENABLED=$1 \
    MESHMART__CHECKER__GROUP=${2:-meshmart-checker} "$bin" serve >>"$dir/serve.log" 2>&1 &
  server=$!
  for _ in $(seq 1 150); do curl -fsS -o /dev/null "$url/healthz" 2>/dev/null && return; sleep 0.2; done
  echo "server did not start; see $dir/serve.log" >&2
  exit 1
}
cleanup() {
  stop_server
  # The run's topics are the benchmark's own; nothing else reads them.
  "${MESHMART_CACHE:-$HOME/.cache/meshmart}/venv/bin/python" - "$kcat_config" "$topic_avro" "$topic_json" \
    "$topic_avro.dlq" "$topic_json.dlq" >/dev/null 2>&1 <<'PY' || true
import sys
from confluent_kafka.admin import AdminClient
config = dict(line.strip().split("=", 1) for line in open(sys.argv[1])
              if "=" in line and not line.startswith("#"))
admin = AdminClient(config)
for future in admin.delete_topics(sys.argv[2:], operation_timeout=10).values():
    future.exception(timeout=30)
PY
}
trap cleanup EXIT

health() { # health SLUG WINDOW FIELD...: the fields of the product's health, space-separated
  local slug=$1 window=$2
  shift 2
  curl -fsS -H "Authorization: Bearer $token" "$url/api/v1/products/$slug/health?window=$window" |
    python3 -c 'import json, sys
d = json.load(sys.stdin)
print(" ".join(str(d.get(f)) for f in sys.argv[1:]))' "$@" 2>/dev/null || echo "none"
}
# Polled five times a second while the checker works: curl and a bash match, no Python
# start-up per poll, so the measuring takes as little as it can of the two cores measured.
events_total() { # events_total SLUG: the health API's events_total over one hour (0 if none)
  local body
  body=$(curl -fsS -H "Authorization: Bearer $token" "$url/api/v1/products/$1/health?window=3600" 2>/dev/null) || {
    echo 0
    return
  }
  if [[ $body =~ \"events_total\":([0-9]+) ]]; then echo "${BASH_REMATCH[1]}"; else echo 0; fi
}
end_offsets() { # end_offsets TOPIC: records in the topic (its partitions start at 0)
  local partitions
  partitions=$(kcat -F "$kcat_config" -L -t "$1" 2>/dev/null | grep -c 'partition [0-9]*,')
  for p in $(seq 0 $((partitions - 1))); do echo "-t $1:$p:-1"; done |
    xargs kcat -F "$kcat_config" -Q 2>/dev/null | awk '{ n += $NF } END { print n + 0 }'
}
rss_mb() { awk '/VmRSS/ { printf "%.0f", $2 / 1024 }' "/proc/$server/status" 2>/dev/null || echo 0; }
# The server's CPU time so far (user + system), in clock ticks.
cpu_ticks() { awk '{ print $14 + $15 }' "/proc/$server/stat" 2>/dev/null || echo 0; }
wait_outbox() { # until the topics and producer credentials are on the broker
  for _ in $(seq 1 150); do
    [[ $(psql "$DATABASE_URL" -At -c "select count(*) from outbox where done_at is null") == 0 ]] && return
    sleep 0.2
  done
  echo "the outbox did not drain" >&2
  exit 1
}
start_at_end() { # start_at_end GROUP TOPIC: GROUP starts at the end of every topic but TOPIC
  # (the demo topics of a shared broker may hold other runs' records; the checker reads
  # only the measured backlog)
  psql "$DATABASE_URL" -At -c "select topic from output_ports" | grep -vx "$2" |
    "${MESHMART_CACHE:-$HOME/.cache/meshmart}/venv/bin/python" -c '
import sys
from confluent_kafka import Consumer, TopicPartition, ConsumerGroupTopicPartitions
from confluent_kafka.admin import AdminClient
config = dict(line.strip().split("=", 1) for line in open(sys.argv[1])
              if "=" in line and not line.startswith("#"))
topics = [t.strip() for t in sys.stdin if t.strip()]
reader = Consumer({**config, "group.id": sys.argv[2] + "-seek"})
metadata = reader.list_topics(timeout=10).topics
ends = [TopicPartition(t, p, reader.get_watermark_offsets(TopicPartition(t, p), timeout=10)[1])
        for t in topics if t in metadata for p in metadata[t].partitions]
reader.close()
admin = AdminClient(config)  # kept: a collected client never completes its futures
for future in admin.alter_consumer_group_offsets(
        [ConsumerGroupTopicPartitions(sys.argv[2], ends)], request_timeout=30).values():
    future.result(timeout=60)
print(len(ends))' "$kcat_config" "$1"
}
produce() { # produce SLUG: exactly $records records, as fast as the generator goes
  local rate=$((records < 100000 ? records : 100000))
  "$bin" traffic --products "$1" --rate "$rate" --duration $(((records + rate - 1) / rate)) 2>/dev/null | tail -1
}
plain() { # plain TOPIC COUNT: "kcat_seconds rust_seconds rust_cpu_us", each reading the
  # whole topic (rust_cpu_us: the Rust consumer's CPU time per record, in microseconds)
  local start kcat_s rust_s rust_cpu
  start=$(date +%s.%N)
  kcat -F "$kcat_config" -C -e -o beginning -q -t "$1" >/dev/null 2>&1
  kcat_s=$(python3 -c 'import sys; print(float(sys.argv[2]) - float(sys.argv[1]))' "$start" "$(date +%s.%N)")
  read -r _ rust_s _ rust_cpu < <("$plain_bin" "$1" "$2")
  echo "$kcat_s $rust_s $(python3 -c 'import os, sys
us = int(sys.argv[1]) / os.sysconf("SC_CLK_TCK") * 1e6 / int(sys.argv[2])
print(f"{us:.2f}")' "$rust_cpu" "$2")"
}
# Throughput reads a one-hour window: windows over two hours read minute rollups, which
# trail the checker by up to a minute.
checked() { # checked SLUG COUNT: the checker over the backlog; prints total_s rate
  # steady_rate cpu_us. Counts reach the health API in steps, at the consumers' flushes
  # (about once a second), so the count a poll sees is what was checked by the last flush.
  # "Steady" is the slope of a line fitted through the steps from the first at a tenth of
  # the backlog or more to the last short of all of it: the first second of a few-second
  # run is a joining group, and the last step comes at the flush after the backlog ran
  # out, up to a second of waiting later. Polls are 0.1 s apart. cpu_us is the server's
  # CPU time (all threads) per record over the same span, in microseconds.
  # The loop competes with the server for the two cores, so it starts one process per
  # poll (curl) and reads the clock and /proc with bash's own builtins.
  local slug=$1 count=$2 start now n body stat field key value rss peak=0
  start=${EPOCHREALTIME/,/.}
  : >"$dir/progress"
  while :; do
    body=$(curl -fsS -H "Authorization: Bearer $token" "$url/api/v1/products/$slug/health?window=3600" 2>/dev/null) || body=
    n=0
    [[ $body =~ \"events_total\":([0-9]+) ]] && n=${BASH_REMATCH[1]}
    now=${EPOCHREALTIME/,/.}
    read -r -a stat <"/proc/$server/stat"
    echo "$now $n $((stat[13] + stat[14]))" >>"$dir/progress"
    while read -r key value field; do
      [[ $key == VmRSS: ]] && rss=$((value / 1024))
    done <"/proc/$server/status"
    ((rss > peak)) && peak=$rss
    if ((n >= count)); then break; fi
    if ((${now%.*} - ${start%.*} > 600)); then echo "timeout at $n of $count" >&2; return 1; fi
    sleep 0.1
  done
  # Written before the result line: the caller reads that line and then this file.
  echo "$peak" >"$dir/peak"
  python3 - "$start" "$count" "$dir/progress" <<'PY'
import os, sys
start, count = float(sys.argv[1]), int(sys.argv[2])
polls = [tuple(map(float, line.split())) for line in open(sys.argv[3]) if line.strip()]
end = polls[-1][0]
# Each step at the first poll that saw it.
steps = [p for i, p in enumerate(polls) if i == 0 or p[1] > polls[i - 1][1]]
t1, n1, c1 = next(p for p in steps if p[1] >= 0.1 * count)
span = [p for p in steps if n1 <= p[1] < count]
if len(span) < 3:
    # A run too short for steps between the two ends is measured to its end.
    span = [p for p in steps if p[1] >= n1]
t2, n2, c2 = span[-1]
# The slope of a least-squares line through the steps: the three consumers flush at
# their own moments, so the steps come a few times a second, and a line through all of
# them does not hang on where the first and the last fell.
mean_t = sum(p[0] for p in span) / len(span)
mean_n = sum(p[1] for p in span) / len(span)
spread = sum((p[0] - mean_t) ** 2 for p in span)
steady = sum((p[0] - mean_t) * (p[1] - mean_n) for p in span) / spread if spread > 0 else float("nan")
cpu_us = (c2 - c1) / os.sysconf("SC_CLK_TCK") * 1e6 / (n2 - n1) if n2 > n1 else float("nan")
print(f"{end - start:.1f} {count / (end - start):.0f} {steady:.0f} {cpu_us:.2f}")
PY
}

echo "== record checker (bench/streams/checker.sh): $records records per format, $(nproc) cores"
start_server false
wait_outbox
echo "-- pre-produce (meshmart traffic): $(produce bench-signups-avro)"
stop_server
n_avro=$(end_offsets "$topic_avro")
read -r plain_avro rust_avro rust_cpu_avro < <(plain "$topic_avro" "$n_avro")
seeked=$(start_at_end "bench-checker-$run-avro" "$topic_avro")
start_server true "bench-checker-$run-avro"
read -r total_avro rate_avro steady_avro cpu_avro < <(checked bench-signups-avro "$n_avro")
peak_avro=$(cat "$dir/peak")
echo "-- avro: $n_avro records checked ($seeked partitions of other topics skipped); $(health bench-signups-avro 3600 valid_ratio invalid_by_reason)"

latency_n=- latency_p99=-
if [[ -z $quick ]]; then
  echo "-- latency: bench-signups-avro at 1,000 records/s for 60 s"
  "$bin" traffic --products bench-signups-avro --rate 1000 --duration 60 2>/dev/null | tail -1
  sleep 2 # the last flush
  read -r latency_n latency_p99 < <(health bench-signups-avro 60 events_total latency_p99_ms)
fi
stop_server

echo "-- pre-produce (meshmart traffic): $(produce bench-signups-json)"
n_json=$(end_offsets "$topic_json")
read -r plain_json rust_json rust_cpu_json < <(plain "$topic_json" "$n_json")
start_at_end "bench-checker-$run-json" "$topic_json" >/dev/null
start_server true "bench-checker-$run-json"
read -r total_json rate_json steady_json cpu_json < <(checked bench-signups-json "$n_json")
peak_json=$(cat "$dir/peak")
echo "-- json: $n_json records checked; $(health bench-signups-json 3600 valid_ratio invalid_by_reason); avro still $(health bench-signups-avro 3600 events_total) (nothing counted twice)"

live=customer-signed-up,order-placed,ticket-opened
subscribed=- rss_before=0 rss_peak=0 rss_after=0 live_counts=-
products=$(psql "$DATABASE_URL" -At -c "select count(*) from products")
if [[ -z $quick ]]; then
  echo "-- RSS: checker on every product, traffic on $live at 200 records/s each for 30 s"
  subscribed=$(grep -o 'record checker subscribed[^"]*topics=[0-9]*' "$dir/serve.log" | tail -1 | grep -o '[0-9]*$' || echo "?")
  rss_before=$(rss_mb)
  "$bin" traffic --products "$live" --rate 200 --duration 30 2>/dev/null | tail -1 &
  traffic=$!
  rss_peak=0
  while kill -0 "$traffic" 2>/dev/null; do
    (($(rss_mb) > rss_peak)) && rss_peak=$(rss_mb)
    sleep 0.5
  done
  wait "$traffic" || true
  sleep 2
  rss_after=$(rss_mb)
  live_counts=$(for slug in ${live//,/ }; do echo -n "$slug $(health "$slug" 60 events_total), "; done)
fi
stop_server

python3 - <<PY
rows = [
    ("checker, Avro (bench-signups-avro)", "$n_avro", "$total_avro", "$rate_avro", "$steady_avro", "$plain_avro", "$rust_avro", "$peak_avro", "$cpu_avro", "$rust_cpu_avro"),
    ("checker, JSON Schema (bench-signups-json)", "$n_json", "$total_json", "$rate_json", "$steady_json", "$plain_json", "$rust_json", "$peak_json", "$cpu_json", "$rust_cpu_json"),
]
print()
print("| what | records | checker s (from start) | checker rec/s (from start / steady, flushes from 10% to the last before 100%) | kcat rec/s (whole run) | plain rust-rdkafka consumer rec/s (steady) | checker steady / kcat | checker steady / plain rust-rdkafka | CPU µs per record, checker / plain rust-rdkafka | server RSS peak MB |")
print("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
for name, n, total, rate, steady, plain, rust, peak, cpu, rust_cpu in rows:
    n, steady = int(n), float(steady)
    kcat_rate, rust_rate = n / float(plain), n / float(rust)
    print(f"| {name} | {n:,} | {float(total):.1f} | {int(rate):,} / {int(steady):,} | {kcat_rate:,.0f} | {rust_rate:,.0f} | {steady / kcat_rate:.0%} | {steady / rust_rate:.0%} | {cpu} / {rust_cpu} | {peak} |")
if not "$quick":  # the quick run measures neither
    print()
    print("| what | result |")
    print("|---|---|")
    print(f"| produce-to-checked latency p99, Avro at 1,000 records/s for 60 s | ≤ $latency_p99 ms (histogram bucket bound; $latency_n records in the window) |")
    print(f"| server RSS, checker on all $products products ($subscribed topics), traffic on $live | before {int('$rss_before')} MB, peak {int('$rss_peak')} MB, after {int('$rss_after')} MB |")
    print(f"| records checked in the last 60 s on the live products | ${live_counts%, } |")
PY
