-- The schema registry: schemas (global ids, one row per distinct canonical schema), subjects
-- and their numbered versions (soft-deleted versions keep their row), compatibility
-- configuration (global and per subject), and the subscriptions that read a topic, which
-- the consumer-impact view joins and the subscription workflow fills.

create table registry_schemas (
    id integer generated always as identity primary key,
    schema_type text not null check (schema_type in ('AVRO', 'JSON')),
    -- canonical JSON text: keys sorted, no insignificant whitespace
    schema text not null,
    -- SHA-256 of the canonical text
    fingerprint bytea not null,
    created_at timestamptz not null default now(),
    updated_at timestamptz not null default now(),
    constraint registry_schemas_fingerprint_key unique (schema_type, fingerprint)
);

-- A subject is `<topic>-value` / `<topic>-key` for a product's output port, or any other
-- name registered through the API. The port is found by topic when needed, since a new
-- contract version replaces the port rows.
create table registry_subjects (
    name text primary key check (length(name) between 1 and 255),
    -- per-subject compatibility; null = the global default
    compatibility text check (compatibility in ('NONE', 'BACKWARD', 'BACKWARD_TRANSITIVE',
        'FORWARD', 'FORWARD_TRANSITIVE', 'FULL', 'FULL_TRANSITIVE')),
    created_at timestamptz not null default now(),
    updated_at timestamptz not null default now()
);

create table registry_versions (
    subject text not null references registry_subjects (name) on delete cascade,
    version integer not null check (version >= 1),
    schema_id integer not null references registry_schemas (id),
    registered_by text not null,
    -- soft delete, as Confluent's registry does; a permanent delete removes the row
    deleted_at timestamptz,
    created_at timestamptz not null default now(),
    updated_at timestamptz not null default now(),
    primary key (subject, version)
);
create index registry_versions_schema_idx on registry_versions (schema_id);

-- The one global configuration row.
create table registry_config (
    id boolean primary key default true check (id),
    compatibility text not null default 'BACKWARD' check (compatibility in ('NONE',
        'BACKWARD', 'BACKWARD_TRANSITIVE', 'FORWARD', 'FORWARD_TRANSITIVE', 'FULL',
        'FULL_TRANSITIVE')),
    updated_at timestamptz not null default now()
);
insert into registry_config (id) values (true);

-- Access to a product's output ports, requested by a user for a Kafka principal (theirs or
-- a service account's). The subscription workflow (request, approve, provision, revoke)
-- moves `state`; the registry's consumer-impact view reads the live ones.
create table subscriptions (
    id uuid primary key default gen_random_uuid(),
    product_id uuid not null references products (id),
    -- the Kafka principal that consumes, e.g. User:analyst1
    principal text not null check (principal like 'User:_%'),
    -- the domain (team) of a service-account principal; null for a person
    team text references domains (slug),
    requested_by uuid not null references users (id),
    consumer_group text not null,
    purpose text not null check (length(purpose) between 1 and 2000),
    state text not null default 'pending' check (state in ('pending', 'approved',
        'provisioning', 'active', 'rejected', 'revoked', 'expired')),
    until timestamptz,
    created_at timestamptz not null default now(),
    updated_at timestamptz not null default now()
);
create index subscriptions_product_idx on subscriptions (product_id);

create table subscription_ports (
    subscription_id uuid not null references subscriptions (id) on delete cascade,
    topic text not null,
    primary key (subscription_id, topic)
);
create index subscription_ports_topic_idx on subscription_ports (topic);
