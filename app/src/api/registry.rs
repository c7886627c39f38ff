//! Server functions for the schema registry's part of the product page: each port's
//! schema versions and live consumers, a field-level diff between two versions, and the
//! verdict on a schema an owner proposes (with the subscriptions it would break).

use leptos::prelude::*;
use serde::{Deserialize, Serialize};

use super::ApiError;
#[cfg(feature = "ssr")]
use domain::policy::Permission;

/// A live subscription that reads a port.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ConsumerRow {
    /// The downstream product a transitive reader subscribes to.
    pub via: Option<String>,
    pub principal: String,
    pub team: Option<String>,
    pub requested_by: String,
    pub state: String,
}

/// One registered version of a port's schema.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SchemaVersionRow {
    pub version: i32,
    pub id: i32,
    pub schema_type: String,
    pub schema: String,
    pub registered_by: String,
    pub registered_at: String,
    /// The other subjects' versions this schema uses.
    #[serde(default)]
    pub references: Vec<VersionLink>,
    /// The live subject versions whose schemas use this version.
    #[serde(default)]
    pub referenced_by: Vec<VersionLink>,
}

/// A subject version one schema uses through a reference (or is used by).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct VersionLink {
    /// The name the referencing schema gives it (an Avro type, a `$ref` URL); none for
    /// the "used by" side.
    pub name: Option<String>,
    pub subject: String,
    pub version: i32,
}

/// A port's subject in the registry.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PortSchemas {
    pub event_type: String,
    pub topic: String,
    pub subject: String,
    pub mode: String,
    /// Newest first.
    pub versions: Vec<SchemaVersionRow>,
    pub consumers: Vec<ConsumerRow>,
    /// Whether the caller may publish to this product (and so try a proposed schema).
    pub can_propose: bool,
}

/// A changed field between two versions.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct FieldChangeRow {
    pub path: String,
    pub change: String,
    pub before: Option<String>,
    pub after: Option<String>,
}

/// Two versions of a subject side by side.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SchemaDiffView {
    pub subject: String,
    /// `v3`, or `proposed`.
    pub from: String,
    pub to: String,
    pub from_schema: String,
    pub to_schema: String,
    pub mode: String,
    pub compatible: bool,
    pub fields: Vec<FieldChangeRow>,
    pub breaking: Vec<String>,
    /// Live subscriptions that would break (proposals only).
    pub consumers_at_risk: Vec<ConsumerRow>,
    /// A proposal (rather than two registered versions).
    pub proposal: bool,
    /// When the subscribers at risk were told about this proposal, if they were.
    #[serde(default)]
    pub announced_at: Option<String>,
}

#[cfg(feature = "ssr")]
mod convert {
    use domain::registry::view::VersionEntry;
    use domain::registry::{Consumer, SchemaDiff};

    use super::*;

    pub fn version(entry: VersionEntry) -> SchemaVersionRow {
        SchemaVersionRow {
            version: entry.version,
            id: entry.id,
            schema_type: entry.schema_type.as_str().to_string(),
            schema: entry.schema,
            registered_by: entry.registered_by,
            registered_at: crate::ssr::time::timestamp(entry.created_at),
            references: entry
                .references
                .into_iter()
                .map(|r| VersionLink {
                    name: Some(r.name),
                    subject: r.subject,
                    version: r.version,
                })
                .collect(),
            referenced_by: entry
                .referenced_by
                .into_iter()
                .map(|u| VersionLink {
                    name: None,
                    subject: u.subject,
                    version: u.version,
                })
                .collect(),
        }
    }

    pub fn consumer(consumer: Consumer) -> ConsumerRow {
        ConsumerRow {
            via: consumer.via,
            principal: consumer.principal,
            team: consumer.team,
            requested_by: consumer.requested_by,
            state: consumer.state,
        }
    }

    pub fn diff(
        subject: &str,
        (from, from_schema): (String, String),
        (to, to_schema): (String, String),
        diff: SchemaDiff,
    ) -> SchemaDiffView {
        SchemaDiffView {
            subject: subject.to_string(),
            from,
            to,
            from_schema,
            to_schema,
            mode: diff.mode,
            compatible: diff.compatible,
            fields: diff
                .fields
                .into_iter()
                .map(|f| FieldChangeRow {
                    path: f.path,
                    change: f.change,
                    before: f.before,
                    after: f.after,
                })
                .collect(),
            breaking: diff.breaking,
            consumers_at_risk: Vec::new(),
            proposal: false,
            announced_at: None,
        }
    }

    pub fn pretty(text: &str) -> String {
        serde_json::from_str::<serde_json::Value>(text)
            .ok()
            .and_then(|value| serde_json::to_string_pretty(&value).ok())
            .unwrap_or_else(|| text.to_string())
    }
}

/// The registry subjects of the product `slug`'s ports.
#[server(prefix = "/api/fn", endpoint = "product_schemas")]
pub async fn product_schemas(slug: String) -> Result<Vec<PortSchemas>, ApiError> {
    use crate::ssr::{authorize, fail, internal, services};
    use domain::registry;

    let user = authorize(domain::policy::GLOBAL, Permission::ReadCatalog).await?;
    let services = services()?;
    let pool = services.pool;
    let Some(detail) = crate::ssr::product(&slug).await? else {
        return Err(fail(http::StatusCode::NOT_FOUND, ApiError::NotFound));
    };
    let can_propose = services
        .policy
        .allows(&user, &detail.summary.domain, Permission::WriteProduct)
        .await;
    let topics: Vec<String> = detail.ports.iter().map(|port| port.topic.clone()).collect();
    let found = registry::view::port_registries(&pool, &topics)
        .await
        .map_err(internal)?;
    Ok(detail
        .ports
        .into_iter()
        .zip(found)
        .map(|(port, found)| PortSchemas {
            event_type: port.event_type,
            topic: found.topic,
            subject: found.subject,
            mode: found.mode.to_string(),
            versions: found.versions.into_iter().map(convert::version).collect(),
            consumers: found
                .consumers
                .into_iter()
                .map(convert::consumer)
                // Who asked is for the product's owners; readers see principal and team.
                .map(|mut row| {
                    if !can_propose {
                        row.requested_by = String::new();
                    }
                    row
                })
                .collect(),
            can_propose,
        })
        .collect())
}

/// The field-level diff between versions `from` and `to` of `subject`.
#[server(prefix = "/api/fn", endpoint = "schema_diff")]
pub async fn schema_diff(subject: String, from: i32, to: i32) -> Result<SchemaDiffView, ApiError> {
    use crate::ssr::{authorize, services, unprocessable};
    use domain::registry::{self, VersionRef};

    authorize(domain::policy::GLOBAL, Permission::ReadCatalog).await?;
    let pool = services()?.pool;
    let version = |n: i32, field: &'static str| {
        if n >= 1 {
            Ok(VersionRef::Number(n))
        } else {
            Err(unprocessable(field, "versions start at 1"))
        }
    };
    let (from_ref, to_ref) = (version(from, "from")?, version(to, "to")?);
    let old = registry::version(&pool, &subject, from_ref, false)
        .await
        .map_err(crate::ssr::error)?;
    let new = registry::version(&pool, &subject, to_ref, false)
        .await
        .map_err(crate::ssr::error)?;
    let diff = registry::view::diff_versions(&pool, &subject, from_ref, to_ref)
        .await
        .map_err(crate::ssr::error)?;
    Ok(convert::diff(
        &subject,
        (format!("v{from}"), convert::pretty(&old.schema)),
        (format!("v{to}"), convert::pretty(&new.schema)),
        diff,
    ))
}

/// A proposed schema as an owner checks or announces it: the product's domain, the
/// port's value subject, the latest version and the parsed proposal.
#[cfg(feature = "ssr")]
struct Proposed {
    pool: sqlx::PgPool,
    domain: String,
    subject: String,
    topic: String,
    latest: Option<domain::registry::SubjectVersion>,
    parsed: domain::registry::ParsedSchema,
}

/// Checks that the caller owns `slug` and that `schema` parses for its port `topic`.
#[cfg(feature = "ssr")]
async fn proposed(slug: &str, topic: &str, schema: &str) -> Result<Proposed, ApiError> {
    use crate::ssr::{authorize_owner_of, fail, internal, services, unprocessable};
    use domain::registry::{self, ParsedSchema, SchemaType, VersionRef, schema as subjects};

    let domain = authorize_owner_of(slug).await?;
    let pool = services()?.pool;
    let detail = domain::catalog::get(&pool, slug)
        .await
        .map_err(internal)?
        .ok_or_else(|| fail(http::StatusCode::NOT_FOUND, ApiError::NotFound))?;
    let Some(port) = detail.ports.iter().find(|p| p.topic == topic) else {
        return Err(unprocessable(
            "topic",
            format!("`{topic}` is not a port of {slug}"),
        ));
    };
    if schema.trim().is_empty() {
        return Err(unprocessable("schema", "paste a schema to check"));
    }
    let subject = subjects::value_subject(&port.topic);
    let latest = match registry::version(&pool, &subject, VersionRef::Latest, false).await {
        Ok(latest) => Some(latest),
        Err(registry::RegistryError::SubjectNotFound(_)) => None,
        Err(other) => return Err(crate::ssr::error(other)),
    };
    let kind = match &latest {
        Some(latest) => latest.schema_type,
        None if port.format.eq_ignore_ascii_case("avro") => SchemaType::Avro,
        None if port.format.eq_ignore_ascii_case("protobuf") => SchemaType::Protobuf,
        None => SchemaType::Json,
    };
    let parsed = ParsedSchema::parse(kind, schema)
        .map_err(|e| unprocessable("schema", format!("{} schema: {e}", kind.as_str())))?;
    Ok(Proposed {
        pool,
        domain,
        subject,
        topic: port.topic.clone(),
        latest,
        parsed,
    })
}

/// What publishing `schema` to the port `topic` of `slug` would do, for its owners: the
/// diff against the latest version, each breaking change, the consumers it breaks, and
/// whether they were told already.
#[server(prefix = "/api/fn", endpoint = "check_schema")]
pub async fn check_schema(
    slug: String,
    topic: String,
    schema: String,
) -> Result<SchemaDiffView, ApiError> {
    use crate::ssr::internal;
    use domain::registry;

    let Proposed {
        pool,
        subject,
        topic,
        latest,
        parsed,
        ..
    } = proposed(&slug, &topic, &schema).await?;
    let proposal = registry::view::propose(&pool, &subject, &topic, &parsed)
        .await
        .map_err(crate::ssr::error)?;
    let from = latest.map_or_else(
        || ("none".to_string(), String::new()),
        |v| (format!("v{}", v.version), convert::pretty(&v.schema)),
    );
    let mut view = convert::diff(
        &subject,
        from,
        ("proposed".to_string(), convert::pretty(&parsed.canonical)),
        proposal.diff,
    );
    view.proposal = true;
    view.consumers_at_risk = proposal
        .consumers_at_risk
        .into_iter()
        .map(convert::consumer)
        .collect();
    if !view.consumers_at_risk.is_empty() {
        view.announced_at = registry::announce::announced_at(&pool, &subject, &parsed)
            .await
            .map_err(internal)?
            .map(|at| at.format("%Y-%m-%d %H:%M UTC").to_string());
    }
    Ok(view)
}

/// What telling the subscribers at risk did.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct AnnouncedView {
    pub told: u64,
    pub subscriptions: usize,
    pub already: bool,
}

/// Tells the requesters of every live subscription `schema` would break on the port
/// `topic` of `slug` (in the app and through their webhooks), once per proposal; for the
/// product's owners.
#[server(prefix = "/api/fn", endpoint = "announce_schema")]
pub async fn announce_schema(
    slug: String,
    topic: String,
    schema: String,
) -> Result<AnnouncedView, ApiError> {
    use crate::ssr::caller;
    use domain::registry::announce::{self, Target};

    let Proposed {
        pool,
        domain,
        subject,
        topic,
        parsed,
        ..
    } = proposed(&slug, &topic, &schema).await?;
    let target = Target {
        domain: &domain,
        product: &slug,
        subject: &subject,
        topic: &topic,
    };
    let done = announce::announce(&pool, &caller().audit_actor(), &target, &parsed)
        .await
        .map_err(crate::ssr::error)?;
    Ok(AnnouncedView {
        told: done.told,
        subscriptions: done.subscriptions,
        already: done.already,
    })
}

/// A subject as the registry browser lists it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SubjectRowView {
    pub subject: String,
    pub schema_type: String,
    pub latest: i32,
    pub versions: i64,
    pub mode: String,
    pub product: Option<String>,
    pub product_name: Option<String>,
    pub domain: Option<String>,
    pub updated_at: String,
}

/// The registry browser's page: subjects of products, and (for those who may write them)
/// subjects no product owns.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SubjectsView {
    pub items: Vec<SubjectRowView>,
    /// How many match in all (the page lists at most `limit`).
    pub total: i64,
    pub limit: i64,
    /// `None` for callers who may not see subjects without a product.
    pub orphans: Option<Vec<SubjectRowView>>,
}

#[cfg(feature = "ssr")]
fn subject_row(row: domain::registry::browse::SubjectRow) -> SubjectRowView {
    SubjectRowView {
        subject: row.subject,
        schema_type: row.schema_type,
        latest: row.latest,
        versions: row.versions,
        mode: row.mode,
        product: row.product,
        product_name: row.product_name,
        domain: row.domain,
        updated_at: crate::ssr::time::timestamp(row.updated_at),
    }
}

/// Subjects matching `q` (by subject, product or domain), for anyone who reads the catalog.
#[server(prefix = "/api/fn", endpoint = "registry_subjects")]
pub async fn registry_subjects(q: String) -> Result<SubjectsView, ApiError> {
    use crate::ssr::{authorize, internal, services};
    use domain::registry::browse;

    let user = authorize(domain::policy::GLOBAL, Permission::ReadCatalog).await?;
    let services = services()?;
    let q = Some(q.as_str()).filter(|q| !q.trim().is_empty());
    let (rows, total) = browse::subjects(&services.pool, q, false)
        .await
        .map_err(internal)?;
    let orphans = if services
        .policy
        .allows(&user, domain::policy::GLOBAL, Permission::WriteRegistry)
        .await
    {
        let (rows, _) = browse::subjects(&services.pool, q, true)
            .await
            .map_err(internal)?;
        Some(rows.into_iter().map(subject_row).collect())
    } else {
        None
    };
    Ok(SubjectsView {
        items: rows.into_iter().map(subject_row).collect(),
        total,
        limit: browse::PAGE,
        orphans,
    })
}

/// One subject's summary; a subject no product owns only for those who may write it.
#[server(prefix = "/api/fn", endpoint = "registry_subject")]
pub async fn registry_subject(subject: String) -> Result<SubjectRowView, ApiError> {
    use crate::ssr::{authorize, fail, internal, services};

    let user = authorize(domain::policy::GLOBAL, Permission::ReadCatalog).await?;
    let services = services()?;
    let row = domain::registry::browse::subject(&services.pool, &subject)
        .await
        .map_err(internal)?
        .ok_or_else(|| fail(http::StatusCode::NOT_FOUND, ApiError::NotFound))?;
    if row.product.is_none()
        && !services
            .policy
            .allows(&user, domain::policy::GLOBAL, Permission::WriteRegistry)
            .await
    {
        return Err(fail(http::StatusCode::NOT_FOUND, ApiError::NotFound));
    }
    Ok(subject_row(row))
}

/// The versions of a subject no product owns (newest first), for those who may write it.
#[server(prefix = "/api/fn", endpoint = "orphan_versions")]
pub async fn orphan_versions(subject: String) -> Result<Vec<SchemaVersionRow>, ApiError> {
    use crate::ssr::{authorize, internal, services};

    authorize(domain::policy::GLOBAL, Permission::WriteRegistry).await?;
    Ok(domain::registry::view::history(&services()?.pool, &subject)
        .await
        .map_err(internal)?
        .into_iter()
        .map(convert::version)
        .collect())
}
