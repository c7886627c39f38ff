-- Self-healing channels (issue 17): what the detector learned, what it found, and what was
-- done about it.
--
-- A *channel* is a product's output port, a subscription's consumer group, a stream node or
-- the broker connection. Each carries *signals* (records in, invalid ratio, lag, ...).

-- The learned model of each channel's signal: its expected band for the steps ahead
-- (level, seasonality and noise, fitted by `domain::incidents::model`), retrained on a
-- schedule; the detector compares what it measures with it, so it survives restarts.
create table signal_models (
    channel text not null,
    signal text not null,
    trained_at timestamptz not null,
    -- points of history the model was fitted on, and their step in seconds
    points integer not null,
    step_seconds integer not null,
    -- {"method": "ets"|"mstl", "start": t, "lower": [..], "upper": [..], "mean": [..]}
    band jsonb not null,
    primary key (channel, signal)
);

-- A channel's node points, written by the detector every round from the instances'
-- heartbeats (the instances table holds only the present), kept 2 hours.
create table node_points (
    node text not null references nodes (name) on delete cascade,
    at timestamptz not null,
    -- records written per second, summed over instances
    rate double precision not null,
    -- dead letters since the instances started, summed
    dead_letters bigint not null,
    -- instances with a fresh heartbeat
    instances integer not null,
    -- instances whose last error is newer than the previous point
    errors integer not null,
    -- instances started since the previous point
    restarts integer not null,
    primary key (node, at)
);

create index node_points_at_idx on node_points (at);

create table incidents (
    id uuid primary key default gen_random_uuid(),
    state text not null check (state in ('open', 'resolved')),
    -- product:<slug> | subscription:<uuid>/<group> | node:<name> | broker
    channel text not null,
    channel_kind text not null check (channel_kind in ('product', 'subscription', 'node', 'broker')),
    product_id uuid references products (id) on delete cascade,
    subscription_id uuid references subscriptions (id) on delete cascade,
    node text references nodes (name) on delete cascade,
    signal text not null,
    cause text not null,
    confidence double precision not null check (confidence >= 0 and confidence <= 1),
    summary text not null,
    -- opened on a forecast, before the SLA was breached
    predicted boolean not null default false,
    -- [{"kind", "label", "value", "at", "detail"}]
    evidence jsonb not null default '[]',
    -- the model's band (and forecast) around the fault when it was opened, for its chart:
    -- {"step_seconds", "start", "lower": [..], "upper": [..], "forecast": [..], "limit"}
    band jsonb not null default '{}',
    -- when the signal left its band (the fault's start as measured)
    started_at timestamptz not null,
    opened_at timestamptz not null default now(),
    last_seen_at timestamptz not null default now(),
    resolved_at timestamptz,
    updated_at timestamptz not null default now()
);
-- One open incident per channel and signal.
create unique index incidents_open_idx on incidents (channel, signal) where state = 'open';
create index incidents_opened_idx on incidents (opened_at desc);
create index incidents_product_idx on incidents (product_id, opened_at desc);

-- The incident's timeline: opened, cause changed, actions offered/taken and their results,
-- notifications, resolved.
create table incident_events (
    id bigserial primary key,
    incident_id uuid not null references incidents (id) on delete cascade,
    at timestamptz not null default now(),
    kind text not null check (kind in ('opened', 'diagnosed', 'action', 'notified', 'resolved')),
    action text,
    actor text not null,
    outcome text,
    detail jsonb not null default '{}'
);
create index incident_events_incident_idx on incident_events (incident_id, id);
-- No action runs twice for one incident (a failed attempt may be tried again).
create unique index incident_actions_once_idx on incident_events (incident_id, action)
    where kind = 'action' and outcome = 'done';

-- A port's contract policy overridden by its owner while a producer misbehaves
-- (`quarantine`), or back (`monitor`); null follows the contract.
alter table output_ports add column policy_override text
    check (policy_override in ('monitor', 'quarantine'));

-- Each dead letter an incident's `reprocess_dead_letters` action read, and what became of it.
create table dead_letter_outcomes (
    incident_id uuid not null references incidents (id) on delete cascade,
    dead_letters text not null,
    partition integer not null,
    "offset" bigint not null,
    -- republished | still_invalid
    outcome text not null check (outcome in ('republished', 'still_invalid')),
    reason text,
    at timestamptz not null default now(),
    primary key (dead_letters, partition, "offset", incident_id)
);

-- Each user's webhook: whatever Meshmart tells them about incidents is POSTed there too,
-- signed with HMAC-SHA256 under `secret` (shown to them once; kept to sign).
create table webhooks (
    user_id uuid primary key references users (id) on delete cascade,
    url text not null check (length(url) <= 2000),
    secret text not null,
    created_at timestamptz not null default now(),
    updated_at timestamptz not null default now()
);

-- Deliveries, queued with the notification they carry; retried with backoff.
create table webhook_deliveries (
    id bigserial primary key,
    user_id uuid not null references users (id) on delete cascade,
    event text not null,
    payload jsonb not null,
    attempts integer not null default 0,
    next_at timestamptz not null default now(),
    delivered_at timestamptz,
    given_up_at timestamptz,
    last_status integer,
    last_error text,
    created_at timestamptz not null default now()
);
create index webhook_deliveries_due_idx on webhook_deliveries (next_at)
    where delivered_at is null and given_up_at is null;

-- A group's progress (its committed offsets, summed) beside its lag: a slow consumer
-- still moves them, a stopped one does not.
alter table lag_points add column committed bigint;
alter table lag_minutes add column committed bigint;
