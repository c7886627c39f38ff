-- Breaking schema proposals an owner announced to the subscribers they would break (in
-- the app and through webhooks): one row per subject and proposed schema, so the same
-- proposal never tells anyone twice.
create table schema_proposals (
    id bigserial primary key,
    subject text not null,
    -- SHA-256 of the proposed schema's canonical text.
    fingerprint text not null,
    product text not null,
    version integer,
    breaking jsonb not null default '[]',
    announced_by text not null,
    announced_at timestamptz not null default now(),
    unique (subject, fingerprint)
);
