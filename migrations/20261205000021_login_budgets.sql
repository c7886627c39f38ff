-- Login budgets shared by every server process (the login throttle, `identity::throttle`):
-- one row per throttled key (`ip:<address>` or `account:<e-mail>`) holding the generic
-- cell rate algorithm's theoretical arrival time. A key whose time has passed has its whole
-- budget back, so such rows are deleted in the background and the table stays as small as
-- the keys that tried to sign in during the last burst window.
create table login_budgets (
    key text primary key,
    spent_until timestamptz not null
);
