-- The outbox worker leases rows instead of holding a transaction across broker calls:
-- a leased row is skipped by other workers until `locked_until`, and each row is settled
-- (done, or retried later) on its own. A row that can never be read is parked with
-- `next_attempt_at = 'infinity'` and its error.
alter table outbox add column locked_until timestamptz;
