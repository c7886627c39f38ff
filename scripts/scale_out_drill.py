"""The scale-out drill's checks (scripts/scale-out-drill.sh starts what they need): two
`meshmart serve` processes, A and B, on one database and broker, behind HAProxy in round
robin. Each check prints what it measured; any failed check ends the drill with exit 1.

    python scale_out_drill.py BALANCER_URL A_URL B_URL A_PID KCAT_CONFIG CHECKER_GROUP

Environment: DATABASE_URL (the drill's database; read with psql for what the API does not
show: outbox rows, audit counts).
"""
import json
import os
import signal
import subprocess
import sys
import threading
import time
import uuid

import requests
from confluent_kafka import Producer
from confluent_kafka.admin import AclBindingFilter, AclOperation, AclPermissionType, \
    AdminClient, ResourcePatternType, ResourceType

balancer, a_url, b_url, a_pid, kcat_config, checker_group = sys.argv[1:7]
PASSWORD = "meshmart"
failures = []


def say(message):
    print(f"[scale-out] {message}", flush=True)


def check(ok, message):
    say(("ok    " if ok else "FAIL  ") + message)
    if not ok:
        failures.append(message)


def psql(sql):
    out = subprocess.run(["psql", os.environ["DATABASE_URL"], "-At", "-c", sql],
                         check=True, capture_output=True, text=True)
    return out.stdout.strip()


def sign_in(url, email, password=PASSWORD):
    session = requests.Session()
    response = session.post(f"{url}/api/v1/session", json={"email": email, "password": password})
    response.raise_for_status()
    return session


def bearer(token):
    return {"Authorization": f"Bearer {token}"}


def until(predicate, timeout):
    """Polls `predicate` every 10 ms; returns the seconds it took to hold, or None."""
    started = time.monotonic()
    while time.monotonic() - started < timeout:
        if predicate():
            return time.monotonic() - started
        time.sleep(0.01)
    return None


def kafka_config():
    config = {}
    for line in open(kcat_config):
        line = line.strip()
        if line and not line.startswith("#") and "=" in line:
            key, value = line.split("=", 1)
            config[key.strip()] = value.strip()
    return config


# --- 1. A session and an API token work on either process --------------------------------
admin = sign_in(balancer, "admin@meshmart.local")
cookie = admin.cookies.get("meshmart_session")
seen = [requests.get(f"{url}/api/v1/session", cookies={"meshmart_session": cookie})
        for url in (a_url, b_url)]
check(all(r.status_code == 200 and r.json()["email"] == "admin@meshmart.local" for r in seen),
      "a session signed in through the balancer is known to A and to B")
token = admin.post(f"{balancer}/api/v1/tokens", json={"name": "scale-out drill"}).json()
seen = [requests.get(f"{url}/api/v1/session", headers=bearer(token["token"])) for url in (a_url, b_url)]
check(all(r.status_code == 200 for r in seen), "an API token works on A and on B")

# --- 2. A role change, a token revocation and a new product reach both within 1 s ------
analyst_email = "analyst2@meshmart.local"
analyst = sign_in(b_url, analyst_email)
analyst_id = analyst.get(f"{b_url}/api/v1/session").json()["id"]
analyst_token = analyst.post(f"{b_url}/api/v1/tokens", json={"name": "scale-out drill"}).json()
owner_only = "/api/v1/domains/marketing/service-accounts"


def status_on(url, path, headers):
    return requests.get(f"{url}{path}", headers=headers).status_code


check(status_on(b_url, owner_only, bearer(analyst_token["token"])) == 403,
      "before the change, an analyst may not read a domain's service accounts on B")
role_change = {"id": analyst_id, "role": "owner", "domain": "marketing"}
response = requests.post(f"{a_url}/api/fn/admin_set_role", data={**role_change, "grant": "true"},
                         cookies={"meshmart_session": cookie})
check(response.status_code == 200, f"the admin makes the analyst a marketing owner on A ({response.status_code})")
took = until(lambda: status_on(b_url, owner_only, bearer(analyst_token["token"])) == 200, 5)
check(took is not None and took < 1, f"B lets the new owner in {took and round(took * 1000)} ms after A committed the grant")
response = requests.post(f"{a_url}/api/fn/admin_set_role", data={**role_change, "grant": "false"},
                         cookies={"meshmart_session": cookie})
took = until(lambda: status_on(b_url, owner_only, bearer(analyst_token["token"])) == 403, 5)
check(response.status_code == 200 and took is not None and took < 1,
      f"B refuses the former owner {took and round(took * 1000)} ms after A committed the revocation")

response = requests.delete(f"{a_url}/api/v1/tokens/{analyst_token['id']}", headers=bearer(analyst_token["token"]))
took = until(lambda: status_on(b_url, "/api/v1/session", bearer(analyst_token["token"])) == 401, 5)
check(response.status_code == 204 and took is not None and took < 1,
      f"a token revoked on A is refused by B after {took and round(took * 1000)} ms")

run = uuid.uuid4().hex[:8]
slug = f"scale-out-signups-{run}"
topic = f"customer-management.scale-out-signups-{run}.v1"
document = json.loads(psql("select cv.document from contract_versions cv join products p on p.id = cv.product_id "
                           "where p.slug = 'customer-signed-up' order by cv.created_at desc limit 1"))
document["id"] = f"{document['id']}-{run}"
document["dataProduct"] = slug
document["description"]["purpose"] = f"Scale-out drill {run}: sign-ups, counted once by two checkers."
document["schema"][0]["physicalName"] = topic
document["customProperties"] = [p for p in document.get("customProperties", [])
                                if p.get("property") not in ("inputPorts", "processor", "nodeKind")]
owner = sign_in(a_url, "owner.customer-management@meshmart.local")
response = owner.put(f"{a_url}/api/v1/products/{slug}/contract", data=json.dumps(document))
check(response.status_code == 201, f"an owner registers {slug} on A ({response.status_code})")


def found_on_b():
    found = requests.get(f"{b_url}/api/v1/search", params={"q": "scale-out drill"},
                         headers=bearer(token["token"])).json()
    return any(hit["slug"] == slug for hit in found["hits"])


took = until(found_on_b, 5)
check(took is not None and took < 1, f"B's search finds the new product {took and round(took * 1000)} ms after A committed it")

# --- 3. The login throttle counts across processes ----------------------------------------
burst = int(os.environ.get("MESHMART__AUTH__LOGIN_BURST_PER_ACCOUNT", "10"))
codes = [requests.post(f"{url}/api/v1/session",
                       json={"email": "analyst3@meshmart.local", "password": "wrong"}).status_code
         for url in [a_url, b_url] * burst]
check(codes[:burst] == [401] * burst and set(codes[burst:]) == {429},
      f"{burst} wrong passwords spread over A and B spend one budget, then both throttle ({codes.count(429)} x 429)")

# --- 4. Background workers never double-act ----------------------------------------------
subscription = analyst.post(f"{b_url}/api/v1/subscriptions", json={
    "product": slug, "purpose": "Scale-out drill: one approval, provisioned once."}).json()
response = owner.post(f"{a_url}/api/v1/subscriptions/{subscription['id']}/approve", json={})
check(response.status_code == 200, "the owner approves the request on A")
took = until(lambda: analyst.get(f"{b_url}/api/v1/subscriptions/{subscription['id']}").json()["state"] == "active", 30)
check(took is not None, f"the outbox provisions it ({took and round(took, 1)} s)")
outbox = psql(f"select count(*), count(*) filter (where attempts = 1 and done_at is not null) from outbox "
              f"where payload::text like '%{subscription['id']}%' or payload::text like '%{topic}%'").split("|")
check(int(outbox[0]) >= 2 and outbox[0] == outbox[1],
      f"the new product's topic and the approval's ACLs were each made by one worker, once ({outbox[1]} of {outbox[0]} effects)")
activations = psql(f"select count(*) from audit_log where action = 'subscription.activate' "
                   f"and target = 'subscription:{subscription['id']}'")
check(activations == "1", f"the subscription was activated once ({activations} audit event)")

# Expiry: both reconcilers see the end date pass.
psql(f"update subscriptions set until = now() where id = '{subscription['id']}'")
took = until(lambda: psql(f"select state from subscriptions where id = '{subscription['id']}'") == "expired", 15)
time.sleep(2.5)  # more rounds of both expiry jobs
expiries = psql(f"select count(*) from audit_log where action = 'subscription.expire' "
                f"and target = 'subscription:{subscription['id']}'")
notices = psql(f"select count(*) from notifications where kind = 'subscription.expired' "
               f"and link like '%{subscription['id']}'")
check(took is not None and expiries == "1" and notices == "1",
      f"the subscription expired once ({expiries} audit event, {notices} notification)")

# The reconciler: an ACL deleted behind Meshmart's back is put back once.
admin_client = AdminClient(kafka_config())
grants = psql("select count(*) from subscriptions where state = 'active'")
acl = AclBindingFilter(ResourceType.TOPIC, "customer-management.customer-signed-up.v1",
                       ResourcePatternType.LITERAL, None, None, AclOperation.READ, AclPermissionType.ALLOW)
deleted = admin_client.delete_acls([acl])[acl].result()
repairs_before = int(psql("select count(*) from audit_log where action = 'acl.repair.create'"))
took = until(lambda: int(psql("select count(*) from audit_log where action = 'acl.repair.create'"))
             >= repairs_before + len(deleted), 20)
time.sleep(2.5)
repairs = int(psql("select count(*) from audit_log where action = 'acl.repair.create'")) - repairs_before
check(len(deleted) > 0 and took is not None and repairs == len(deleted),
      f"{len(deleted)} READ ACLs deleted on the broker were each repaired once ({repairs} repairs)")

# The record checker: one consumer group over both processes, each record counted once.
groups = admin_client.describe_consumer_groups([checker_group])[checker_group].result()
owned = [len(member.assignment.topic_partitions) for member in groups.members]
check(len(owned) == 2 and all(n > 0 for n in owned),
      f"the checker group has one member per process, each with partitions ({owned})")
records = 600
producer = Producer(kafka_config())
for i in range(records):
    producer.produce(topic, key=str(i), value=b"not in the wire format")
check(producer.flush(30) == 0, f"{records} records produced to {topic}")


def events_total():
    health = admin.get(f"{balancer}/api/v1/products/{slug}/health").json()
    return health.get("events_total", 0)


took = until(lambda: events_total() >= records, 60)
time.sleep(3)
total = events_total()
per_process = []
for url in (a_url, b_url):
    metrics = requests.get(f"{url}/metrics").text
    per_process.append(sum(float(line.rsplit(" ", 1)[1]) for line in metrics.splitlines()
                           if line.startswith("meshmart_stream_records_total{") and f'product="{slug}"' in line))
check(took is not None and total == records and sum(per_process) == records,
      f"{records} records produced, {total} counted (A checked {per_process[0]:.0f}, B {per_process[1]:.0f})")

# --- 5. Killing a process under load loses no acknowledged write ------------------------
acknowledged, failed, lock = [], [], threading.Lock()
stop = threading.Event()


def writer(n):
    session = requests.Session()
    i = 0
    while not stop.is_set():
        name = f"load {n}-{i}"
        i += 1
        started = time.monotonic()
        try:
            response = session.post(f"{balancer}/api/v1/tokens", json={"name": name},
                                    headers=bearer(token["token"]), timeout=10)
            with lock:
                (acknowledged if response.status_code == 201 else failed).append(
                    (name, response.status_code, time.monotonic(), started))
        except requests.RequestException as error:
            with lock:
                failed.append((name, type(error).__name__, time.monotonic(), started))


writers = 8
threads = [threading.Thread(target=writer, args=(n,)) for n in range(writers)]
for thread in threads:
    thread.start()
time.sleep(3)
os.kill(int(a_pid), signal.SIGKILL)
killed_at = time.monotonic()
time.sleep(4)
stop.set()
for thread in threads:
    thread.join()
after = [a for a in acknowledged if a[2] > killed_at + 1]
stored = set(psql("select name from api_tokens where name like 'load %'").splitlines())
lost = [name for name, *_ in acknowledged if name not in stored]
check(not lost, f"{len(acknowledged)} acknowledged writes, {len(lost)} lost after A was killed")
# The balancer knows A is gone after two failed checks 500 ms apart. Until then a request
# may reach the dying process: the ones in flight at the kill, and (rarely) one a writer
# sent while the kernel was still tearing A down. A request sent after that must not fail.
detected = killed_at + 1.0
late = [f for f in failed if f[3] > detected or f[2] > killed_at + 1.5]
check(len(failed) <= 2 * writers and not late,
      f"{len(failed)} requests failed as A died ({writers} writers: at most one in flight and one "
      f"sent during its teardown each), all sent before the balancer could know; {len(late)} "
      f"sent or failed later ({[f[1] for f in failed]})")
check(len(after) > 0, f"B served {len(after)} writes through the balancer after the kill")

if failures:
    say(f"{len(failures)} check(s) failed")
    sys.exit(1)
say("all checks passed")
