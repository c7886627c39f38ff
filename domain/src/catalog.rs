//! The catalog: data products, their output ports and contract versions. Registering a
//! contract creates or updates its product in one transaction with the new immutable
//! contract version, an outbox row per port (the broker creates the topics later, so an
//! outage delays them without losing them), the lineage the contract declares (see
//! `lineage`) and an audit entry.

use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use sqlx::{PgConnection, PgPool, Postgres, QueryBuilder};
use uuid::Uuid;

use crate::audit::{self, Actor, Event};
use crate::contracts::{Contract, Problem, ProductStatus};
use crate::db::Timestamp;
use crate::domains::{self, Domain};
use crate::outbox;
use crate::policy::Permission;

/// Why a registration was refused.
#[derive(Debug, thiserror::Error)]
pub enum CatalogError {
    #[error("{0}")]
    Invalid(Problem),
    #[error("{0}")]
    Conflict(String),
    /// A port's schema breaks the subject's compatibility mode; one problem per breaking
    /// change, worded as the schema registry words it.
    #[error("{}", incompatible_summary(.0))]
    Incompatible(Vec<Problem>),
    #[error("not found")]
    NotFound,
    #[error(transparent)]
    Database(sqlx::Error),
    /// Something failed that no request can fix (details are logged, not sent).
    #[error("internal error: {0}")]
    Internal(String),
}

/// Why a contract naming a topic of another product is refused.
const TOPIC_TAKEN: &str = "a topic of this contract already belongs to another data product";

impl From<sqlx::Error> for CatalogError {
    fn from(error: sqlx::Error) -> Self {
        match error.as_database_error().and_then(|e| e.constraint()) {
            Some("output_ports_topic_key") => CatalogError::Conflict(
                TOPIC_TAKEN.to_string(),
            ),
            Some("output_ports_event_type_key") => CatalogError::Conflict(
                "two schema objects of this contract have the same name".to_string(),
            ),
            Some("output_ports_topic_check") => CatalogError::Invalid(Problem {
                pointer: "/schema".to_string(),
                line: None,
                column: None,
                message: "topic names (physicalName or name) may use letters, digits, '.', '_' and '-' only".to_string(),
            }),
            _ => CatalogError::Database(error),
        }
    }
}

fn incompatible_summary(problems: &[Problem]) -> String {
    format!(
        "the contract's schema is incompatible with the published one: {}",
        problems
            .iter()
            .map(|p| p.message.as_str())
            .collect::<Vec<_>>()
            .join("; ")
    )
}

/// A port's schema with its compatibility verdict, reached before any lock is taken.
struct PortSchema {
    pointer: String,
    subject: String,
    parsed: crate::registry::ParsedSchema,
    precheck: crate::registry::Precheck,
}

/// Parses each port's schema and compares it with its `<topic>-value` subject (the same
/// checks and messages as the registry's REST API), before the product row is locked: the
/// comparison runs on a blocking thread and may take long under a transitive mode.
async fn precheck_port_schemas(
    conn: &mut PgConnection,
    domain: &str,
    contract: &Contract,
) -> Result<Vec<PortSchema>, CatalogError> {
    use crate::registry::{self, ParsedSchema, schema};

    let namespace = schema::avro_namespace(&["meshmart", domain]);
    let mut checked = Vec::with_capacity(contract.ports.len());
    for (index, port) in contract.ports.iter().enumerate() {
        let pointer = format!("/schema/{index}");
        let (kind, text) = schema::port_schema_text(&namespace, port);
        let parsed = ParsedSchema::parse(kind, &text)
            .map_err(|e| invalid(&pointer, format!("the port's schema is not valid: {e}")))?;
        let subject = schema::value_subject(&port.topic);
        let precheck = registry::precheck(&mut *conn, &subject, &parsed)
            .await
            .map_err(|error| registry_problem(&pointer, &subject, error))?;
        checked.push(PortSchema {
            pointer,
            subject,
            parsed,
            precheck,
        });
    }
    Ok(checked)
}

/// Registers each port's prechecked schema under its subject, in the caller's transaction.
async fn register_port_schemas(
    conn: &mut PgConnection,
    actor: &Actor,
    ports: Vec<PortSchema>,
) -> Result<(), CatalogError> {
    for port in ports {
        crate::registry::register_checked(
            &mut *conn,
            &port.subject,
            &port.parsed,
            port.precheck,
            actor,
        )
        .await
        .map_err(|error| registry_problem(&port.pointer, &port.subject, error))?;
    }
    Ok(())
}

/// A registry refusal as the contract's problem at `pointer`.
fn registry_problem(
    pointer: &str,
    subject: &str,
    error: crate::registry::RegistryError,
) -> CatalogError {
    use crate::registry::RegistryError;

    match error {
        RegistryError::Incompatible { mode, breaking, .. } => CatalogError::Incompatible(
            breaking
                .iter()
                .map(|b| Problem {
                    pointer: pointer.to_string(),
                    line: None,
                    column: None,
                    message: format!("{subject} ({mode}): {b}"),
                })
                .collect(),
        ),
        RegistryError::Database(error) => error.into(),
        RegistryError::Internal(error) => CatalogError::Internal(error),
        other => invalid(pointer, other.to_string()),
    }
}

fn invalid(pointer: &str, message: impl Into<String>) -> CatalogError {
    CatalogError::Invalid(Problem {
        pointer: pointer.to_string(),
        line: None,
        column: None,
        message: message.into(),
    })
}

/// How a registration request may be completed.
#[derive(Clone, Debug, Default)]
pub struct RegisterOptions<'a> {
    /// The slug the caller addressed (`PUT /products/{slug}/contract`).
    pub expected_slug: Option<&'a str>,
    /// The domain to use when the contract names none.
    pub fallback_domain: Option<&'a str>,
    /// Whether a missing domain may be created (admins and the CLI).
    pub may_create_domain: bool,
}

/// The domain a contract registers into, from the contract or the fallback.
pub fn target_domain(
    contract: &Contract,
    options: &RegisterOptions<'_>,
) -> Result<String, CatalogError> {
    contract
        .domain
        .clone()
        .or_else(|| options.fallback_domain.map(crate::contracts::slugify))
        .filter(|d| !d.is_empty())
        .ok_or_else(|| invalid("/domain", "name the domain that owns this data product"))
}

/// What a registration did.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Registration {
    /// A new product.
    Created,
    /// A new contract version of an existing product.
    Updated,
    /// The same version with the same document was pushed again; nothing changed.
    Unchanged,
}

/// Registers `contract` as the current contract of its product, on behalf of `actor`.
#[tracing::instrument(skip_all, fields(slug = %contract.slug, version = %contract.version))]
pub async fn register(
    conn: &mut PgConnection,
    actor: &Actor,
    contract: &Contract,
    options: &RegisterOptions<'_>,
) -> Result<Registration, CatalogError> {
    if let Some(expected) = options.expected_slug
        && expected != contract.slug
    {
        return Err(invalid(
            "/dataProduct",
            format!(
                "this contract is for data product `{}`, not `{expected}`",
                contract.slug
            ),
        ));
    }
    let domain = target_domain(contract, options)?;
    if !domains::exists(&mut *conn, &domain).await? {
        if !options.may_create_domain {
            return Err(invalid(
                "/domain",
                format!(
                    "there is no domain `{domain}`; an admin can create it by pushing this contract"
                ),
            ));
        }
        let created = Domain {
            name: title_case(&domain),
            slug: domain.clone(),
            description: String::new(),
        };
        domains::upsert(&mut *conn, &created)
            .await
            .map_err(|e| invalid("/domain", e.to_string()))?;
        audit::record(
            &mut *conn,
            Event::new(actor, "domain.create", format!("domain:{domain}")).in_domain(&domain),
        )
        .await?;
    }

    // Compared before the product row is locked, re-verified under the subject's lock.
    let port_schemas = precheck_port_schemas(&mut *conn, &domain, contract).await?;
    let existing = sqlx::query!(
        r#"select id, domain, current_version from products where slug = $1 for update"#,
        contract.slug,
    )
    .fetch_optional(&mut *conn)
    .await?
    .map(|row| (row.id, row.domain, row.current_version));
    let version = contract.version.to_string();
    let (outcome, before) = match existing {
        None => (Registration::Created, None),
        Some((id, current_domain, current_version)) => {
            if current_domain != domain {
                return Err(CatalogError::Conflict(format!(
                    "data product `{}` belongs to domain `{current_domain}`, not `{domain}`",
                    contract.slug
                )));
            }
            let current = semver::Version::parse(&current_version).ok();
            if current.as_ref() == Some(&contract.version) {
                let published = sqlx::query_scalar!(
                    r#"select document from contract_versions where product_id = $1 and version = $2"#,
                    id,
                    version,
                )
                .fetch_optional(&mut *conn)
                .await?;
                return if published.as_ref() == Some(&contract.document) {
                    Ok(Registration::Unchanged)
                } else {
                    Err(CatalogError::Conflict(format!(
                        "version {version} is already published and cannot change; publish it as a higher version"
                    )))
                };
            }
            if current
                .as_ref()
                .is_some_and(|current| contract.version < *current)
            {
                return Err(CatalogError::Conflict(format!(
                    "version {version} is lower than the published version {current_version}; versions only go up"
                )));
            }
            (Registration::Updated, Some(current_version))
        }
    };
    // The row is locked (or new); one upsert writes the product either way.
    let product_id = sqlx::query_scalar!(
        r#"insert into products (slug, domain, name, description, status, tags, contract_id,
                                 current_version, slas, team, support)
           values ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)
           on conflict (slug) do update
           set name = excluded.name, description = excluded.description, status = excluded.status,
               tags = excluded.tags, contract_id = excluded.contract_id,
               current_version = excluded.current_version, slas = excluded.slas,
               team = excluded.team, support = excluded.support, updated_at = now()
           returning id"#,
        contract.slug,
        domain,
        contract.name,
        contract.description,
        contract.status.as_str(),
        &contract.tags,
        contract.id,
        version,
        json!(contract.slas),
        json!(contract.team),
        json!(contract.support),
    )
    .fetch_one(&mut *conn)
    .await?;

    // Ports are kept by topic across versions: what was measured on a topic (its health,
    // kept per port) outlives a new contract version. Ports no longer declared go.
    let topics: Vec<&str> = contract.ports.iter().map(|p| p.topic.as_str()).collect();
    sqlx::query!(
        r#"delete from output_ports where product_id = $1 and topic <> all($2)"#,
        product_id,
        &topics as &[&str],
    )
    .execute(&mut *conn)
    .await?;
    for port in &contract.ports {
        let kept = sqlx::query_scalar!(
            r#"insert into output_ports (product_id, event_type, topic, format, description, fields)
               values ($1, $2, $3, $4, $5, $6)
               on conflict (topic) do update
               set event_type = excluded.event_type, format = excluded.format,
                   description = excluded.description, fields = excluded.fields,
                   updated_at = now()
               where output_ports.product_id = excluded.product_id
               returning id"#,
            product_id,
            port.event_type,
            port.topic,
            port.format,
            port.description,
            json!(port.fields),
        )
        .fetch_optional(&mut *conn)
        .await?;
        if kept.is_none() {
            return Err(CatalogError::Conflict(TOPIC_TAKEN.to_string()));
        }
        outbox::enqueue(&mut *conn, &outbox::Message::create_topic(&port.topic)).await?;
        let dead_letters = crate::contracts::quality::dead_letter_topic(&port.topic);
        outbox::enqueue(&mut *conn, &outbox::Message::create_topic(dead_letters)).await?;
    }
    register_port_schemas(&mut *conn, actor, port_schemas).await?;
    // Owning a product includes producing to it, as the domain's producer principal.
    crate::producers::on_register(&mut *conn, actor, &domain, product_id, &contract.slug).await?;
    let declared = crate::lineage::declare(&mut *conn, product_id, &domain, contract)
        .await
        .map_err(|error| match error {
            crate::lineage::LineageError::Database(error) => CatalogError::from(error),
            crate::lineage::LineageError::Invalid(mut problems) if !problems.is_empty() => {
                CatalogError::Invalid(problems.swap_remove(0))
            }
            other => invalid("/customProperties", other.to_string()),
        })?;
    // A processor with a nodeKind is a node Meshmart runs, as a principal of its own.
    let node = declared.as_ref().and_then(|declared| {
        let kind = declared.node?;
        let input = declared.inputs.first()?;
        let output = contract.ports.first()?;
        Some(crate::nodes::Declared {
            name: &declared.processor,
            kind,
            input_topic: input,
            output_topic: &output.topic,
        })
    });
    match node {
        Some(node) => crate::nodes::on_declare(&mut *conn, actor, &domain, product_id, &node)
            .await
            .map_err(|error| match error {
                crate::nodes::NodeError::Database(error) => CatalogError::from(error),
                other => CatalogError::Conflict(other.to_string()),
            })?,
        None => {
            crate::nodes::on_undeclared(&mut *conn, product_id, None).await?;
        }
    }
    sqlx::query!(
        r#"insert into contract_versions (product_id, version, document, published_by)
           values ($1, $2, $3, $4)"#,
        product_id,
        version,
        contract.document,
        actor.to_string(),
    )
    .execute(&mut *conn)
    .await?;
    let action = match outcome {
        Registration::Created => "product.register",
        _ => "contract.publish",
    };
    audit::record(
        conn,
        Event::new(actor, action, format!("product:{}", contract.slug))
            .in_domain(&domain)
            .before(before.map(|v| json!({ "version": v })))
            .after(json!({ "version": version, "ports": contract.ports.iter().map(|p| &p.topic).collect::<Vec<_>>() })),
    )
    .await?;
    Ok(outcome)
}

fn title_case(slug: &str) -> String {
    slug.split('-')
        .map(|word| {
            let mut chars = word.chars();
            chars
                .next()
                .map(|c| c.to_uppercase().chain(chars).collect::<String>())
                .unwrap_or_default()
        })
        .collect::<Vec<_>>()
        .join(" ")
}

/// A product as lists show it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, sqlx::FromRow)]
pub struct ProductSummary {
    pub slug: String,
    pub name: String,
    pub domain: String,
    pub status: String,
    pub description: String,
    pub tags: Vec<String>,
    pub current_version: String,
    pub updated_at: chrono::DateTime<chrono::Utc>,
}

/// An output port as product pages show it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, sqlx::FromRow)]
pub struct PortView {
    pub event_type: String,
    pub topic: String,
    pub format: String,
    pub partitions: i32,
    pub retention_ms: i64,
    pub description: Option<String>,
    pub fields: Value,
}

/// Everything the product page shows.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ProductDetail {
    /// The row's id, for the reads that follow (never part of an answer).
    #[serde(skip)]
    pub id: Uuid,
    #[serde(flatten)]
    pub summary: ProductSummary,
    pub contract_id: String,
    pub ports: Vec<PortView>,
    pub slas: Value,
    pub team: Value,
    pub support: Value,
    pub versions: Vec<VersionInfo>,
    /// The owning domain's display name (its slug if it has none).
    pub domain_name: String,
    /// The stream node that computes the product, if one does.
    pub computed_by: Option<ComputedBy>,
}

/// A stream node computing a product.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ComputedBy {
    pub node: String,
    /// `enrichment`, `filter`, ….
    pub kind: String,
}

/// One published contract version.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, sqlx::FromRow)]
pub struct VersionInfo {
    pub version: String,
    pub published_by: String,
    pub created_at: chrono::DateTime<chrono::Utc>,
}

/// Filters and paging for product lists.
#[derive(Clone, Debug, Default, Deserialize)]
pub struct ProductQuery {
    pub domain: Option<String>,
    pub status: Option<String>,
    pub tag: Option<String>,
    pub limit: Option<i64>,
    pub offset: Option<i64>,
}

/// Most products one page returns.
pub const MAX_PAGE: i64 = 500;

fn push_filters(query: &mut QueryBuilder<'_, Postgres>, filter: &ProductQuery) {
    if let Some(domain) = filter.domain.as_deref().filter(|d| !d.is_empty()) {
        query.push(" and domain = ").push_bind(domain.to_string());
    }
    if let Some(status) = filter.status.as_deref().filter(|s| !s.is_empty()) {
        query.push(" and status = ").push_bind(status.to_string());
    }
    if let Some(tag) = filter.tag.as_deref().filter(|t| !t.is_empty()) {
        query
            .push(" and ")
            .push_bind(tag.to_string())
            .push(" = any(tags)");
    }
}

/// A page of products (by name) and the total matching.
pub async fn list(
    pool: &PgPool,
    filter: &ProductQuery,
) -> Result<(Vec<ProductSummary>, i64), sqlx::Error> {
    // Built, not a `query_as!`: each filter given adds its condition (push_filters), and
    // only the given ones; every value is a bind.
    let mut count = QueryBuilder::<Postgres>::new("select count(*) from products where true");
    push_filters(&mut count, filter);
    let total: i64 = count.build_query_scalar().fetch_one(pool).await?;
    let mut query = QueryBuilder::<Postgres>::new(
        "select slug, name, domain, status, description, tags, current_version, updated_at \
         from products where true",
    );
    push_filters(&mut query, filter);
    query
        .push(" order by name, slug limit ")
        .push_bind(filter.limit.unwrap_or(50).clamp(1, MAX_PAGE))
        .push(" offset ")
        .push_bind(filter.offset.unwrap_or(0).max(0));
    let items = query
        .build_query_as::<ProductSummary>()
        .fetch_all(pool)
        .await?;
    Ok((items, total))
}

/// The product with this slug, with ports, SLAs, team, support, versions, its domain's name
/// and the node computing it: one query (the product page and its sections read it several
/// times per page).
pub async fn get(pool: &PgPool, slug: &str) -> Result<Option<ProductDetail>, sqlx::Error> {
    let Some(row) = sqlx::query!(
        r#"select p.id, p.contract_id, p.slas, p.team, p.support, p.slug, p.name, p.domain, p.status,
                  p.description, p.tags, p.current_version,
                  p.updated_at as "updated_at: Timestamp",
                  (select coalesce(json_agg(o order by o.event_type), '[]')
                   from (select event_type, topic, format, partitions, retention_ms,
                                description, fields
                         from output_ports where product_id = p.id) o)
                    as "ports!: sqlx::types::Json<Vec<PortView>>",
                  (select coalesce(json_agg(v), '[]')
                   from (select version, published_by, created_at
                         from contract_versions where product_id = p.id) v)
                    as "versions!: sqlx::types::Json<Vec<VersionInfo>>",
                  coalesce((select d.name from domains d where d.slug = p.domain), p.domain)
                    as "domain_name!",
                  (select json_build_object('node', n.name, 'kind', n.kind) from nodes n
                   where n.product_id = p.id order by n.name limit 1)
                    as "computed_by: sqlx::types::Json<ComputedBy>"
           from products p where p.slug = $1"#,
        slug,
    )
    .fetch_optional(pool)
    .await?
    else {
        return Ok(None);
    };
    let summary = ProductSummary {
        slug: row.slug,
        name: row.name,
        domain: row.domain,
        status: row.status,
        description: row.description,
        tags: row.tags,
        current_version: row.current_version,
        updated_at: row.updated_at,
    };
    let (contract_id, slas, team, support, ports) =
        (row.contract_id, row.slas, row.team, row.support, row.ports);
    let mut versions = row.versions.0;
    versions.sort_by(|a, b| {
        let parse = |v: &str| semver::Version::parse(v).ok();
        parse(&b.version).cmp(&parse(&a.version))
    });
    Ok(Some(ProductDetail {
        id: row.id,
        summary,
        contract_id,
        ports: ports.0,
        slas,
        team,
        support,
        versions,
        domain_name: row.domain_name,
        computed_by: row.computed_by.map(|node| node.0),
    }))
}

/// The contract document of a product: the current version, or `version`.
pub async fn contract_document(
    pool: &PgPool,
    slug: &str,
    version: Option<&str>,
) -> Result<Option<(String, Value)>, sqlx::Error> {
    Ok(sqlx::query!(
        r#"select v.version, v.document
           from products p join contract_versions v on v.product_id = p.id
           where p.slug = $1 and v.version = coalesce($2, p.current_version)"#,
        slug,
        version,
    )
    .fetch_optional(pool)
    .await?
    .map(|row| (row.version, row.document)))
}

/// The domain that owns a product, if it exists.
pub async fn domain_of(pool: &PgPool, slug: &str) -> Result<Option<String>, sqlx::Error> {
    sqlx::query_scalar!("select domain from products where slug = $1", slug)
        .fetch_optional(pool)
        .await
}

impl ProductStatus {
    /// Every status, in lifecycle order.
    pub const ALL: [ProductStatus; 4] = [
        ProductStatus::Draft,
        ProductStatus::Active,
        ProductStatus::Deprecated,
        ProductStatus::Retired,
    ];
}

/// Why a publication was refused.
#[derive(Debug, thiserror::Error)]
pub enum PublishError {
    #[error(transparent)]
    Contract(#[from] crate::contracts::ContractError),
    #[error(transparent)]
    Denied(#[from] crate::policy::Denied),
    #[error(transparent)]
    Catalog(#[from] CatalogError),
}

impl From<sqlx::Error> for PublishError {
    fn from(error: sqlx::Error) -> Self {
        PublishError::Catalog(CatalogError::from(error))
    }
}

/// A caller who passed [`publish`]'s first check (signed in and may read the catalog):
/// what `publish` takes, so an adapter can refuse before reading a large body without the
/// check being made twice.
pub struct Publisher<'a> {
    caller: &'a crate::identity::Caller,
}

/// Publishing's first check, before any parsing work.
pub async fn authorize_publish<'a>(
    policy: &crate::policy::Policy,
    caller: &'a crate::identity::Caller,
) -> Result<Publisher<'a>, crate::policy::Denied> {
    policy
        .authorize(caller, crate::policy::GLOBAL, Permission::ReadCatalog)
        .await?;
    Ok(Publisher { caller })
}

/// Validates contract text, checks that the publisher may publish to its domain (admins
/// may also create a missing domain), and registers it — the one path for the REST API
/// and the browser.
pub async fn publish(
    pool: &PgPool,
    policy: &crate::policy::Policy,
    publisher: &Publisher<'_>,
    text: &str,
    expected_slug: Option<&str>,
    fallback_domain: Option<&str>,
) -> Result<(Contract, Registration), PublishError> {
    use crate::policy::GLOBAL;

    let caller = publisher.caller;
    let contract = crate::contracts::import(text)?;
    let options = RegisterOptions {
        expected_slug,
        fallback_domain,
        may_create_domain: false,
    };
    let domain = target_domain(&contract, &options)?;
    let signed_in = caller
        .user()
        .ok_or(crate::policy::Denied::Unauthenticated)?;
    let may_create_domain = policy
        .allows(signed_in, GLOBAL, Permission::CreateDomain)
        .await;
    if !may_create_domain {
        let mut conn = pool.acquire().await?;
        if !domains::exists(&mut conn, &domain).await? {
            return Err(invalid(
                "/domain",
                format!(
                    "there is no domain `{domain}`; an admin can create it by pushing this contract"
                ),
            )
            .into());
        }
    }
    policy
        .authorize(caller, &domain, Permission::WriteProduct)
        .await?;
    let options = RegisterOptions {
        may_create_domain,
        ..options
    };
    let mut tx = pool.begin().await?;
    let outcome = register(&mut tx, &caller.audit_actor(), &contract, &options).await?;
    tx.commit().await?;
    Ok((contract, outcome))
}

/// The domains in which `user` may publish products.
pub async fn publishable_domains(
    pool: &PgPool,
    policy: &crate::policy::Policy,
    user: &crate::identity::User,
) -> Result<Vec<Domain>, sqlx::Error> {
    let mut allowed = Vec::new();
    for domain in domains::list(pool).await? {
        if policy
            .allows(user, &domain.slug, Permission::WriteProduct)
            .await
        {
            allowed.push(domain);
        }
    }
    Ok(allowed)
}
