-- The subscription workflow: decisions, provisioning progress and endings on the
-- subscription itself; at most one live subscription per product and principal; roles a
-- product approves automatically; and in-app notifications (expiry warnings).

alter table subscriptions
    add column decided_by uuid references users (id),
    add column decided_at timestamptz,
    add column decision_comment text check (length(decision_comment) <= 2000),
    -- provisioning progress, written by the worker that applies the ACLs
    add column provision_attempts integer not null default 0,
    add column last_error text,
    add column activated_at timestamptz,
    add column ended_at timestamptz,
    add column ended_by text,
    add column expiry_warned_at timestamptz;

create unique index subscriptions_one_live_idx on subscriptions (product_id, principal)
    where state in ('pending', 'approved', 'provisioning', 'active');
create index subscriptions_state_idx on subscriptions (state);
create index subscriptions_requested_by_idx on subscriptions (requested_by);

create table product_auto_approve (
    product_id uuid not null references products (id) on delete cascade,
    role text not null check (role in ('analyst', 'owner', 'admin')),
    created_at timestamptz not null default now(),
    updated_at timestamptz not null default now(),
    primary key (product_id, role)
);

create table notifications (
    id bigserial primary key,
    user_id uuid not null references users (id),
    kind text not null,
    message text not null,
    link text,
    read_at timestamptz,
    created_at timestamptz not null default now(),
    updated_at timestamptz not null default now()
);
create index notifications_user_idx on notifications (user_id) where read_at is null;
