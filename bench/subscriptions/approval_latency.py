#!/usr/bin/env python3
"""Approval → ACL on the broker, as an owner and the broker see it (`make bench`).

For each product slug read from stdin (one per line): an analyst requests access
(`POST /api/v1/subscriptions`), an admin approves it, and the clock runs from the approve
response until DescribeAcls on the real broker shows the principal's READ on the topic
(polled every 2 ms with Confluent's Python AdminClient) and, separately, until the API says
`active`. Prints p50/p99/max of both.

Usage: approval_latency.py --url http://127.0.0.1:PORT --requester TOKEN --approver TOKEN \
           --bootstrap HOST:PORT --admin-user USER --admin-password PASSWORD < slugs
"""

import argparse
import json
import sys
import time
import urllib.request

from confluent_kafka.admin import (AclBindingFilter, AclOperation, AclPermissionType,
                                   AdminClient, ResourcePatternType, ResourceType)


def api(base, token, method, path, body=None):
    request = urllib.request.Request(
        base + path,
        method=method,
        data=None if body is None else json.dumps(body).encode(),
        headers={"authorization": f"Bearer {token}", "content-type": "application/json"},
    )
    with urllib.request.urlopen(request, timeout=30) as response:
        return json.loads(response.read())


def percentile(samples, p):
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, int(len(ordered) * p))] * 1000


def main() -> None:
    parser = argparse.ArgumentParser()
    for name in ("--url", "--requester", "--approver", "--bootstrap", "--admin-user", "--admin-password"):
        parser.add_argument(name, required=True)
    args = parser.parse_args()
    admin = AdminClient({
        "bootstrap.servers": args.bootstrap,
        "security.protocol": "SASL_PLAINTEXT",
        "sasl.mechanisms": "PLAIN",
        "sasl.username": args.admin_user,
        "sasl.password": args.admin_password,
    })
    to_acl, to_active = [], []
    for n, slug in enumerate(line.strip() for line in sys.stdin if line.strip()):
        created = api(args.url, args.requester, "POST", "/api/v1/subscriptions",
                      {"product": slug, "purpose": "benchmark"})
        topic = created["topics"][0]
        principal = created["principal"]
        wanted = AclBindingFilter(ResourceType.TOPIC, topic, ResourcePatternType.LITERAL,
                                  principal, "*", AclOperation.READ, AclPermissionType.ALLOW)
        api(args.url, args.approver, "POST", f"/api/v1/subscriptions/{created['id']}/approve", {})
        approved = time.perf_counter()
        acl_at = active_at = None
        while acl_at is None or active_at is None:
            now = time.perf_counter()
            if now - approved > 30:
                raise SystemExit(f"{slug}: no ACL/active within 30 s")
            if acl_at is None and admin.describe_acls(wanted).result(timeout=10):
                acl_at = time.perf_counter()
            if active_at is None and api(args.url, args.requester, "GET",
                                         f"/api/v1/subscriptions/{created['id']}")["state"] == "active":
                active_at = time.perf_counter()
            time.sleep(0.002)
        to_acl.append(acl_at - approved)
        to_active.append(active_at - approved)
    for what, samples in (("approve → ACL on the broker", to_acl), ("approve → state active", to_active)):
        print(f"{what:30} n={len(samples):4}  p50 {percentile(samples, 0.5):7.1f} ms   "
              f"p99 {percentile(samples, 0.99):7.1f} ms   max {max(samples) * 1000:7.1f} ms")


if __name__ == "__main__":
    main()
