#!/usr/bin/env python3
"""Schema-registry latency over HTTP, as a Confluent client sees it (`make bench`).

Registers --versions compatible Avro versions (each adds a field with a default) in each of
--subjects subjects, then looks each registered schema up again (`POST /subjects/{s}`) and
fetches it by id (`GET /schemas/ids/{id}`); prints p50/p99 per operation. One keep-alive
connection, sequential requests: the latency of one client, not throughput.

Usage: latency.py --url http://127.0.0.1:PORT/registry --token TOKEN [--subjects 20] [--versions 10]
"""

import argparse
import base64
import http.client
import json
import time
import urllib.parse
import uuid

CT = "application/vnd.schemaregistry.v1+json"


def schema(version: int) -> str:
    fields = [{"name": "id", "type": "string"}] + [
        {"name": f"f{i}", "type": "string", "default": ""} for i in range(1, version)
    ]
    return json.dumps({"type": "record", "name": "Bench", "namespace": "bench", "fields": fields})


def percentile(samples, p):
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, int(len(ordered) * p))] * 1000


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--url", required=True)
    parser.add_argument("--token", required=True)
    parser.add_argument("--subjects", type=int, default=20)
    parser.add_argument("--versions", type=int, default=10)
    args = parser.parse_args()
    run = uuid.uuid4().hex[:8]
    timings = {"register (new version)": [], "register (existing schema)": [], "lookup": [], "get by id": []}
    registered = []
    url = urllib.parse.urlsplit(args.url)
    connection = http.client.HTTPConnection(url.hostname, url.port)
    credentials = base64.b64encode(f"bench:{args.token}".encode()).decode()
    headers = {"content-type": CT, "authorization": f"Basic {credentials}"}

    def timed(kind, method, path, body=None):
        started = time.perf_counter()
        connection.request(method, url.path + path, body=None if body is None else json.dumps(body), headers=headers)
        response = connection.getresponse()
        text = response.read()
        timings[kind].append(time.perf_counter() - started)
        if response.status >= 300:
            raise SystemExit(f"{method} {path}: HTTP {response.status}: {text[:300]!r}")
        return json.loads(text)

    for s in range(args.subjects):
        subject = f"bench-{run}-{s}-value"
        for v in range(1, args.versions + 1):
            body = {"schema": schema(v), "schemaType": "AVRO"}
            answer = timed("register (new version)", "POST", f"/subjects/{subject}/versions", body)
            registered.append((subject, body, answer["id"]))
    for subject, body, _ in registered:
        timed("register (existing schema)", "POST", f"/subjects/{subject}/versions", body)
        timed("lookup", "POST", f"/subjects/{subject}", body)
    for _, _, schema_id in registered:
        timed("get by id", "GET", f"/schemas/ids/{schema_id}")
    for kind, samples in timings.items():
        print(f"{kind:28} n={len(samples):5}  p50 {percentile(samples, 0.5):6.2f} ms   p99 {percentile(samples, 0.99):6.2f} ms")


if __name__ == "__main__":
    main()
