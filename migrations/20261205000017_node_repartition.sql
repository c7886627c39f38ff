-- Stream nodes whose state is keyed by something other than their input's key (kind
-- customer-enrichment: sign-ups counted per IP address and /24 network) first repartition
-- their input through an internal topic, `meshmart-node-<name>-repartition`, which they
-- read and write. Nodes declared before this get the topic and the policy rows now; their
-- outbox rows create the topic and project the policy onto the broker, as a declaration
-- does.
insert into casbin_rule (ptype, v0, v1, v2, v3, v4, v5)
select 'p', 'kafka:' || n.principal, '*', 'topic:meshmart-node-' || n.name || '-repartition', a.action, '', ''
from nodes n
cross join (values ('read'), ('write')) as a (action)
where n.kind = 'customer-enrichment'
on conflict do nothing;

insert into outbox (kind, payload)
select 'topic.create',
       jsonb_build_object('topic', 'meshmart-node-' || name || '-repartition',
                          'partitions', 3, 'retention_ms', 604800000)
from nodes
where kind = 'customer-enrichment';

insert into outbox (kind, payload)
select 'node.sync', jsonb_build_object('principal', principal)
from nodes
where kind = 'customer-enrichment';
