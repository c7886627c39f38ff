-- When the broker was found to hold none of an ended subscription's access any more.
-- Null on a revoked or expired subscription means its ACLs are still being removed (the
-- outbox worker retries until the broker agrees); pages say so rather than only
-- "revoked". Subscriptions ended before this column existed had their removal done or
-- repaired by the reconciler since, so they count as removed when they ended.
alter table subscriptions add column access_removed_at timestamptz;
update subscriptions set access_removed_at = ended_at where ended_at is not null;
