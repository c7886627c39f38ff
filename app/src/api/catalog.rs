//! Catalog reads for the browser: domains with their product counts, pages of products,
//! everything the product page shows, and line diffs between two contract versions.
//!
//! Anyone signed in may read the catalog. The DTOs here compile to wasm too, so times
//! travel as preformatted strings and contract JSON (fields, SLAs, team, support) is mapped
//! onto typed rows on the server rather than sent as `serde_json::Value`.

use leptos::prelude::*;
use serde::{Deserialize, Serialize};

use super::ApiError;
#[cfg(feature = "ssr")]
use domain::policy::Permission;

/// A domain of the mesh and how many data products it owns.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct DomainSummary {
    pub slug: String,
    pub name: String,
    pub description: String,
    pub products: i64,
}

/// A data product as lists show it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProductItem {
    pub slug: String,
    pub name: String,
    pub domain: String,
    /// `draft`, `active`, `deprecated` or `retired`.
    pub status: String,
    pub description: String,
    pub tags: Vec<String>,
    pub version: String,
    pub updated_at: String,
    /// The stream's live status: `fresh`, `stale` or `no_data`.
    pub health: String,
}

/// One page of products, and the domain they were filtered by.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProductList {
    /// The domain asked for (with its total product count), when one was.
    pub domain: Option<DomainSummary>,
    pub items: Vec<ProductItem>,
    /// How many products match, over all pages.
    pub total: i64,
    pub limit: i64,
    pub offset: i64,
}

/// One field of a port's schema, with its nested fields.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct FieldRow {
    pub name: String,
    pub logical_type: Option<String>,
    pub physical_type: Option<String>,
    pub required: bool,
    pub description: Option<String>,
    pub classification: Option<String>,
    /// Each example as text: strings as they are, other values as JSON.
    pub examples: Vec<String>,
    pub fields: Vec<FieldRow>,
}

/// An output port: one Kafka topic carrying one event type.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PortRow {
    pub event_type: String,
    pub topic: String,
    pub format: String,
    pub partitions: i32,
    pub retention_ms: i64,
    pub description: Option<String>,
    pub fields: Vec<FieldRow>,
}

/// One service-level property of the contract.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SlaRow {
    pub property: String,
    pub value: String,
    pub unit: Option<String>,
    pub element: Option<String>,
    pub driver: Option<String>,
}

/// A member of the owning team.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct MemberRow {
    pub username: String,
    pub name: Option<String>,
    pub role: Option<String>,
}

/// A support channel.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SupportRow {
    pub channel: String,
    pub url: Option<String>,
    pub tool: Option<String>,
}

/// One published contract version.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct VersionRow {
    pub version: String,
    pub published_by: String,
    pub published_at: String,
}

/// Everything the product page shows.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProductView {
    pub product: ProductItem,
    pub domain_name: String,
    pub contract_id: String,
    pub ports: Vec<PortRow>,
    pub slas: Vec<SlaRow>,
    pub team: Vec<MemberRow>,
    pub support: Vec<SupportRow>,
    /// Newest first.
    pub versions: Vec<VersionRow>,
    /// The stream node Meshmart runs to compute this product: (name, kind).
    pub computed_by: Option<(String, String)>,
    /// The most sensitive classification of any of its fields (`restricted`, …).
    pub classification: Option<String>,
    /// Whether the caller may publish a new version (an owner of its domain, or an admin).
    #[serde(default)]
    pub can_publish: bool,
}

/// Every classification in `fields` and their nested fields.
pub fn field_classifications(fields: &[FieldRow], out: &mut Vec<String>) {
    for field in fields {
        out.extend(field.classification.clone());
        field_classifications(&field.fields, out);
    }
}

/// What a line of a diff is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum DiffTag {
    Equal,
    Insert,
    Delete,
    /// Unchanged lines left out between two changes; the line's text says how many.
    Skip,
}

impl DiffTag {
    /// `equal`, `insert`, `delete` or `skip`.
    pub fn as_str(self) -> &'static str {
        match self {
            DiffTag::Equal => "equal",
            DiffTag::Insert => "insert",
            DiffTag::Delete => "delete",
            DiffTag::Skip => "skip",
        }
    }
}

/// One line of a contract diff, with its line numbers in the old and new document.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct DiffLine {
    pub tag: DiffTag,
    pub old_line: Option<usize>,
    pub new_line: Option<usize>,
    pub text: String,
}

/// The line diff of two contract versions' YAML.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct VersionDiff {
    pub from: String,
    pub to: String,
    /// Changed lines with a few lines of context; empty when the documents are equal.
    pub lines: Vec<DiffLine>,
    pub inserted: usize,
    pub deleted: usize,
}

impl VersionDiff {
    /// The line diff from `old` (version `from`) to `new` (version `to`), with a few lines
    /// of context around each change.
    #[cfg(feature = "ssr")]
    pub fn between(from: String, to: String, old: &str, new: &str) -> Self {
        let (lines, inserted, deleted) = convert::diff(old, new, DIFF_CONTEXT);
        Self {
            from,
            to,
            lines,
            inserted,
            deleted,
        }
    }

    /// Whether both sides carry the same version (a contract version is immutable, so the
    /// newer side cannot be published).
    pub fn same_version(&self) -> bool {
        self.from == self.to
    }
}

/// Unchanged lines kept around each change of a diff.
#[cfg(feature = "ssr")]
const DIFF_CONTEXT: usize = 3;

#[cfg(feature = "ssr")]
mod convert {
    use domain::catalog::{PortView, ProductSummary, VersionInfo};
    use domain::contracts::{Field, Member, Sla, SupportChannel};
    use serde::de::DeserializeOwned;
    use serde_json::Value;

    use super::*;
    use crate::ssr::time::timestamp;

    pub fn domain_summary(summary: domain::domains::Summary) -> DomainSummary {
        DomainSummary {
            slug: summary.slug,
            name: summary.name,
            description: summary.description,
            products: summary.products,
        }
    }

    /// Reads a JSON column the catalog wrote; a mismatch is a bug on our side.
    pub fn rows<T: DeserializeOwned>(what: &str, value: Value) -> Result<Vec<T>, ApiError> {
        if value.is_null() {
            return Ok(Vec::new());
        }
        serde_json::from_value(value).map_err(|error| {
            crate::ssr::internal(format!(
                "stored {what} do not match the catalog model: {error}"
            ))
        })
    }

    pub fn product(summary: ProductSummary) -> ProductItem {
        ProductItem {
            slug: summary.slug,
            name: summary.name,
            domain: summary.domain,
            status: summary.status,
            description: summary.description,
            tags: summary.tags,
            version: summary.current_version,
            updated_at: timestamp(summary.updated_at),
            health: "no_data".into(),
        }
    }

    pub fn field(field: Field) -> FieldRow {
        FieldRow {
            name: field.name,
            logical_type: field.logical_type,
            physical_type: field.physical_type,
            required: field.required,
            description: field.description,
            classification: field.classification,
            examples: field
                .examples
                .into_iter()
                .map(|example| match example {
                    Value::String(text) => text,
                    other => other.to_string(),
                })
                .collect(),
            fields: field.fields.into_iter().map(self::field).collect(),
        }
    }

    pub fn port(port: PortView) -> Result<PortRow, ApiError> {
        let fields = rows::<Field>("port fields", port.fields)?;
        Ok(PortRow {
            event_type: port.event_type,
            topic: port.topic,
            format: port.format,
            partitions: port.partitions,
            retention_ms: port.retention_ms,
            description: port.description,
            fields: fields.into_iter().map(field).collect(),
        })
    }

    pub fn sla(sla: Sla) -> SlaRow {
        SlaRow {
            property: sla.property,
            value: sla.value,
            unit: sla.unit,
            element: sla.element,
            driver: sla.driver,
        }
    }

    pub fn member(member: Member) -> MemberRow {
        MemberRow {
            username: member.username,
            name: member.name,
            role: member.role,
        }
    }

    pub fn support(channel: SupportChannel) -> SupportRow {
        SupportRow {
            channel: channel.channel,
            url: channel.url,
            tool: channel.tool,
        }
    }

    pub fn version(info: VersionInfo) -> VersionRow {
        VersionRow {
            version: info.version,
            published_by: info.published_by,
            published_at: timestamp(info.created_at),
        }
    }

    /// The line diff of `old` and `new`, with `context` unchanged lines around each change.
    pub fn diff(old: &str, new: &str, context: usize) -> (Vec<DiffLine>, usize, usize) {
        use similar::{ChangeTag, TextDiff};

        let diff = TextDiff::from_lines(old, new);
        let (mut lines, mut inserted, mut deleted) = (Vec::new(), 0, 0);
        // Where the previous hunk ended in the old document, to count the lines skipped.
        let mut old_end = 0;
        for hunk in diff.grouped_ops(context) {
            let Some(start) = hunk.first().map(|op| op.old_range().start) else {
                continue;
            };
            if start > old_end {
                lines.push(skip(start - old_end));
            }
            for op in &hunk {
                old_end = op.old_range().end;
                for change in diff.iter_changes(op) {
                    let tag = match change.tag() {
                        ChangeTag::Equal => DiffTag::Equal,
                        ChangeTag::Insert => {
                            inserted += 1;
                            DiffTag::Insert
                        }
                        ChangeTag::Delete => {
                            deleted += 1;
                            DiffTag::Delete
                        }
                    };
                    lines.push(DiffLine {
                        tag,
                        old_line: change.old_index().map(|i| i + 1),
                        new_line: change.new_index().map(|i| i + 1),
                        text: change.value().trim_end_matches(['\r', '\n']).to_string(),
                    });
                }
            }
        }
        let old_len = diff.old_slices().len();
        if !lines.is_empty() && old_len > old_end {
            lines.push(skip(old_len - old_end));
        }
        (lines, inserted, deleted)
    }

    fn skip(count: usize) -> DiffLine {
        DiffLine {
            tag: DiffTag::Skip,
            old_line: None,
            new_line: None,
            text: if count == 1 {
                "1 unchanged line".to_string()
            } else {
                format!("{count} unchanged lines")
            },
        }
    }

    #[cfg(test)]
    mod tests {
        use super::*;

        fn tags(lines: &[DiffLine]) -> Vec<(&str, &str)> {
            lines
                .iter()
                .map(|l| (l.tag.as_str(), l.text.as_str()))
                .collect()
        }

        #[test]
        fn equal_documents_have_no_lines() {
            let (lines, inserted, deleted) = diff("a\nb\n", "a\nb\n", 3);
            assert!(lines.is_empty());
            assert_eq!((inserted, deleted), (0, 0));
        }

        #[test]
        fn a_change_keeps_context_and_skips_the_rest() {
            let old: String = (1..=20).map(|i| format!("line {i}\n")).collect();
            let new = old.replace("line 10\n", "line ten\n");
            let (lines, inserted, deleted) = diff(&old, &new, 2);
            assert_eq!((inserted, deleted), (1, 1));
            assert_eq!(
                tags(&lines),
                vec![
                    ("skip", "7 unchanged lines"),
                    ("equal", "line 8"),
                    ("equal", "line 9"),
                    ("delete", "line 10"),
                    ("insert", "line ten"),
                    ("equal", "line 11"),
                    ("equal", "line 12"),
                    ("skip", "8 unchanged lines"),
                ]
            );
            assert_eq!(lines[3].old_line, Some(10));
            assert_eq!(lines[4].new_line, Some(10));
        }
    }
}

/// Every domain with how many data products it owns, by name.
#[server(prefix = "/api/fn", endpoint = "catalog_domains")]
pub async fn list_domain_summaries() -> Result<Vec<DomainSummary>, ApiError> {
    use crate::ssr::{authorize, internal, services};

    authorize(domain::policy::GLOBAL, Permission::ReadCatalog).await?;
    let summaries = domain::domains::summaries(&services()?.pool)
        .await
        .map_err(internal)?;
    Ok(summaries.into_iter().map(convert::domain_summary).collect())
}

/// A page of products by name, of one domain when `domain` is given (404 when that domain
/// does not exist).
#[server(prefix = "/api/fn", endpoint = "catalog_products")]
pub async fn list_products(
    domain: Option<String>,
    limit: Option<i64>,
    offset: Option<i64>,
) -> Result<ProductList, ApiError> {
    use crate::ssr::{authorize, fail, internal, services};

    authorize(domain::policy::GLOBAL, Permission::ReadCatalog).await?;
    let pool = services()?.pool;
    let domain = domain.filter(|d| !d.trim().is_empty());
    let summary = match &domain {
        None => None,
        Some(slug) => {
            let Some(found) = domain::domains::summary(&pool, slug)
                .await
                .map_err(internal)?
            else {
                return Err(fail(http::StatusCode::NOT_FOUND, ApiError::NotFound));
            };
            Some(convert::domain_summary(found))
        }
    };
    let limit = limit.unwrap_or(50).clamp(1, domain::catalog::MAX_PAGE);
    let offset = offset.unwrap_or(0).max(0);
    let query = domain::catalog::ProductQuery {
        domain,
        status: None,
        tag: None,
        limit: Some(limit),
        offset: Some(offset),
    };
    let (items, total) = domain::catalog::list(&pool, &query)
        .await
        .map_err(internal)?;
    let mut items: Vec<ProductItem> = items.into_iter().map(convert::product).collect();
    let slugs: Vec<String> = items.iter().map(|i| i.slug.clone()).collect();
    let live = domain::health::report::published_statuses(&pool, &slugs)
        .await
        .map_err(internal)?;
    for item in &mut items {
        if let Some(status) = live.get(&item.slug) {
            item.health.clone_from(status);
        }
    }
    Ok(ProductList {
        domain: summary,
        items,
        total,
        limit,
        offset,
    })
}

/// The data product `slug` with its ports, schemas, SLAs, team, support and versions.
#[server(prefix = "/api/fn", endpoint = "catalog_product")]
pub async fn product_detail(slug: String) -> Result<ProductView, ApiError> {
    use crate::ssr::{authorize, fail, services};

    let user = authorize(domain::policy::GLOBAL, Permission::ReadCatalog).await?;
    let services = services()?;
    let Some(detail) = crate::ssr::product(&slug).await? else {
        return Err(fail(http::StatusCode::NOT_FOUND, ApiError::NotFound));
    };
    let can_publish = services
        .policy
        .allows(&user, &detail.summary.domain, Permission::WriteProduct)
        .await;
    let ports: Vec<PortRow> = detail
        .ports
        .into_iter()
        .map(convert::port)
        .collect::<Result<_, _>>()?;
    let mut classes = Vec::new();
    for port in &ports {
        field_classifications(&port.fields, &mut classes);
    }
    let classification =
        domain::contracts::sensitivity::most_sensitive(classes.iter().map(String::as_str))
            .map(str::to_string);
    Ok(ProductView {
        domain_name: detail.domain_name,
        contract_id: detail.contract_id,
        classification,
        can_publish,
        ports,
        slas: convert::rows("slas", detail.slas)?
            .into_iter()
            .map(convert::sla)
            .collect(),
        team: convert::rows("team members", detail.team)?
            .into_iter()
            .map(convert::member)
            .collect(),
        support: convert::rows("support channels", detail.support)?
            .into_iter()
            .map(convert::support)
            .collect(),
        versions: detail.versions.into_iter().map(convert::version).collect(),
        computed_by: detail.computed_by.map(|by| (by.node, by.kind)),
        product: convert::product(detail.summary),
    })
}

/// The line diff between versions `from` and `to` of the contract of `slug`, as YAML.
#[server(prefix = "/api/fn", endpoint = "catalog_contract_diff")]
pub async fn contract_diff(
    slug: String,
    from: String,
    to: String,
) -> Result<VersionDiff, ApiError> {
    use crate::ssr::{authorize, fail, internal, services, unprocessable};

    authorize(domain::policy::GLOBAL, Permission::ReadCatalog).await?;
    let pool = services()?.pool;
    if domain::catalog::domain_of(&pool, &slug)
        .await
        .map_err(internal)?
        .is_none()
    {
        return Err(fail(http::StatusCode::NOT_FOUND, ApiError::NotFound));
    }
    let mut documents = Vec::with_capacity(2);
    for (field, version) in [("from", &from), ("to", &to)] {
        let document = domain::catalog::contract_document(&pool, &slug, Some(version.as_str()))
            .await
            .map_err(internal)?
            .ok_or_else(|| unprocessable(field, format!("there is no version {version}")))?;
        documents.push(domain::contracts::export(&document.1));
    }
    Ok(VersionDiff::between(from, to, &documents[0], &documents[1]))
}
