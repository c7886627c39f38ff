"""Writes the two products of a stream-node drill or benchmark run, as contract files:
`drill-signups` (customer-signed-up's stored contract on a topic of the run) and
`drill-signups-copy` (the same fields, declaring a pass-through node reading the first).

    python node_products.py FOLDER RUN NODE

FOLDER holds customer-signed-up.json (the stored contract document); the contracts are
written there as drill-signups.yaml and drill-signups-copy.yaml (JSON is YAML).
"""
import json
import sys

folder, run, node = sys.argv[1:4]
source = json.load(open(f"{folder}/customer-signed-up.json"))
input_topic = f"customer-management.drill-signups-{run}.v1"


def product(slug, topic, extra):
    document = json.loads(json.dumps(source))
    document["id"] = f"{document['id']}-{slug}"
    document["dataProduct"] = slug
    document["status"] = "active"
    document["description"]["purpose"] = f"Node drill copy of customer-signed-up ({slug})."
    document["schema"][0]["physicalName"] = topic
    kept = [p for p in document.get("customProperties", [])
            if p.get("property") not in ("inputPorts", "processor", "nodeKind")]
    document["customProperties"] = kept + extra
    with open(f"{folder}/{slug}.yaml", "w") as out:
        json.dump(document, out)


product("drill-signups", input_topic, [])
product("drill-signups-copy", f"customer-management.drill-signups-copy-{run}.v1", [
    {"property": "inputPorts", "value": [input_topic]},
    {"property": "processor", "value": node},
    {"property": "nodeKind", "value": "pass-through"},
])
