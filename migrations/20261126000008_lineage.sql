-- Lineage: a graph of output ports (Kafka topics), processors (jobs, enrichment nodes,
-- stream applications) and consumers (Kafka principals). Two sources are stored here:
-- edges declared by contracts (`customProperties` inputPorts/processor) and edges observed
-- in OpenLineage run events. The third source, subscriptions, is not stored: the view
-- `lineage_subscription_edges` derives it from the live subscriptions, so it can never
-- disagree with them.

create table lineage_nodes (
    -- `port:<topic>`, `processor:<namespace>/<name>`, `consumer:<principal>`
    id text primary key check (length(id) between 3 and 1000),
    kind text not null check (kind in ('port', 'processor', 'consumer')),
    name text not null,
    -- the OpenLineage namespace (`kafka://host:port` for ports, the job's namespace for
    -- processors; `contract` for processors declared by contracts)
    namespace text not null default '',
    -- the domain of the product whose contract declared a processor
    domain text,
    first_seen timestamptz not null default now(),
    last_seen timestamptz not null default now(),
    created_at timestamptz not null default now(),
    updated_at timestamptz not null default now()
);
create index lineage_nodes_kind_idx on lineage_nodes (kind);

create table lineage_edges (
    source text not null references lineage_nodes (id) on delete cascade,
    target text not null references lineage_nodes (id) on delete cascade,
    origin text not null check (origin in ('contract', 'openlineage')),
    -- the product whose contract declares a `contract` edge (null for observed edges):
    -- registering a new contract version replaces exactly that product's declarations,
    -- and two products may declare the same edge (a job computing both)
    product_id uuid references products (id) on delete cascade,
    first_seen timestamptz not null default now(),
    last_seen timestamptz not null default now(),
    created_at timestamptz not null default now(),
    updated_at timestamptz not null default now(),
    constraint lineage_edges_key unique nulls not distinct (source, target, origin, product_id),
    constraint lineage_edges_declared_check check ((origin = 'contract') = (product_id is not null)),
    constraint lineage_edges_no_loop check (source <> target)
);
create index lineage_edges_target_idx on lineage_edges (target);
create index lineage_edges_product_idx on lineage_edges (product_id) where product_id is not null;

-- Every subscription that grants access (approved, provisioning, active) is an edge from
-- each of its topics to its principal.
create view lineage_subscription_edges as
select 'port:' || sp.topic as source,
       'consumer:' || s.principal as target,
       'subscription'::text as origin,
       min(coalesce(s.activated_at, s.decided_at, s.created_at)) as first_seen,
       now() as last_seen,
       max(s.team) as team
from subscriptions s
join subscription_ports sp on sp.subscription_id = s.id
where s.state in ('approved', 'provisioning', 'active')
group by sp.topic, s.principal;

-- Every user may report lineage (OpenLineage run events); reading it is `catalog read`.
insert into casbin_rule (ptype, v0, v1, v2, v3, v4, v5)
values ('p', 'role:analyst', '*', 'lineage', 'write', '', '');
