-- A sample keeps the schema id its record names, which for a record that breaks the
-- contract may be any 4-byte value (the wire format's id is unsigned): an `integer` column
-- refused ids from 2^31 on, and with them the whole flush of the checker's counts.
alter table health_samples alter column schema_id type bigint;
