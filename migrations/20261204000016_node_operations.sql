-- Operating stream nodes from their page: a restart request (each running process
-- restarts in place when the generation it started with changes), and each process's
-- consumer lag (records behind the input's high watermark, summed over its partitions).
alter table nodes add column restart_generation integer not null default 0;
alter table node_instances add column lag bigint;
