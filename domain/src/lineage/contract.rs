//! Lineage declared by contracts (`crate::contracts::declaration` reads it): stored when
//! the contract is registered, replacing what the product's previous version declared
//! while keeping when each edge was first seen.

use sqlx::PgConnection;
use uuid::Uuid;

use super::{LineageError, port_id, processor_id};
use crate::contracts::Contract;
use crate::contracts::declaration::{Declaration, declaration};

/// The processor namespace of jobs declared by contracts.
pub const CONTRACT_NAMESPACE: &str = "contract";

/// Stores what `contract` declares for its product (`product_id`, in `domain`), in the
/// registering transaction: edges still declared keep their first-seen time, edges no
/// longer declared are removed.
pub async fn declare(
    conn: &mut PgConnection,
    product_id: Uuid,
    domain: &str,
    contract: &Contract,
) -> Result<Option<Declaration>, LineageError> {
    let own: Vec<String> = contract.ports.iter().map(|p| p.topic.clone()).collect();
    let declared =
        declaration(&contract.document, &contract.slug, &own).map_err(LineageError::Invalid)?;
    let mut sources = Vec::new();
    let mut targets = Vec::new();
    if let Some(declared) = &declared {
        let processor = processor_id(CONTRACT_NAMESPACE, &declared.processor);
        let ports: Vec<String> = declared.inputs.iter().chain(&own).cloned().collect();
        sqlx::query!(
            r#"insert into lineage_nodes (id, kind, name)
               select 'port:' || topic, 'port', topic from unnest($1::text[]) as t(topic)
               on conflict (id) do update set last_seen = now(), updated_at = now()"#,
            &ports,
        )
        .execute(&mut *conn)
        .await?;
        sqlx::query!(
            r#"insert into lineage_nodes (id, kind, name, namespace, domain)
               values ($1, 'processor', $2, $3, $4)
               on conflict (id) do update
               set domain = excluded.domain, last_seen = now(), updated_at = now()"#,
            processor,
            declared.processor,
            CONTRACT_NAMESPACE,
            domain,
        )
        .execute(&mut *conn)
        .await?;
        for input in &declared.inputs {
            sources.push(port_id(input));
            targets.push(processor.clone());
        }
        for topic in &own {
            sources.push(processor.clone());
            targets.push(port_id(topic));
        }
    }
    sqlx::query!(
        r#"delete from lineage_edges e
           where e.product_id = $1 and e.origin = 'contract'
             and not exists (select 1 from unnest($2::text[], $3::text[]) as w(source, target)
                             where w.source = e.source and w.target = e.target)"#,
        product_id,
        &sources,
        &targets,
    )
    .execute(&mut *conn)
    .await?;
    sqlx::query!(
        r#"insert into lineage_edges (source, target, origin, product_id)
           select source, target, 'contract', $1
           from unnest($2::text[], $3::text[]) as w(source, target)
           on conflict on constraint lineage_edges_key
           do update set last_seen = now(), updated_at = now()"#,
        product_id,
        &sources,
        &targets,
    )
    .execute(&mut *conn)
    .await?;
    Ok(declared)
}
