"""Measurements of `scripts/node-drill.sh --bench` (the stream node runtime), on the broker.

    node_bench.py KCAT_CONFIG count TOPIC
        records in TOPIC (the sum of its partitions' end offsets less their starts; the
        input topic is written without transactions, so every offset is a record)
    node_bench.py KCAT_CONFIG wait-committed GROUP TOPIC TARGET START RECORDS [REPARTITION]
        waits until GROUP's committed offsets on TOPIC add up to TARGET (and, for a node
        with a REPARTITION topic, until it has consumed everything on it too: each
        partition's committed offset is the last transaction's commit marker, one below the
        end), then prints the rate of the last RECORDS records, from START (epoch seconds,
        when the node processes were started) and from the first committed progress
    node_bench.py KCAT_CONFIG latency TOPIC SECONDS
        reads TOPIC read_committed from its end for SECONDS and prints the p50, p99 and max of
        (receive time - record timestamp) in milliseconds, and the record count
"""
import os
import sys
import time

from confluent_kafka import Consumer, TopicPartition

config_file, command, *args = sys.argv[1:]
config = dict(line.strip().split("=", 1) for line in open(config_file)
              if "=" in line and not line.startswith("#"))


def partitions(consumer, topic):
    return [TopicPartition(topic, p) for p in consumer.list_topics(topic, timeout=10).topics[topic].partitions]


if command == "count":
    (topic,) = args
    consumer = Consumer({**config, "group.id": "node-bench-count"})
    total = 0
    for tp in partitions(consumer, topic):
        low, high = consumer.get_watermark_offsets(tp, timeout=10)
        total += high - low
    consumer.close()
    print(total)
elif command == "wait-committed":
    group, topic, target, start, records = args[:5]
    repartition = args[5] if len(args) > 5 else None
    target, start, records = int(target), float(start), int(records)
    consumer = Consumer({**config, "group.id": group})  # only to read committed offsets
    tps = partitions(consumer, topic)
    internal = partitions(consumer, repartition) if repartition else []

    def drained():
        """Whether the node has consumed all of its repartition topic."""
        for tp in consumer.committed(internal, timeout=10):
            low, high = consumer.get_watermark_offsets(tp, timeout=10, cached=False)
            if high > 0 and tp.offset != high - 1:
                return False
        return True

    first, first_done, deadline = None, 0, time.time() + 600
    baseline = target - records
    while True:
        committed = consumer.committed(tps, timeout=10)
        done = sum(max(tp.offset, 0) for tp in committed)
        now = time.time()
        if first is None and done > baseline:
            first, first_done = now, done
        if (done >= target and drained()) or now > deadline:
            break
        time.sleep(0.1)
    consumer.close()
    total = now - start
    steady = (done - first_done) / (now - first) if first and now > first else float("nan")
    print(f"{done - baseline:,} records in {total:.1f} s from start: {(done - baseline) / total:,.0f} records/s; "
          f"{steady:,.0f} records/s from the first commit")
elif command == "latency":
    topic, seconds = args[0], float(args[1])
    consumer = Consumer({**config, "group.id": f"node-bench-latency-{time.time()}",
                         "isolation.level": "read_committed", "auto.offset.reset": "latest",
                         "fetch.wait.max.ms": 10})
    consumer.subscribe([topic])
    latencies, end = [], time.time() + seconds
    trace = open(os.environ["NODE_BENCH_TRACE"], "w") if os.environ.get("NODE_BENCH_TRACE") else None
    while time.time() < end:
        message = consumer.poll(0.1)
        if message is None or message.error():
            continue
        received = time.time() * 1000
        kind, stamp = message.timestamp()
        if kind != 0:
            latencies.append(received - stamp)
            if trace:
                trace.write(f"{received:.0f} {received - stamp:.0f} {message.partition()} {message.offset()}\n")
    consumer.close()
    latencies.sort()
    if latencies:
        pick = lambda q: latencies[min(len(latencies) - 1, int(q * len(latencies)))]
        print(f"p50 {pick(0.5):.0f} ms, p99 {pick(0.99):.0f} ms, max {latencies[-1]:.0f} ms over {len(latencies):,} records")
    else:
        print("no records")
else:
    sys.exit(f"unknown command {command}")
