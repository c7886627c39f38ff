-- Protobuf schemas in the registry (Confluent's `schemaType: PROTOBUF`), stored as their
-- canonical `.proto` text.
alter table registry_schemas drop constraint registry_schemas_schema_type_check;
alter table registry_schemas add constraint registry_schemas_schema_type_check
    check (schema_type in ('AVRO', 'JSON', 'PROTOBUF'));

-- A contract's port may carry Protobuf records (its Kafka server's `format: protobuf`).
alter table output_ports drop constraint output_ports_format_check;
alter table output_ports add constraint output_ports_format_check
    check (format in ('avro', 'json', 'protobuf'));
