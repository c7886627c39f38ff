-- Marks which demo data sets `meshmart seed-demo` has loaded, so `make run` loads them once.
create table demo_seed (
    name text primary key,
    created_at timestamptz not null default now(),
    updated_at timestamptz not null default now()
);
