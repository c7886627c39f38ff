-- Measured health of the streams (issue 15): what the record checker saw, per output port.
--
-- `health_points` holds 10-second points, written additively by every checker process
-- (each owns some partitions, so two processes add to the same point without counting a
-- record twice). A rollup job folds them into `health_minutes`. Both are bounded: points
-- are kept 2 hours and minutes 7 days, and a row exists only for a step in which records
-- were checked, so the largest size is ports × 720 points and ports × 10,080 minutes.

-- Adds two `{"key": count}` objects key by key.
create function health_counts_add(a jsonb, b jsonb) returns jsonb
language sql immutable parallel safe as $$
    select coalesce(jsonb_object_agg(k, coalesce((a ->> k)::bigint, 0) + coalesce((b ->> k)::bigint, 0)), '{}'::jsonb)
    from (select jsonb_object_keys(coalesce(a, '{}'::jsonb)) union select jsonb_object_keys(coalesce(b, '{}'::jsonb))) as keys (k)
$$;

-- Adds two arrays element by element (histogram buckets); the shorter is padded with 0.
create function health_buckets_add(a bigint[], b bigint[]) returns bigint[]
language sql immutable parallel safe as $$
    select coalesce(array_agg(coalesce(x, 0) + coalesce(y, 0) order by n), '{}'::bigint[])
    from unnest(coalesce(a, '{}'::bigint[]), coalesce(b, '{}'::bigint[])) with ordinality as t (x, y, n)
$$;

create aggregate health_counts_sum(jsonb) (sfunc = health_counts_add, stype = jsonb, initcond = '{}');
create aggregate health_buckets_sum(bigint[]) (sfunc = health_buckets_add, stype = bigint[], initcond = '{}');

create table health_points (
    port_id uuid not null references output_ports (id) on delete cascade,
    -- start of the 10-second step in which the records were checked
    at timestamptz not null,
    records bigint not null default 0,
    valid bigint not null default 0,
    bytes bigint not null default 0,
    -- invalid records by reason: {"not_wire_format": 3, "quality": 1, ...}
    invalid jsonb not null default '{}',
    -- records each quality rule passed and failed: {"rule name": count}
    rule_passed jsonb not null default '{}',
    rule_failed jsonb not null default '{}',
    -- the newest record timestamp seen in the step (never later than when it was checked)
    last_event_at timestamptz,
    -- end-to-end latency (record timestamp to checked), counts per bucket of
    -- domain::health::LATENCY_BUCKETS_MS
    latency bigint[] not null default '{}',
    primary key (port_id, at)
);
create index health_points_at_idx on health_points (at);

create table health_minutes (like health_points including defaults including constraints);
alter table health_minutes add primary key (port_id, at);
alter table health_minutes add foreign key (port_id) references output_ports (id) on delete cascade;
create index health_minutes_at_idx on health_minutes (at);

-- One row per port: the newest event and the running totals, so a status (fresh, stale,
-- no data) is one indexed read.
create table port_health (
    port_id uuid primary key references output_ports (id) on delete cascade,
    last_event_at timestamptz,
    -- when checking began: numbers over a window count only the part since then
    first_checked_at timestamptz not null default now(),
    last_checked_at timestamptz not null,
    records bigint not null default 0,
    invalid bigint not null default 0,
    dlq_records bigint not null default 0
);

-- Each product's live status (fresh, stale, no_data) as last published to search; the
-- health job changes a row only when the status changes, and tells the search feed.
create table product_stream_status (
    product_id uuid primary key references products (id) on delete cascade,
    status text not null check (status in ('fresh', 'stale', 'no_data')),
    changed_at timestamptz not null default now()
);

-- The next offset of each partition whose records are counted: a process that takes over a
-- partition skips what another one already counted, whatever the group committed.
create table checker_offsets (
    topic text not null,
    partition integer not null,
    next_offset bigint not null,
    updated_at timestamptz not null default now(),
    primary key (topic, partition)
);

-- The newest records each port's checker saw, decoded; at most 20 valid and 50 invalid per
-- port are kept.
create table health_samples (
    id bigserial primary key,
    port_id uuid not null references output_ports (id) on delete cascade,
    partition integer not null,
    "offset" bigint not null,
    valid boolean not null,
    schema_id integer,
    key text,
    -- the decoded record; null when it could not be decoded
    value jsonb,
    -- the first bytes of an undecodable record, hex
    raw_hex text,
    reason text,
    -- [{"rule", "field", "message"}]
    failures jsonb not null default '[]',
    record_at timestamptz,
    checked_at timestamptz not null
);
create index health_samples_port_idx on health_samples (port_id, valid, id desc);

-- Consumer lag of each live subscription's group, every 10 seconds, kept 2 hours.
create table lag_points (
    subscription_id uuid not null references subscriptions (id) on delete cascade,
    -- a group under the subscription's granted prefix
    consumer_group text not null,
    at timestamptz not null,
    messages bigint not null,
    seconds double precision not null,
    primary key (subscription_id, consumer_group, at)
);
create index lag_points_at_idx on lag_points (at);

-- The same, per minute (the largest lag measured in it), kept 7 days.
create table lag_minutes (like lag_points including defaults including constraints);
alter table lag_minutes add primary key (subscription_id, consumer_group, at);
alter table lag_minutes add foreign key (subscription_id) references subscriptions (id)
    on delete cascade;
create index lag_minutes_at_idx on lag_minutes (at);

-- Every existing port gets its dead-letter topic, as new ones do when published.
insert into outbox (kind, payload)
select 'topic.create', jsonb_build_object('topic', topic || '.dlq', 'partitions', partitions,
    'retention_ms', retention_ms)
from output_ports
where length(topic) <= 245;
