-- Subscriber counts rank and sort search results: a subscription that starts or ends
-- tells every server's search index (the `search_changed` feed) which products to refresh.

create function subscriptions_search_notify() returns trigger language plpgsql as $$
declare
    payload text;
begin
    select string_agg(distinct p.slug, ' ') into payload
    from changed_rows c join products p on p.id = c.product_id;
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

create trigger subscriptions_search_inserted
    after insert on subscriptions referencing new table as changed_rows
    for each statement execute function subscriptions_search_notify();

create trigger subscriptions_search_updated
    after update on subscriptions referencing new table as changed_rows
    for each statement execute function subscriptions_search_notify();
