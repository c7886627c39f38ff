-- Schema references (Confluent semantics): a schema names other subjects' versions whose
-- types it uses (Avro named types, JSON Schema `$ref`s by name). The references are part
-- of the schema's identity (its fingerprint covers them), are fixed once registered, and a
-- referenced version cannot be deleted while a registered version uses a schema naming it.
create table registry_references (
    schema_id integer not null references registry_schemas (id) on delete cascade,
    -- the order the references were given in
    position integer not null check (position >= 0),
    -- how the schema names it: an Avro full name, a JSON Schema `$ref` URL
    name text not null check (length(name) between 1 and 1024),
    subject text not null,
    version integer not null check (version >= 1),
    primary key (schema_id, position),
    unique (schema_id, name)
);
-- "Who references subject S version V" (referencedby, and the delete guard).
create index registry_references_target_idx on registry_references (subject, version);
