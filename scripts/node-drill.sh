#!/usr/bin/env bash
# Exactly-once drill of the stream node runtime (issue 16): a node (NODE_DRILL_KIND,
# customer-enrichment unless told otherwise) between two
# products of this run, two node processes, one of them killed with SIGKILL three times
# while records flow and restarted each time; then a read_committed read of the output must
# hold exactly one record for each input record (matched by source partition and offset,
# and by customerID): zero lost, zero duplicated, nothing aborted visible.
#
#   scripts/node-drill.sh BIN KCAT_CONFIG [--bench]
# With --bench (make bench) it measures instead, on the same two products: the node's
# throughput over a pre-produced backlog of NODE_DRILL_RECORDS (one instance, then two,
# each from the beginning as a group of its own, timed from start to the last committed
# offset), and the produce-to-readable latency at 1,000 records/s with 100 ms
# transactions (a read_committed reader's receive time minus the record's event time,
# which the node's output keeps).
# Environment: DATABASE_URL (any database of the server; the drill uses its own,
# `node_drill`), KAFKA_BOOTSTRAP_SERVERS, NODE_DRILL_RECORDS (default 200,000),
# NODE_DRILL_RATE (records/s produced while the nodes run, default 20,000),
# NODE_DRILL_PORT (default 3197), NODE_DRILL_DIR (default .data/test/node-drill),
# NODE_DRILL_KIND (pass-through or customer-enrichment, the default).
set -euo pipefail
cd "$(dirname "$0")/.."
bin=${1:?usage: node-drill.sh BIN KCAT_CONFIG [--bench]}
kcat_config=${2:?usage: node-drill.sh BIN KCAT_CONFIG [--bench]}
bench=${3:-}
records=${NODE_DRILL_RECORDS:-200000}
rate=${NODE_DRILL_RATE:-20000}
port=${NODE_DRILL_PORT:-3197}
dir=${NODE_DRILL_DIR:-.data/test/node-drill}
python=${MESHMART_CACHE:-$HOME/.cache/meshmart}/venv/bin/python
kind=${NODE_DRILL_KIND:-customer-enrichment}
run=$(date +%s)
node=drill-copy-$run
say() { printf '[node-drill] %s\n' "$*"; }

mkdir -p "$dir"
rm -f "$dir"/*.log
export MESHMART__SEARCH__INDEX_DIR=$dir/search
rm -rf "$MESHMART__SEARCH__INDEX_DIR"
psql "$DATABASE_URL" -q -c "set client_min_messages = warning" \
  -c "drop database if exists node_drill with (force)" -c "create database node_drill"
export DATABASE_URL="${DATABASE_URL%/*}/node_drill"
"$bin" migrate >/dev/null
"$bin" seed-demo >/dev/null

# The input: customer-signed-up's contract on a topic of this run. The output: another
# product whose contract declares the node (for an enrichment, enriched-customer-signed-up's
# fields).
for slug in customer-signed-up enriched-customer-signed-up; do
  psql "$DATABASE_URL" -At -c "select cv.document from contract_versions cv
    join products p on p.id = cv.product_id where p.slug = '$slug'
    order by cv.created_at desc limit 1" >"$dir/$slug.json"
done
input_topic=customer-management.drill-signups-$run.v1
output_topic=customer-management.drill-signups-copy-$run.v1
"$python" bench/streams/node_products.py "$dir" "$run" "$node" "$kind"
"$bin" contract push "$dir/drill-signups.yaml" >/dev/null
"$bin" contract push "$dir/drill-signups-copy.yaml" >/dev/null

pids=()
cleanup() {
  for pid in "${pids[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
  for pid in "${pids[@]}"; do wait "$pid" 2>/dev/null || true; done
}
trap cleanup EXIT

# A server for the outbox: the topics, the node's credential and ACLs.
MESHMART__SERVER__PORT=$port MESHMART__CHECKER__ENABLED=false "$bin" serve >"$dir/serve.log" 2>&1 &
pids+=($!)
for _ in $(seq 1 300); do
  [[ $(psql "$DATABASE_URL" -At -c "select count(*) from outbox where done_at is null") == 0 ]] && break
  sleep 0.2
done
[[ $(psql "$DATABASE_URL" -At -c "select count(*) from outbox where done_at is null") == 0 ]] ||
  { say "FAILED: the outbox did not drain; see $dir/serve.log"; exit 1; }
say "node $node ($kind): $(kcat -F "$kcat_config" -L 2>/dev/null | grep -c "drill-signups.*-$run" || true) topics of this run on the broker"

start_node() { # start_node INSTANCE: a node process in the background; prints its pid
  RUST_LOG=${NODE_DRILL_LOG:-info} "$bin" node run "$node" --instance "$1" >>"$dir/node-$1.log" 2>&1 &
  echo $!
}

if [[ $bench == --bench ]]; then
  measure() { "$python" bench/streams/node_bench.py "$kcat_config" "$@"; }
  produce() { # produce COUNT: COUNT more records on the input, as fast as the generator goes
    "$bin" traffic --products drill-signups --rate 100000 --duration $((($1 + 99999) / 100000)) 2>/dev/null | tail -1
  }
  group=meshmart-node-$node
  # A customer-enrichment node repartitions its input by network first (its window's key).
  repartition=
  [[ $kind == customer-enrichment ]] && repartition=$group-repartition
  for instances in 1 2; do
    say "pre-produce: $(produce "$records")"
    target=$(measure count "$input_topic")
    start=$(date +%s.%N)
    started=()
    for i in $(seq 0 $((instances - 1))); do
      "$bin" node run "$node" --instance "$i" >>"$dir/bench-node-$i.log" 2>&1 &
      started+=($!)
      pids+=($!)
    done
    say "$instances instance(s): $(measure wait-committed "$group" "$input_topic" "$target" "$start" "$records" $repartition)"
    for pid in "${started[@]}"; do kill -TERM "$pid" 2>/dev/null || true; wait "$pid" 2>/dev/null || true; done
  done
  RUST_LOG=${RUST_LOG:-info} "$bin" node run "$node" --instance 0 --transaction-ms "${NODE_DRILL_TRANSACTION_MS:-100}" \
    >>"$dir/bench-node-0.log" 2>&1 &
  pids+=($!)
  # Until this lone instance owns every partition: the earlier run's instance 1 was a
  # static member, whose partitions the group hands over only after its session timeout.
  for _ in $(seq 1 60); do
    owned=$(psql "$DATABASE_URL" -At -c "select coalesce(array_length(partitions, 1), 0)
      from node_instances where node = '$node' and instance = 0 and state = 'running'")
    [[ $owned == 3 ]] && break
    sleep 0.5
  done
  sleep 2 # caught up
  # The measurement starts once the generator's producer is connected and sending at its
  # rate: records queued during its start-up would measure the generator, not the node.
  "$bin" traffic --products drill-signups --rate 1000 --duration 40 >/dev/null 2>&1 &
  pids+=($!)
  sleep 5
  say "latency at 1,000 records/s, 100 ms transactions: $(measure latency "$output_topic" 30)"
  exit 0
fi
node0=$(start_node 0)
node1=$(start_node 1)
pids+=("$node0" "$node1")
duration=$(((records + rate - 1) / rate))
"$bin" traffic --products drill-signups --rate "$rate" --duration "$duration" >"$dir/traffic.log" 2>&1 &
traffic=$!
pids+=("$traffic")
# Three SIGKILLs of instance 0 while records flow, each followed by a restart. Each kill
# comes a while after that run of the instance got its partitions, so it dies while
# working (not while loading its IP data or joining the group).
step=$(python3 -c "print(max(0.5, $duration / 5))")
assignments() { grep -c "node partitions assigned" "$dir/node-0.log" 2>/dev/null || true; }
seen=0
for kill_number in 1 2 3; do
  for _ in $(seq 1 300); do
    (($(assignments) > seen)) && break
    sleep 0.1
  done
  seen=$(assignments)
  sleep "$step"
  kill -KILL "$node0" 2>/dev/null || true
  wait "$node0" 2>/dev/null || true
  say "kill -9 number $kill_number of instance 0 at $(date +%T.%3N); restarting it"
  node0=$(start_node 0)
  pids+=("$node0")
done
wait "$traffic"
say "$(tail -1 "$dir/traffic.log")"
produced=$(python3 -c "import re,sys; m=re.search(r'(\d+) sent', open(sys.argv[1]).read()); print(m.group(1) if m else 0)" "$dir/traffic.log")

# Until the node has written one output or dead letter per input (or 180 s pass), then
# check what a read_committed reader sees.
"$python" - "$kcat_config" "$input_topic" "$output_topic" "$input_topic.$node.dlq" "$produced" <<'PY'
import json, sys, time
from confluent_kafka import Consumer, TopicPartition
config_file, input_topic, output_topic, dlq_topic, produced = sys.argv[1:6]
produced = int(produced)
config = dict(line.strip().split("=", 1) for line in open(config_file)
              if "=" in line and not line.startswith("#"))

def read_all(topic):
    """Every committed record of the topic, from the beginning to its end."""
    consumer = Consumer({**config, "group.id": f"node-drill-check-{time.time()}",
                         "isolation.level": "read_committed", "enable.auto.commit": False,
                         "auto.offset.reset": "earliest", "enable.partition.eof": True})
    metadata = consumer.list_topics(topic, timeout=10).topics[topic]
    partitions = [TopicPartition(topic, p, 0) for p in metadata.partitions]
    consumer.assign(partitions)
    records, at_end = [], set()
    while len(at_end) < len(partitions):
        message = consumer.poll(1.0)
        if message is None:
            continue
        if message.error():
            if message.error().code() == -191:  # _PARTITION_EOF
                at_end.add(message.partition())
            continue
        records.append(message)
    consumer.close()
    return records

def customer(value):
    return json.loads(value[5:]).get("customerID")

deadline = time.time() + 180
while True:
    inputs = read_all(input_topic)
    outputs = read_all(output_topic)
    dead = read_all(dlq_topic)
    if len(outputs) + len(dead) >= len(inputs) >= produced or time.time() > deadline:
        break
    time.sleep(2)

sources = {(m.partition(), m.offset()): customer(m.value()) for m in inputs}
seen, duplicated, mismatched, foreign = {}, 0, 0, 0
for m in outputs + dead:
    headers = dict(m.headers() or [])
    key = (int(headers["meshmart.source.partition"]), int(headers["meshmart.source.offset"]))
    if key not in sources:
        foreign += 1
        continue
    if key in seen:
        duplicated += 1
    seen[key] = True
    if m.topic() == output_topic and customer(m.value()) != sources[key]:
        mismatched += 1
lost = len(sources) - len(seen)
print(f"[node-drill] inputs {len(inputs):,} (produced {produced:,}); outputs {len(outputs):,}; "
      f"dead letters {len(dead):,}; lost {lost}; duplicated {duplicated}; "
      f"customerID mismatches {mismatched}; outputs of no input {foreign}")
ok = len(inputs) == produced and lost == 0 and duplicated == 0 and mismatched == 0 and foreign == 0
print("[node-drill] " + ("passed: exactly once" if ok else "FAILED"))
sys.exit(0 if ok else 1)
PY
