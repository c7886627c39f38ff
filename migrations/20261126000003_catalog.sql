-- The catalog: data products, their output ports (one Kafka topic and event type each),
-- and their immutable contract versions; plus the outbox that carries effects on the
-- broker (topic creation, later ACLs) out of the transaction that decided them.

create table products (
    id uuid primary key default gen_random_uuid(),
    slug text not null check (slug ~ '^[a-z0-9]+(-[a-z0-9]+)*$'),
    domain text not null references domains (slug),
    name text not null,
    description text not null default '',
    status text not null check (status in ('draft', 'active', 'deprecated', 'retired')),
    tags text[] not null default '{}',
    -- the ODCS id and version of the current contract
    contract_id text not null,
    current_version text not null,
    -- projections of the current contract, for pages and search
    slas jsonb not null default '[]',
    team jsonb not null default '[]',
    support jsonb not null default '[]',
    created_at timestamptz not null default now(),
    updated_at timestamptz not null default now(),
    constraint products_slug_key unique (slug)
);
create index products_domain_idx on products (domain);
create index products_status_idx on products (status);
create index products_tags_idx on products using gin (tags);

create table output_ports (
    id uuid primary key default gen_random_uuid(),
    product_id uuid not null references products (id) on delete cascade,
    event_type text not null,
    topic text not null check (topic ~ '^[a-zA-Z0-9._-]{1,249}$'),
    format text not null check (format in ('avro', 'json')),
    partitions integer not null default 3 check (partitions between 1 and 1000),
    retention_ms bigint not null default 604800000,
    description text,
    fields jsonb not null default '[]',
    created_at timestamptz not null default now(),
    updated_at timestamptz not null default now(),
    constraint output_ports_topic_key unique (topic),
    constraint output_ports_event_type_key unique (product_id, event_type)
);

-- Published contract versions never change; a trigger refuses updates and deletes.
create table contract_versions (
    product_id uuid not null references products (id),
    version text not null,
    document jsonb not null,
    published_by text not null,
    created_at timestamptz not null default now(),
    updated_at timestamptz not null default now(),
    primary key (product_id, version)
);

create function contract_versions_immutable() returns trigger language plpgsql as $$
begin
    raise exception 'published contract versions are immutable';
end;
$$;

create trigger contract_versions_no_update_delete
    before update or delete on contract_versions
    for each row execute function contract_versions_immutable();

create table outbox (
    id bigserial primary key,
    kind text not null,
    payload jsonb not null,
    attempts integer not null default 0,
    next_attempt_at timestamptz not null default now(),
    last_error text,
    done_at timestamptz,
    created_at timestamptz not null default now(),
    updated_at timestamptz not null default now()
);
create index outbox_pending_idx on outbox (next_attempt_at) where done_at is null;

create function outbox_notify() returns trigger language plpgsql as $$
begin
    perform pg_notify('outbox', '');
    return null;
end;
$$;

create trigger outbox_inserted
    after insert on outbox
    for each statement execute function outbox_notify();
