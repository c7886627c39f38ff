#!/usr/bin/env python3
"""Does a slow compatibility check stall other requests? (`make bench`)

Builds a subject with --versions compatible Avro versions (each adds a field with a
default) under FULL_TRANSITIVE, so each new registration is compared with every earlier
version in both directions. Then, for --seconds each, it runs a loop of `GET /healthz` and
`GET /api/v1/search` on one connection:
  1. alone (the baseline), and
  2. while a second connection keeps registering new versions into that subject.
It prints p50/p99/max of each request kind in both phases, side by side, and the
registrations' own latency. If the comparison ran on the async runtime, or while holding a
lock others wait on, phase 2's p99 would grow by the length of a registration.

Usage: stall.py --url http://127.0.0.1:PORT --token ADMIN_TOKEN [--versions 100] [--seconds 10]
"""

import argparse
import http.client
import json
import threading
import time
import urllib.parse
import uuid

from latency import percentile  # the same percentile as the registry latency benchmark

CT = "application/vnd.schemaregistry.v1+json"
QUERIES = ["order", "customer signup", "custmer", "payment tag:pii", "invoice", "shipment"]


def schema(version: int) -> str:
    fields = [{"name": "id", "type": "string"}] + [
        {"name": f"f{i}", "type": ["null", "string"], "default": None} for i in range(1, version)
    ]
    return json.dumps({"type": "record", "name": "Stall", "namespace": "bench", "fields": fields})


class Client:
    def __init__(self, url, token):
        self.url = urllib.parse.urlsplit(url)
        self.headers = {"content-type": CT, "authorization": f"Bearer {token}"}
        self.connection = http.client.HTTPConnection(self.url.hostname, self.url.port, timeout=60)

    def call(self, method, path, body=None):
        started = time.perf_counter()
        self.connection.request(method, path, body=None if body is None else json.dumps(body), headers=self.headers)
        response = self.connection.getresponse()
        text = response.read()
        elapsed = time.perf_counter() - started
        if response.status >= 300:
            raise SystemExit(f"{method} {path}: HTTP {response.status}: {text[:300]!r}")
        return elapsed


def probe_loop(client, seconds):
    timings = {"healthz": [], "search": []}
    deadline = time.perf_counter() + seconds
    i = 0
    while time.perf_counter() < deadline:
        timings["healthz"].append(client.call("GET", "/healthz"))
        q = urllib.parse.quote(QUERIES[i % len(QUERIES)])
        timings["search"].append(client.call("GET", f"/api/v1/search?q={q}"))
        i += 1
    return timings


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--url", required=True)
    parser.add_argument("--token", required=True)
    parser.add_argument("--versions", type=int, default=100)
    parser.add_argument("--seconds", type=float, default=10)
    args = parser.parse_args()
    subject = f"stall-{uuid.uuid4().hex[:8]}-value"
    writer = Client(args.url, args.token)
    writer.call("PUT", f"/registry/config/{subject}", {"compatibility": "FULL_TRANSITIVE"})
    started = time.perf_counter()
    for v in range(1, args.versions + 1):
        writer.call("POST", f"/registry/subjects/{subject}/versions", {"schema": schema(v)})
    print(f"built {subject}: {args.versions} versions under FULL_TRANSITIVE in {time.perf_counter() - started:.1f} s")

    prober = Client(args.url, args.token)
    alone = probe_loop(prober, args.seconds)

    registrations = []
    stop = threading.Event()

    def register_continuously():
        v = args.versions + 1
        while not stop.is_set():
            registrations.append(
                writer.call("POST", f"/registry/subjects/{subject}/versions", {"schema": schema(v)})
            )
            v += 1

    thread = threading.Thread(target=register_continuously)
    thread.start()
    try:
        during = probe_loop(prober, args.seconds)
    finally:
        stop.set()
        thread.join()

    print(f"{'request':10} {'alone: n':>9} {'p50':>8} {'p99':>8} {'max':>8}   {'during registrations: n':>24} {'p50':>8} {'p99':>8} {'max':>8}")
    for kind in ("healthz", "search"):
        a, d = alone[kind], during[kind]
        print(
            f"{kind:10} {len(a):9} {percentile(a, 0.5):7.2f}ms {percentile(a, 0.99):7.2f}ms {max(a) * 1000:7.2f}ms"
            f"   {len(d):24} {percentile(d, 0.5):7.2f}ms {percentile(d, 0.99):7.2f}ms {max(d) * 1000:7.2f}ms"
        )
    print(
        f"registrations during the loop: {len(registrations)} (versions {args.versions + 1}.."
        f"{args.versions + len(registrations)}), each compared with every earlier version: "
        f"p50 {percentile(registrations, 0.5):.1f} ms, p99 {percentile(registrations, 0.99):.1f} ms"
    )


if __name__ == "__main__":
    main()
