-- Every stream node gets a detour topic, `meshmart-node-<name>-detour`, which it reads and
-- writes: when its output topic refuses writes it parks its output there and drains it in
-- order once the output heals. Node instances report whether they are rerouting. Nodes
-- declared before this get the topic and the policy rows now; their outbox rows create the
-- topic and project the policy onto the broker, as a declaration does.
insert into casbin_rule (ptype, v0, v1, v2, v3, v4, v5)
select 'p', 'kafka:' || n.principal, '*', 'topic:meshmart-node-' || n.name || '-detour', a.action, '', ''
from nodes n
cross join (values ('read'), ('write')) as a (action)
on conflict do nothing;

insert into outbox (kind, payload)
select 'topic.create',
       jsonb_build_object('topic', 'meshmart-node-' || name || '-detour',
                          'partitions', 3, 'retention_ms', 604800000)
from nodes;

insert into outbox (kind, payload)
select 'node.sync', jsonb_build_object('principal', principal)
from nodes;

-- Since when the instance has parked its output on the detour (null: writing the output).
alter table node_instances add column rerouted_since timestamptz;
