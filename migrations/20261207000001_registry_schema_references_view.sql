-- A registry schema with the references it names, in the order given, as the JSON list
-- the registry's readers decode: the one definition of that list for every statement
-- that reads a schema (history, lookups, reference resolution, the product page).
-- A plain view: the planner pulls it into each statement, so the list is built only for
-- the rows a statement returns.
create view registry_schemas_with_references as
select s.id, s.schema_type, s.schema,
       coalesce((select jsonb_agg(jsonb_build_object('name', r.name, 'subject', r.subject,
                                                     'version', r.version)
                                  order by r.position)
                 from registry_references r where r.schema_id = s.id), '[]'::jsonb)
         as reference_list
from registry_schemas s;

-- A subject's live version as its history lists it: the schema, who registered it and
-- when, the references it names and the live versions whose schemas use it.
create view registry_live_versions as
select v.subject, v.version, v.schema_id as id, s.schema_type, s.schema, v.registered_by,
       v.created_at, s.reference_list as "references",
       coalesce((select jsonb_agg(jsonb_build_object('subject', u.subject, 'version', u.version)
                                  order by u.subject, u.version)
                 from registry_references r
                 join registry_versions u on u.schema_id = r.schema_id and u.deleted_at is null
                 where r.subject = v.subject and r.version = v.version), '[]'::jsonb)
         as referenced_by
from registry_versions v join registry_schemas_with_references s on s.id = v.schema_id
where v.deleted_at is null;

-- The live subscriptions (approved, provisioning or active) that read each topic: who
-- breaks when the topic's data changes shape.
create view topic_consumers as
select sp.topic, s.id as subscription, s.principal, s.team, u.email as requested_by, s.state
from subscriptions s
join subscription_ports sp on sp.subscription_id = s.id
join users u on u.id = s.requested_by
where s.state in ('approved', 'provisioning', 'active');
