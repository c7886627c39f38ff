-- Identity, policy and audit: users, the data-mesh domains roles are scoped to, service
-- accounts, personal API tokens, Casbin policy rows, browser sessions and the audit log.

-- Domains (teams) of the data mesh. The catalog adds its columns when it arrives.
create table domains (
    slug text primary key check (slug ~ '^[a-z0-9]+(-[a-z0-9]+)*$'),
    name text not null,
    description text not null default '',
    created_at timestamptz not null default now(),
    updated_at timestamptz not null default now()
);

create table users (
    id uuid primary key default gen_random_uuid(),
    email text not null check (email = lower(email) and email like '%_@_%'),
    display_name text not null check (length(display_name) between 1 and 200),
    -- argon2id PHC string
    password_hash text not null,
    -- the Kafka principal this person consumes as, e.g. User:analyst1
    kafka_principal text not null check (kafka_principal like 'User:_%'),
    disabled boolean not null default false,
    created_at timestamptz not null default now(),
    updated_at timestamptz not null default now(),
    constraint users_email_key unique (email),
    constraint users_kafka_principal_key unique (kafka_principal)
);

-- Non-human principals owned by a domain (stream jobs, consumer applications).
create table service_accounts (
    id uuid primary key default gen_random_uuid(),
    domain text not null references domains (slug),
    name text not null check (name ~ '^[a-z0-9]+(-[a-z0-9]+)*$'),
    description text not null default '',
    kafka_principal text not null,
    created_by uuid references users (id),
    disabled boolean not null default false,
    created_at timestamptz not null default now(),
    updated_at timestamptz not null default now(),
    constraint service_accounts_name_key unique (name),
    constraint service_accounts_kafka_principal_key unique (kafka_principal)
);

-- Personal API tokens: only a SHA-256 of the secret is kept; the secret is shown once.
create table api_tokens (
    id uuid primary key default gen_random_uuid(),
    user_id uuid not null references users (id),
    name text not null check (length(name) between 1 and 100),
    -- first characters of the token, to recognise it in lists
    prefix text not null,
    token_hash bytea not null,
    last_used_at timestamptz,
    revoked_at timestamptz,
    created_at timestamptz not null default now(),
    updated_at timestamptz not null default now(),
    constraint api_tokens_token_hash_key unique (token_hash)
);
create index api_tokens_user_idx on api_tokens (user_id);

-- Casbin policy rows, in the layout of the casbin-rs sqlx-adapter that loads them.
-- Meshmart writes them in its own transactions; the trigger below tells every server
-- process to reload its enforcer once such a transaction commits.
create table casbin_rule (
    id serial primary key,
    ptype varchar not null,
    v0 varchar not null,
    v1 varchar not null,
    v2 varchar not null,
    v3 varchar not null,
    v4 varchar not null,
    v5 varchar not null,
    constraint unique_key_sqlx_adapter unique (ptype, v0, v1, v2, v3, v4, v5)
);

create function casbin_rule_notify() returns trigger language plpgsql as $$
begin
    perform pg_notify('casbin_policy_changed', '');
    return null;
end;
$$;

create trigger casbin_rule_changed
    after insert or update or delete or truncate on casbin_rule
    for each statement execute function casbin_rule_notify();

-- What each role may do. Subjects are `user:<uuid>`, `role:<name>`; the domain is a mesh
-- domain slug or `*` (every domain).
insert into casbin_rule (ptype, v0, v1, v2, v3, v4, v5) values
    ('p', 'role:admin',   '*', '*',               '*',       '', ''),
    ('p', 'role:owner',   '*', 'domain',          'read',    '', ''),
    ('p', 'role:owner',   '*', 'product',         'write',   '', ''),
    ('p', 'role:owner',   '*', 'subscription',    'approve', '', ''),
    ('p', 'role:owner',   '*', 'service-account', 'read',    '', ''),
    ('p', 'role:owner',   '*', 'service-account', 'manage',  '', ''),
    ('p', 'role:analyst', '*', 'catalog',         'read',    '', ''),
    ('p', 'role:analyst', '*', 'subscription',    'request', '', ''),
    ('p', 'role:analyst', '*', 'account',         'manage',  '', '');

-- Browser sessions (tower-sessions' PostgreSQL store layout).
create schema tower_sessions;
create table tower_sessions.session (
    id text primary key not null,
    data bytea not null,
    expiry_date timestamptz not null
);
create index session_expiry_idx on tower_sessions.session (expiry_date);

-- The append-only record of every decision and change.
create table audit_log (
    id bigserial primary key,
    occurred_at timestamptz not null default now(),
    -- `user:<email>`, `token:<prefix>`, `cli`, `system` or `anonymous`
    actor text not null,
    action text not null,
    target text not null,
    domain text,
    outcome text not null default 'success' check (outcome in ('success', 'failure')),
    before jsonb,
    after jsonb,
    client_ip text,
    created_at timestamptz not null default now(),
    updated_at timestamptz not null default now()
);
create index audit_log_occurred_idx on audit_log (occurred_at desc);
create index audit_log_actor_idx on audit_log (actor, occurred_at desc);
create index audit_log_action_idx on audit_log (action, occurred_at desc);

create function audit_log_append_only() returns trigger language plpgsql as $$
begin
    raise exception 'audit_log is append-only';
end;
$$;

create trigger audit_log_no_update_delete
    before update or delete or truncate on audit_log
    for each statement execute function audit_log_append_only();
