-- Each domain produces to its products' topics as its own service-account principal,
-- `User:svc-<domain>-producer`, never as Meshmart's admin. The principal's SCRAM password
-- is not stored: it is derived from a secret Meshmart already holds and `generation`
-- (rotating bumps it), see domain/src/producers.rs.
create table producer_principals (
    domain text primary key references domains (slug),
    principal text not null,
    generation integer not null default 1 check (generation >= 1),
    rotated_at timestamptz not null default now(),
    created_at timestamptz not null default now(),
    updated_at timestamptz not null default now(),
    constraint producer_principals_principal_key unique (principal)
);

-- A product's producer grant: its domain's principal may write the product's topics
-- (WRITE + DESCRIBE on each port's topic, IDEMPOTENT_WRITE on the cluster). Created with the
-- product; `revoked_at` set while an owner has taken it away. The Casbin rows
-- (`p, kafka:<principal>, *, topic:<t>, write` and `cluster:kafka-cluster,
-- idempotent_write`) are its policy, the broker ACLs their projection.
create table producer_grants (
    product_id uuid primary key references products (id) on delete cascade,
    principal text not null references producer_principals (principal),
    granted_at timestamptz not null default now(),
    revoked_at timestamptz,
    created_at timestamptz not null default now(),
    updated_at timestamptz not null default now()
);
create index producer_grants_principal_idx on producer_grants (principal);

-- Products registered before this migration get their grant now.
insert into producer_principals (domain, principal)
select distinct domain, 'User:svc-' || domain || '-producer' from products
on conflict do nothing;

insert into producer_grants (product_id, principal)
select p.id, 'User:svc-' || p.domain || '-producer' from products p
on conflict do nothing;

insert into casbin_rule (ptype, v0, v1, v2, v3, v4, v5)
select distinct 'p', 'kafka:' || g.principal, '*', 'topic:' || o.topic, 'write', '', ''
from producer_grants g join output_ports o on o.product_id = g.product_id
on conflict do nothing;

insert into casbin_rule (ptype, v0, v1, v2, v3, v4, v5)
select distinct 'p', 'kafka:' || principal, '*', 'cluster:kafka-cluster', 'idempotent_write', '', ''
from producer_grants
on conflict do nothing;

-- The outbox worker creates each principal's credential and ACLs on the broker.
insert into outbox (kind, payload)
select 'producer.sync', jsonb_build_object('domain', domain) from producer_principals;
