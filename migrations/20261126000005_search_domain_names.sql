-- Search documents carry their domain's name: renaming a domain touches its products, so
-- the search feed (a trigger on products) refreshes them and full syncs see a new stamp.

create function domains_touch_products() returns trigger language plpgsql as $$
begin
    update products p set updated_at = now()
    from new_rows n join old_rows o on o.slug = n.slug
    where p.domain = n.slug and n.name is distinct from o.name;
    return null;
end;
$$;

create trigger domains_renamed
    after update on domains referencing old table as old_rows new table as new_rows
    for each statement execute function domains_touch_products();
