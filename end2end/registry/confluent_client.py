#!/usr/bin/env python3
"""Drives Confluent's own Python Schema Registry client against Meshmart's /registry API.

What it proves: an unmodified `confluent-kafka[schemaregistry,avro]` client (the version
scripts/setup.sh pins), authenticating with HTTP Basic `<email>:<Meshmart API token>` (a wrong
token gets 401; the token also works as a Bearer token), can
register, fetch, look up, version, compatibility-check, configure and delete Avro and JSON
schemas on Meshmart, reading the response fields and error codes it expects; that its
AvroSerializer / AvroDeserializer (default subject-name strategy, so including its
association lookup and fallback to `<topic>-value`) round-trip a record through Meshmart's
schema ids, with no Kafka involved; and that an Avro schema referencing another subject's
named type (`references`) registers, reads back, is found by `get_referenced_by`, evolves
compatibly and incompatibly as the referenced type changes, protects the referenced version
from deletion, and round-trips a record through the serializer, which resolves the reference;
and that Protobuf schemas with an import (a reference) register as .proto text, read back
(also as `format=serialized`), look up, answer a compatible and a breaking change as
Confluent's registry would, and round-trip a record through ProtobufSerializer /
ProtobufDeserializer, which register and read the schemas as serialized descriptors.

Every check prints `ok  <what>`; the first failure prints `FAIL <what>: <why>` to stderr and
exits 1. Every check that must reach the server uses a client with empty caches, because the
client answers many calls from its cache without any request.

Usage:
  python end2end/registry/confluent_client.py --url http://127.0.0.1:PORT/registry \
      --user alice@example.com --token mm_... [--subject-prefix TOPIC]
Subjects used: `<TOPIC>-value` (Avro), `<TOPIC>-key` (JSON Schema), `<TOPIC>-address` and
`<TOPIC>-shipments-value` (references), `meshmart/address.proto` and `<TOPIC>-parcels-value`
(Protobuf); they must not exist
yet, so TOPIC defaults to a fresh `e2e-registry-<random>` name. Default compatibility is
expected to be BACKWARD (Confluent's default); no Kafka broker is needed.
"""

import argparse
import json
import sys
import traceback
import uuid

from confluent_kafka.schema_registry import (
    Schema, SchemaReference, SchemaRegistryClient, SchemaRegistryError,
)
from confluent_kafka.schema_registry.avro import AvroDeserializer, AvroSerializer
from confluent_kafka.schema_registry.protobuf import ProtobufDeserializer, ProtobufSerializer
from google.protobuf import descriptor_pb2, descriptor_pool, timestamp_pb2
from google.protobuf.message_factory import GetMessageClass
from confluent_kafka.serialization import MessageField, SerializationContext

V1 = {
    "type": "record",
    "name": "Order",
    "namespace": "meshmart.e2e",
    "fields": [
        {"name": "id", "type": "string"},
        {"name": "qty", "type": "int"},
    ],
}
# v2 adds a field WITH a default: BACKWARD compatible.
V2 = {**V1, "fields": V1["fields"] + [{"name": "currency", "type": "string", "default": "EUR"}]}
# v3 adds a field WITHOUT a default to v2: not BACKWARD compatible.
V3_BAD_FIELD = "warehouse"
V3 = {**V1, "fields": V2["fields"] + [{"name": V3_BAD_FIELD, "type": "string"}]}

JSON_SCHEMA = {
    "$schema": "http://json-schema.org/draft-07/schema#",
    "title": "OrderKey",
    "type": "object",
    "properties": {"sku": {"type": "string"}},
    "required": ["sku"],
}

# A shared named type in its own subject, and a record that uses it by reference.
ADDRESS = {
    "type": "record",
    "name": "Address",
    "namespace": "meshmart.shared",
    "fields": [{"name": "city", "type": "string"}],
}
ADDRESS_V2 = {**ADDRESS, "fields": ADDRESS["fields"] + [{"name": "country", "type": "string", "default": "NL"}]}
# v3 adds a field WITHOUT a default: a reader using it cannot read v2 data.
ADDRESS_V3_BAD_FIELD = "zip"
ADDRESS_V3 = {**ADDRESS, "fields": ADDRESS_V2["fields"] + [{"name": ADDRESS_V3_BAD_FIELD, "type": "string"}]}
SHIPMENT = {
    "type": "record",
    "name": "Shipment",
    "namespace": "meshmart.e2e",
    "fields": [{"name": "id", "type": "string"}, {"name": "to", "type": "meshmart.shared.Address"}],
}

# Protobuf: a shared Address in its own file (subject = import path, as the serializer's
# default reference naming has it) and a Parcel that imports it and a well-known type.
PROTO_ADDRESS = """syntax = "proto3";
package meshmart;
message Address { string street = 1; string city = 2; }
"""
PROTO_PARCEL = """// What a parcel is.
syntax = "proto3";
package meshmart;
import "meshmart/address.proto";
import "google/protobuf/timestamp.proto";
message Parcel {
  string id = 1;
  meshmart.Address to = 2;
  google.protobuf.Timestamp shipped_at = 3;
}
"""
# Compatible: a new field. Breaking: `id` from string to int64.
PROTO_PARCEL_ADDED = PROTO_PARCEL.replace("shipped_at = 3;", "shipped_at = 3;\n  string carrier = 4;")
PROTO_PARCEL_BROKEN = PROTO_PARCEL.replace("string id = 1;", "int64 id = 1;")

COMPAT_LEVELS = {
    "BACKWARD", "BACKWARD_TRANSITIVE", "FORWARD", "FORWARD_TRANSITIVE",
    "FULL", "FULL_TRANSITIVE", "NONE",
}


class CheckFailed(Exception):
    pass


def avro(d):
    return Schema(json.dumps(d), schema_type="AVRO")


LAST_OK = None  # the check before a failure, to say where an unexpected error came from


def ok(what):
    global LAST_OK
    LAST_OK = what
    print(f"ok  {what}", flush=True)


def where():
    return f"after check '{LAST_OK}'" if LAST_OK else "before the first check"


def expect(cond, what, detail=""):
    if not cond:
        raise CheckFailed(f"{what}{': ' + detail if detail else ''}")
    ok(what)


def expect_error(what, fn, http, code, message_has=None):
    """Runs fn, which must raise SchemaRegistryError with this HTTP status and error_code."""
    try:
        result = fn()
    except SchemaRegistryError as e:
        if e.http_status_code != http or e.error_code != code:
            raise CheckFailed(
                f"{what}: expected HTTP {http} / error_code {code}, got HTTP {e.http_status_code} "
                f"/ error_code {e.error_code} / message {e.error_message!r}"
            )
        if message_has is not None and message_has not in (e.error_message or ""):
            raise CheckFailed(f"{what}: message {e.error_message!r} does not mention {message_has!r}")
        ok(what)
        return e
    raise CheckFailed(f"{what}: expected SchemaRegistryError {code}, call returned {result!r}")


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--url", required=True, help="registry base URL, e.g. http://127.0.0.1:3000/registry")
    ap.add_argument("--user", required=True, help="Basic-auth user name (the user's email; ignored by Meshmart)")
    ap.add_argument("--token", required=True, help="Meshmart API token, sent as the Basic-auth password")
    ap.add_argument("--subject-prefix", default=None, help="topic name; subjects are <topic>-value and <topic>-key")
    args = ap.parse_args()

    topic = args.subject_prefix or f"e2e-registry-{uuid.uuid4().hex[:8]}"
    subject = f"{topic}-value"
    json_subject = f"{topic}-key"
    conf = {
        "url": args.url,
        "basic.auth.user.info": f"{args.user}:{args.token}",
        "timeout": 10,
        "max.retries": 0,  # a 5xx should fail the check at once, not after back-off
    }

    def client():
        """A client with empty caches, so the call below really goes to the server."""
        return SchemaRegistryClient(dict(conf))

    # --- authentication ---------------------------------------------------------------------
    bad = SchemaRegistryClient({**conf, "basic.auth.user.info": f"{args.user}:mm_not_a_token"})
    try:
        bad.get_subjects()
        raise CheckFailed("a wrong token is rejected: get_subjects succeeded")
    except SchemaRegistryError as e:
        expect(e.http_status_code == 401, "a wrong token is rejected with HTTP 401",
               f"got HTTP {e.http_status_code} / {e.error_code} / {e.error_message!r}")

    bearer = SchemaRegistryClient({
        "url": args.url, "timeout": 10, "max.retries": 0,
        "bearer.auth.credentials.source": "STATIC_TOKEN", "bearer.auth.token": args.token,
        "bearer.auth.logical.cluster": "meshmart",  # required by the client, sent as target-sr-cluster
    })
    subjects = bearer.get_subjects()
    expect(isinstance(subjects, list), "the token also works as `Authorization: Bearer`", repr(subjects))

    # --- register, re-register, fetch ----------------------------------------------------------
    id1 = client().register_schema(subject, avro(V1))
    expect(isinstance(id1, int) and id1 > 0, f"register v1 under {subject} -> id {id1}", repr(id1))

    again = client().register_schema(subject, avro(V1))
    expect(again == id1, "registering the identical schema again returns the same id", f"{again} != {id1}")

    again = client().register_schema(subject, avro(V1), normalize_schemas=True)
    expect(again == id1, "registering it with normalize=true returns the same id", f"{again} != {id1}")

    got = client().get_schema(id1)
    expect(got.schema_type == "AVRO" and json.loads(got.schema_str) == V1,
           "get_schema(id) returns the v1 Avro schema", f"{got!r}")

    latest = client().get_latest_version(subject)
    expect(latest.version == 1 and latest.schema_id == id1 and latest.subject == subject
           and json.loads(latest.schema.schema_str) == V1,
           "get_latest_version is version 1 with that id", f"{latest!r}")

    subjects = client().get_subjects()
    expect(isinstance(subjects, list) and subject in subjects, "get_subjects lists the subject", repr(subjects))

    # --- evolution and compatibility -------------------------------------------------------------
    id2 = client().register_schema(subject, avro(V2))
    expect(isinstance(id2, int) and id2 != id1, f"register v2 (new field with a default) -> id {id2}", repr(id2))

    latest = client().get_latest_version(subject)
    expect(latest.version == 2 and latest.schema_id == id2, "v2 is version 2", f"{latest!r}")

    v1 = client().get_version(subject, 1)
    expect(v1.version == 1 and v1.schema_id == id1 and json.loads(v1.schema.schema_str) == V1,
           "get_version(subject, 1) returns v1", f"{v1!r}")

    compatible = client().test_compatibility(subject, avro(V3))
    expect(compatible is False, "test_compatibility of a new field without a default is False", repr(compatible))

    compatible = client().test_compatibility(subject, avro(V3), verbose=True)
    expect(compatible is False, "test_compatibility(verbose=True) is False too", repr(compatible))

    compatible = client().test_compatibility(subject, avro(V2), version=1)
    expect(compatible is True, "test_compatibility of v2 against version 1 is True", repr(compatible))

    expect_error(f"registering it fails with HTTP 409 / error_code 409 naming '{V3_BAD_FIELD}'",
                 lambda: client().register_schema(subject, avro(V3)), 409, 409, V3_BAD_FIELD)

    found = client().lookup_schema(subject, avro(V1))
    expect(found.version == 1 and found.schema_id == id1 and found.subject == subject,
           "lookup_schema finds v1 as version 1", f"{found!r}")

    versions = client().get_versions(subject)
    expect(versions == [1, 2], "get_versions is [1, 2]", repr(versions))

    # --- compatibility config --------------------------------------------------------------------
    global_level = client().get_compatibility()
    expect(global_level in COMPAT_LEVELS, f"global get_compatibility is {global_level}", repr(global_level))

    answer = client().set_compatibility(subject, "NONE")
    expect(isinstance(answer, dict) and answer.get("compatibility") == "NONE",
           "set_compatibility(subject, NONE) answers {compatibility: NONE}", repr(answer))

    level = client().get_compatibility(subject)
    expect(level == "NONE", "get_compatibility(subject) reads NONE back", repr(level))

    # --- Avro serializer / deserializer round trip ------------------------------------------------
    record = {"id": "order-1", "qty": 3, "currency": "USD"}
    ctx = SerializationContext(topic, MessageField.VALUE)
    serializer = AvroSerializer(client(), json.dumps(V2),
                                conf={"auto.register.schemas": False, "use.latest.version": True})
    data = serializer(record, ctx)
    expect(isinstance(data, bytes) and data[0] == 0 and int.from_bytes(data[1:5], "big") == id2,
           f"AvroSerializer(use.latest.version) frames the record with schema id {id2}", repr(data))

    back = AvroDeserializer(client())(data, ctx)
    expect(back == record, "AvroDeserializer reads the same record back", repr(back))

    # --- JSON Schema under a second subject -----------------------------------------------------
    jid = client().register_schema(json_subject, Schema(json.dumps(JSON_SCHEMA), schema_type="JSON"))
    expect(isinstance(jid, int) and jid > 0, f"register a JSON Schema under {json_subject} -> id {jid}", repr(jid))

    got = client().get_schema(jid)
    expect(got.schema_type == "JSON" and json.loads(got.schema_str) == JSON_SCHEMA,
           "get_schema(id) returns it with schemaType JSON", f"{got!r}")

    latest = client().get_latest_version(json_subject)
    expect(latest.schema.schema_type == "JSON" and latest.version == 1 and latest.schema_id == jid,
           "get_latest_version of the JSON subject has schemaType JSON", f"{latest!r}")

    # --- deleting versions --------------------------------------------------------------------------
    expect_error("permanent delete before a soft delete fails with error_code 40407",
                 lambda: client().delete_version(subject, 1, permanent=True), 404, 40407)

    deleted = client().delete_version(subject, 1)
    expect(deleted == 1, "delete_version(subject, 1) soft-deletes version 1", repr(deleted))

    versions = client().get_versions(subject)
    expect(versions == [2], "get_versions is [2] after the soft delete", repr(versions))

    versions = client().get_versions(subject, deleted=True)
    expect(versions == [1, 2], "get_versions(deleted=True) still lists version 1", repr(versions))

    expect_error("get_version(subject, 1) is error_code 40402 after the soft delete",
                 lambda: client().get_version(subject, 1), 404, 40402)

    deleted = client().delete_version(subject, 1, permanent=True)
    expect(deleted == 1, "delete_version(subject, 1, permanent=True) removes it", repr(deleted))

    versions = client().get_versions(subject, deleted=True)
    expect(versions == [2], "get_versions(deleted=True) is [2] after the permanent delete", repr(versions))

    # --- deleting a subject ---------------------------------------------------------------------------
    deleted = client().delete_subject(json_subject)
    expect(deleted == [1], f"delete_subject({json_subject}) soft-deletes [1]", repr(deleted))

    expect_error("the soft-deleted subject is error_code 40401",
                 lambda: client().get_versions(json_subject), 404, 40401)

    subjects = client().get_subjects()
    expect(json_subject not in subjects and subject in subjects,
           "get_subjects no longer lists it", repr(subjects))

    deleted = client().delete_subject(json_subject, permanent=True)
    expect(deleted == [1], f"delete_subject({json_subject}, permanent=True) removes [1]", repr(deleted))

    subjects = client().get_subjects(deleted=True)
    expect(json_subject not in subjects, "get_subjects(deleted=True) no longer lists it", repr(subjects))

    # --- references: a record using another subject's named type -------------------------------
    references(client, topic)

    # --- Protobuf with an import --------------------------------------------------------------------
    protobuf(client, topic)

    # --- unknown subject ----------------------------------------------------------------------------
    expect_error("an unknown subject is HTTP 404 / error_code 40401",
                 lambda: client().get_latest_version(f"{topic}-no-such-subject-value"), 404, 40401)

    print("all registry checks passed", flush=True)


def references(client, topic):
    address_subject = f"{topic}-address"
    ship_topic = f"{topic}-shipments"
    ship_subject = f"{ship_topic}-value"
    address_id = client().register_schema(address_subject, avro(ADDRESS))
    expect(isinstance(address_id, int), f"register Address under {address_subject} -> id {address_id}")

    def shipment(address_version):
        ref = SchemaReference("meshmart.shared.Address", address_subject, address_version)
        return Schema(json.dumps(SHIPMENT), schema_type="AVRO", references=[ref])

    sid = client().register_schema(ship_subject, shipment(1))
    expect(isinstance(sid, int) and sid != address_id,
           f"register Shipment referencing Address v1 under {ship_subject} -> id {sid}", repr(sid))

    got = client().get_schema(sid)
    refs = [(r.name, r.subject, r.version) for r in got.references or []]
    expect(refs == [("meshmart.shared.Address", address_subject, 1)],
           "get_schema(id) returns the schema's references", repr(refs))

    latest = client().get_latest_version(ship_subject)
    refs = [(r.name, r.subject, r.version) for r in latest.schema.references or []]
    expect(latest.schema_id == sid and refs == [("meshmart.shared.Address", address_subject, 1)],
           "get_latest_version returns the references too", f"{latest!r}")

    found = client().lookup_schema(ship_subject, shipment(1))
    expect(found.version == 1 and found.schema_id == sid,
           "lookup_schema with the same references finds version 1", f"{found!r}")

    by = client().get_referenced_by(address_subject, 1)
    expect(by == [sid], f"get_referenced_by({address_subject}, 1) is [{sid}]", repr(by))

    expect_error("deleting the referenced Address v1 is refused with error_code 42206",
                 lambda: client().delete_version(address_subject, 1), 422, 42206)

    # Address evolves compatibly; the shipment follows it.
    client().register_schema(address_subject, avro(ADDRESS_V2))
    expect(client().test_compatibility(ship_subject, shipment(2)) is True,
           "Shipment using Address v2 (a field with a default) is compatible")
    sid2 = client().register_schema(ship_subject, shipment(2))
    expect(sid2 not in (sid, address_id), f"register Shipment referencing Address v2 -> id {sid2}", repr(sid2))

    # Address v3 (its own subject set to NONE) adds a field without a default: a Shipment using
    # it breaks BACKWARD, seen only through the reference.
    client().set_compatibility(address_subject, "NONE")
    client().register_schema(address_subject, avro(ADDRESS_V3))
    compatible = client().test_compatibility(ship_subject, shipment(3), verbose=True)
    expect(compatible is False, "Shipment using Address v3 (a field without a default) is not compatible",
           repr(compatible))
    expect_error("registering it is error_code 409 naming the field",
                 lambda: client().register_schema(ship_subject, shipment(3)), 409, 409, ADDRESS_V3_BAD_FIELD)

    # The serializer resolves the reference (it fetches Address v2) and the deserializer too.
    record = {"id": "ship-1", "to": {"city": "Utrecht", "country": "NL"}}
    ctx = SerializationContext(ship_topic, MessageField.VALUE)
    serializer = AvroSerializer(client(), shipment(2),
                                conf={"auto.register.schemas": False, "use.latest.version": True})
    data = serializer(record, ctx)
    expect(isinstance(data, bytes) and int.from_bytes(data[1:5], "big") == sid2,
           f"AvroSerializer frames a Shipment with the referencing schema's id {sid2}", repr(data))
    back = AvroDeserializer(client())(data, ctx)
    expect(back == record, "AvroDeserializer resolves the reference and reads the record back", repr(back))


def parcel_classes():
    """The Parcel message class as generated code would give it, built without protoc."""
    F = descriptor_pb2.FieldDescriptorProto
    address = descriptor_pb2.FileDescriptorProto(name="meshmart/address.proto", package="meshmart", syntax="proto3")
    a = address.message_type.add(name="Address")
    a.field.add(name="street", number=1, type=F.TYPE_STRING, label=F.LABEL_OPTIONAL)
    a.field.add(name="city", number=2, type=F.TYPE_STRING, label=F.LABEL_OPTIONAL)
    parcel = descriptor_pb2.FileDescriptorProto(
        name="meshmart/parcel.proto", package="meshmart", syntax="proto3",
        dependency=["meshmart/address.proto", "google/protobuf/timestamp.proto"])
    p = parcel.message_type.add(name="Parcel")
    p.field.add(name="id", number=1, type=F.TYPE_STRING, label=F.LABEL_OPTIONAL)
    p.field.add(name="to", number=2, type=F.TYPE_MESSAGE, type_name=".meshmart.Address", label=F.LABEL_OPTIONAL)
    p.field.add(name="shipped_at", number=3, type=F.TYPE_MESSAGE, type_name=".google.protobuf.Timestamp",
                label=F.LABEL_OPTIONAL)
    pool = descriptor_pool.DescriptorPool()
    pool.AddSerializedFile(timestamp_pb2.DESCRIPTOR.serialized_pb)
    pool.Add(address)
    pool.Add(parcel)
    return (GetMessageClass(pool.FindMessageTypeByName("meshmart.Parcel")),
            GetMessageClass(pool.FindMessageTypeByName("meshmart.Address")))


def protobuf(client, topic):
    address_subject = "meshmart/address.proto"
    parcel_topic = f"{topic}-parcels"
    parcel_subject = f"{parcel_topic}-value"
    ref = SchemaReference("meshmart/address.proto", address_subject, 1)

    def proto(text, refs=None):
        return Schema(text, schema_type="PROTOBUF", references=refs or [])

    address_id = client().register_schema(address_subject, proto(PROTO_ADDRESS))
    expect(isinstance(address_id, int), f"register a Protobuf Address under {address_subject} -> id {address_id}")
    pid = client().register_schema(parcel_subject, proto(PROTO_PARCEL, [ref]))
    expect(isinstance(pid, int) and pid != address_id,
           f"register a Protobuf Parcel importing it under {parcel_subject} -> id {pid}", repr(pid))

    got = client().get_schema(pid)
    refs = [(r.name, r.subject, r.version) for r in got.references or []]
    expect(got.schema_type == "PROTOBUF" and "message Parcel" in got.schema_str
           and "import \"meshmart/address.proto\";" in got.schema_str and "What a parcel is" not in got.schema_str,
           "get_schema(id) returns the canonical .proto text (no comments) with schemaType PROTOBUF",
           got.schema_str)
    expect(refs == [("meshmart/address.proto", address_subject, 1)], "... and the import as a reference", repr(refs))

    serialized = client().get_schema(pid, fmt="serialized")
    parsed = descriptor_pb2.FileDescriptorProto.FromString(__import__("base64").b64decode(serialized.schema_str))
    expect([m.name for m in parsed.message_type] == ["Parcel"]
           and list(parsed.dependency) == ["meshmart/address.proto", "google/protobuf/timestamp.proto"],
           "get_schema(id, fmt=serialized) is a FileDescriptorProto importing the reference by its name",
           repr(parsed))

    again = client().register_schema(parcel_subject, proto(PROTO_PARCEL.replace("\n", "\n\n"), [ref]))
    expect(again == pid, "the same schema with other whitespace gets the same id", repr(again))
    found = client().lookup_schema(parcel_subject, proto(PROTO_PARCEL, [ref]))
    expect(found.version == 1 and found.schema_id == pid, "lookup_schema finds version 1", f"{found!r}")

    expect(client().test_compatibility(parcel_subject, proto(PROTO_PARCEL_ADDED, [ref])) is True,
           "adding a field to the Protobuf Parcel is BACKWARD compatible")
    compatible = client().test_compatibility(parcel_subject, proto(PROTO_PARCEL_BROKEN, [ref]), verbose=True)
    expect(compatible is False, "changing `id` from string to int64 is not", repr(compatible))
    expect_error("registering the breaking Parcel is error_code 409 naming the field",
                 lambda: client().register_schema(parcel_subject, proto(PROTO_PARCEL_BROKEN, [ref])),
                 409, 409, "id")
    expect_error("an import no reference names is error_code 42201 naming it",
                 lambda: client().register_schema(parcel_subject, proto(PROTO_PARCEL)), 422, 42201,
                 "meshmart/address.proto")

    # The serializer registers both files as serialized descriptors: the same schemas, so the
    # same ids; the deserializer reads them back with format=serialized.
    Parcel, Address = parcel_classes()
    message = Parcel(id="p-1", to=Address(street="Oudegracht 1", city="Utrecht"))
    message.shipped_at.seconds = 1_700_000_000
    ctx = SerializationContext(parcel_topic, MessageField.VALUE)
    data = ProtobufSerializer(Parcel, client())(message, ctx)
    expect(isinstance(data, bytes) and int.from_bytes(data[1:5], "big") == pid and data[5] == 0,
           f"ProtobufSerializer frames a Parcel with schema id {pid} and message index [0]", data.hex())
    back = ProtobufDeserializer(Parcel, None, client())(data, ctx)
    expect(back == message, "ProtobufDeserializer resolves the import and reads the Parcel back", repr(back))


if __name__ == "__main__":
    try:
        main()
    except CheckFailed as e:
        print(f"FAIL {e}", file=sys.stderr, flush=True)
        sys.exit(1)
    except SchemaRegistryError as e:
        print(f"FAIL unexpected registry error {where()}: HTTP {e.http_status_code} / error_code {e.error_code} / "
              f"{e.error_message!r}", file=sys.stderr, flush=True)
        traceback.print_exc()
        sys.exit(1)
    except Exception as e:  # noqa: BLE001 - any other failure is a failed check too
        print(f"FAIL unexpected {type(e).__name__} {where()}: {e}", file=sys.stderr, flush=True)
        traceback.print_exc()
        sys.exit(1)
