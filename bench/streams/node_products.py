"""Writes the two products of a stream-node drill or benchmark run, as contract files:
`drill-signups` (customer-signed-up's stored contract on a topic of the run) and
`drill-signups-copy`, declaring a node of KIND reading the first: for `pass-through` with
the same fields, for `customer-enrichment` with enriched-customer-signed-up's fields.

    python node_products.py FOLDER RUN NODE KIND

FOLDER holds customer-signed-up.json and enriched-customer-signed-up.json (the stored
contract documents); the contracts are written there as drill-signups.yaml and
drill-signups-copy.yaml (JSON is YAML).
"""
import json
import sys

folder, run, node, kind = sys.argv[1:5]
signups = json.load(open(f"{folder}/customer-signed-up.json"))
enriched = json.load(open(f"{folder}/enriched-customer-signed-up.json"))
input_topic = f"customer-management.drill-signups-{run}.v1"


def product(slug, topic, extra, source):
    document = json.loads(json.dumps(source))
    document["domain"] = "customer-management"
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


product("drill-signups", input_topic, [], signups)
product("drill-signups-copy", f"customer-management.drill-signups-copy-{run}.v1", [
    {"property": "inputPorts", "value": [input_topic]},
    {"property": "processor", "value": node},
    {"property": "nodeKind", "value": kind},
], enriched if kind == "customer-enrichment" else signups)
