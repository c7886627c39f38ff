-- The running processes of stream nodes, as each reports itself every few seconds
-- (`meshmart node run`): what the node's page shows and what pause waits for. A row whose
-- heartbeat is old belongs to a process that stopped or died.
create table node_instances (
    node text not null references nodes (name) on delete cascade,
    instance integer not null check (instance >= 0),
    host text not null,
    pid integer not null,
    started_at timestamptz not null,
    heartbeat_at timestamptz not null,
    -- running | paused | stopped
    state text not null,
    -- Input partitions this process owns.
    partitions integer[] not null default '{}',
    -- Since the process started: records written to the output, and to the dead letters.
    records bigint not null default 0,
    dead_letters bigint not null default 0,
    -- Records per second over the last heartbeat interval.
    rate double precision not null default 0,
    last_error text,
    last_error_at timestamptz,
    primary key (node, instance)
);
