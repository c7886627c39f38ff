-- Each server process caches the API tokens it resolved (`identity::token_cache`). Any
-- change that decides a token's access notifies `identity_changed`, and every process
-- empties its cache on it: a revoked or deleted token, and a user disabled, deleted or
-- changed in what a request's caller carries (e-mail, name, Kafka principal). Marking a
-- token used (`last_used_at`) and a new password do not notify.
create function notify_identity_changed() returns trigger
language plpgsql as $$
begin
    perform pg_notify('identity_changed', '');
    return null;
end;
$$;

create trigger api_tokens_identity_changed
    after update of revoked_at, token_hash, user_id or delete on api_tokens
    for each statement execute function notify_identity_changed();

create trigger users_identity_changed
    after update of email, display_name, kafka_principal, disabled or delete on users
    for each statement execute function notify_identity_changed();
