-- The search feed: every committed change to products notifies `search_changed` with the
-- slugs it touched (or `*` when too many to list), so every server process can refresh its
-- search index within a second, whichever process made the change.

create function products_search_notify() returns trigger language plpgsql as $$
declare
    payload text;
begin
    -- Each trigger names its transition table `changed_rows` (new rows, or old ones for
    -- deletes), so one function serves all three.
    select string_agg(slug, ' ') into payload from changed_rows;
    if payload is null then
        return null;
    end if;
    if length(payload) > 7000 then
        payload := '*';
    end if;
    perform pg_notify('search_changed', payload);
    return null;
end;
$$;

create trigger products_search_inserted
    after insert on products referencing new table as changed_rows
    for each statement execute function products_search_notify();

create trigger products_search_updated
    after update on products referencing new table as changed_rows
    for each statement execute function products_search_notify();

create trigger products_search_deleted
    after delete on products referencing old table as changed_rows
    for each statement execute function products_search_notify();
