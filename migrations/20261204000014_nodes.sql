-- Stream nodes: a processor a contract declares with a `nodeKind` is run by Meshmart
-- (`meshmart node run <name>`). One row a node: what it reads, what it writes, how, and as
-- whom. The node's principal reads its input topic and writes its output and dead-letter
-- topics under a Casbin policy (`p, kafka:<principal>, *, topic:<t>, read|write`,
-- `group:<group>, read`, `transactional_id:<prefix>, write`) that the broker's ACLs project,
-- like subscriptions and producer grants.
create table nodes (
    name text primary key,
    -- The product the node computes (its contract declares the node).
    product_id uuid not null references products (id) on delete cascade,
    kind text not null,
    input_topic text not null,
    output_topic text not null,
    principal text not null unique,
    -- The credential's generation (the password is derived from it, never stored).
    generation integer not null default 1 check (generation >= 1),
    paused boolean not null default false,
    created_at timestamptz not null default now(),
    updated_at timestamptz not null default now()
);
create index nodes_product_idx on nodes (product_id);
