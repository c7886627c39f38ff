//! What the index knows about a data product, read from PostgreSQL (the source of truth)
//! in one query for any set of products. The same struct is stored in the index, so a hit
//! is shown without another database round trip.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use sqlx::PgPool;
use sqlx::types::Json;

use crate::db::Timestamp;

/// One data product as search sees it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ProductDoc {
    pub slug: String,
    pub name: String,
    pub description: String,
    /// Domain slug.
    pub domain: String,
    pub domain_name: String,
    pub status: String,
    pub tags: Vec<String>,
    pub owners: Vec<Owner>,
    /// The most sensitive classification of any schema field (`public` < `internal` <
    /// `confidential` < `restricted`), if fields are classified.
    pub classification: Option<String>,
    /// `platinum`, `gold`, `silver` or `bronze` (see [`sla_tier`]).
    pub sla_tier: Option<String>,
    pub ports: Vec<PortDoc>,
    pub subscribers: u64,
    pub updated_at: DateTime<Utc>,
    /// The stream's live status, `fresh`, `stale` or `no_data` (`domain::health`).
    #[serde(default = "no_data")]
    pub health: String,
    /// When the live status last changed.
    #[serde(default)]
    pub health_changed_at: Option<DateTime<Utc>>,
}

fn no_data() -> String {
    "no_data".to_string()
}

/// An owner named in the contract's team.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Owner {
    pub username: String,
    pub name: String,
}

/// An output port: its topic, event type and schema fields.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PortDoc {
    pub topic: String,
    pub event_type: String,
    pub format: String,
    pub description: Option<String>,
    pub fields: Vec<FieldDoc>,
}

/// A schema field; nested fields are named by their dotted path.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct FieldDoc {
    pub name: String,
    pub description: Option<String>,
}

impl ProductDoc {
    /// Every field of every port.
    pub fn fields(&self) -> impl Iterator<Item = &FieldDoc> {
        self.ports.iter().flat_map(|port| port.fields.iter())
    }

    /// The change stamp the index compares with PostgreSQL's to find stale documents.
    pub fn version(&self) -> i64 {
        self.updated_at
            .max(self.health_changed_at.unwrap_or(self.updated_at))
            .timestamp_micros()
    }
}

struct Row {
    slug: String,
    name: String,
    description: String,
    domain: String,
    domain_name: String,
    status: String,
    tags: Vec<String>,
    slas: Json<Value>,
    team: Json<Value>,
    ports: Json<Vec<RawPort>>,
    subscribers: i64,
    updated_at: DateTime<Utc>,
    health: Option<String>,
    health_changed_at: Option<DateTime<Utc>>,
}

#[derive(Deserialize)]
struct RawPort {
    topic: String,
    event_type: String,
    format: String,
    description: Option<String>,
    #[serde(default)]
    fields: Vec<RawField>,
}

#[derive(Deserialize)]
struct RawField {
    name: String,
    #[serde(default)]
    description: Option<String>,
    #[serde(default)]
    classification: Option<String>,
    #[serde(default)]
    fields: Vec<RawField>,
}

/// `sqlx::query_as!(Row, …)` over every product's search document, with the rest of the
/// query (string literals joined with `+`, as the macro allows) and its arguments.
macro_rules! select_documents {
    ($($tail:literal)* $(, $arg:expr)* $(,)?) => {
        sqlx::query_as!(
            Row,
            r#"select p.slug as "slug!", p.name as "name!", p.description as "description!",
                  p.domain as "domain!", d.name as "domain_name!", p.status as "status!",
                  p.tags as "tags!", p.slas as "slas!: Json<Value>",
                  p.team as "team!: Json<Value>",
                  p.updated_at as "updated_at!: Timestamp", h.status as "health?",
                  h.changed_at as "health_changed_at?: Timestamp",
                  (select count(*) from subscriptions s
                   where s.product_id = p.id
                     and s.state in ('approved', 'provisioning', 'active')) as "subscribers!",
                  coalesce((select json_agg(json_build_object(
                                'topic', o.topic, 'event_type', o.event_type,
                                'format', o.format, 'description', o.description,
                                'fields', o.fields) order by o.event_type)
                            from output_ports o where o.product_id = p.id), '[]'::json)
                    as "ports!: Json<Vec<RawPort>>"
           from products p join domains d on d.slug = p.domain
           left join product_stream_status h on h.product_id = p.id "# $(+ $tail)*
            $(, $arg)*
        )
    };
}

/// Loads the products named by `slugs`, or all of them when `slugs` is `None`.
///
/// Two statements rather than one with `$1 is null or p.slug = any($1)`: that one cannot
/// use the index on `slug`, and compared every product with every slug of a batch (about
/// a second per 2,000 slugs at 100,000 products).
pub async fn load(pool: &PgPool, slugs: Option<&[String]>) -> Result<Vec<ProductDoc>, sqlx::Error> {
    // Live subscriptions (approved, provisioning, active) count as subscribers.
    let rows = match slugs {
        Some(slugs) => {
            select_documents!("where p.slug = any($1)", slugs)
                .fetch_all(pool)
                .await?
        }
        None => select_documents!().fetch_all(pool).await?,
    };
    Ok(rows.into_iter().map(ProductDoc::from).collect())
}

/// The change stamp of every product, by slug.
pub async fn versions(pool: &PgPool) -> Result<Vec<(String, i64)>, sqlx::Error> {
    let rows = sqlx::query!(
        r#"select p.slug as "slug!", greatest(p.updated_at, h.changed_at) as "updated!: Timestamp"
           from products p left join product_stream_status h on h.product_id = p.id"#,
    )
    .fetch_all(pool)
    .await?;
    Ok(rows
        .into_iter()
        .map(|row| (row.slug, row.updated.timestamp_micros()))
        .collect())
}

impl From<Row> for ProductDoc {
    fn from(row: Row) -> Self {
        let mut classification: Option<(usize, String)> = None;
        let ports = row
            .ports
            .0
            .into_iter()
            .map(|port| {
                let mut fields = Vec::new();
                flatten(&port.fields, "", &mut fields, &mut classification);
                PortDoc {
                    topic: port.topic,
                    event_type: port.event_type,
                    format: port.format,
                    description: port.description,
                    fields,
                }
            })
            .collect();
        let mut tags: Vec<String> = row.tags.iter().map(|t| t.to_lowercase()).collect();
        tags.dedup();
        ProductDoc {
            sla_tier: sla_tier(&tags, &row.slas.0),
            owners: owners(&row.team.0),
            classification: classification.map(|(_, name)| name),
            slug: row.slug,
            name: row.name,
            description: row.description,
            domain: row.domain,
            domain_name: row.domain_name,
            status: row.status,
            tags,
            ports,
            subscribers: u64::try_from(row.subscribers).unwrap_or(0),
            updated_at: row.updated_at,
            health: row.health.unwrap_or_else(no_data),
            health_changed_at: row.health_changed_at,
        }
    }
}

fn flatten(
    fields: &[RawField],
    parent: &str,
    out: &mut Vec<FieldDoc>,
    most_sensitive: &mut Option<(usize, String)>,
) {
    for field in fields {
        let name = if parent.is_empty() {
            field.name.clone()
        } else {
            format!("{parent}.{}", field.name)
        };
        use crate::contracts::sensitivity;
        if let Some(level) = field.classification.as_deref().and_then(sensitivity::level)
            && most_sensitive.as_ref().is_none_or(|(l, _)| level > *l)
        {
            *most_sensitive = Some((level, sensitivity::LEVELS[level].to_string()));
        }
        out.push(FieldDoc {
            name: name.clone(),
            description: field.description.clone().filter(|d| !d.is_empty()),
        });
        flatten(&field.fields, &name, out, most_sensitive);
    }
}

/// Owners from the contract's team: members whose role is `owner`, else everyone listed.
fn owners(team: &Value) -> Vec<Owner> {
    let members: Vec<&Value> = team
        .as_array()
        .map(|a| a.iter().collect())
        .unwrap_or_default();
    let is_owner = |m: &&Value| {
        m.get("role")
            .and_then(Value::as_str)
            .is_some_and(|r| r.eq_ignore_ascii_case("owner"))
    };
    let chosen: Vec<&Value> = if members.iter().any(is_owner) {
        members.into_iter().filter(is_owner).collect()
    } else {
        members
    };
    chosen
        .into_iter()
        .filter_map(|m| {
            let username = m.get("username").and_then(Value::as_str)?.to_string();
            let name = m
                .get("name")
                .and_then(Value::as_str)
                .unwrap_or(&username)
                .to_string();
            Some(Owner { username, name })
        })
        .collect()
}

/// The SLA tier: a tier named as a tag (`gold`) wins; otherwise the contract's availability
/// objective decides (≥ 99.99 % platinum, ≥ 99.9 % gold, ≥ 99.5 % silver, else bronze).
/// Products without either have no tier.
pub fn sla_tier(tags: &[String], slas: &Value) -> Option<String> {
    const TIERS: [&str; 4] = ["platinum", "gold", "silver", "bronze"];
    if let Some(tier) = TIERS.iter().find(|t| tags.iter().any(|tag| tag == *t)) {
        return Some((*tier).to_string());
    }
    let availability = slas.as_array()?.iter().find_map(|sla| {
        let property = sla.get("property").and_then(Value::as_str)?;
        if !property.eq_ignore_ascii_case("availability") {
            return None;
        }
        match sla.get("value")? {
            Value::String(s) => s.trim().trim_end_matches('%').parse::<f64>().ok(),
            Value::Number(n) => n.as_f64(),
            _ => None,
        }
    })?;
    let tier = match availability {
        a if a >= 99.99 => "platinum",
        a if a >= 99.9 => "gold",
        a if a >= 99.5 => "silver",
        _ => "bronze",
    };
    Some(tier.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn sla_tier_from_tags_or_availability() {
        assert_eq!(
            sla_tier(&["gold".into()], &json!([])).as_deref(),
            Some("gold")
        );
        let slas = json!([{"property": "availability", "value": "99.5", "unit": "%"}]);
        assert_eq!(sla_tier(&[], &slas).as_deref(), Some("silver"));
        let slas = json!([{"property": "availability", "value": 99.99}]);
        assert_eq!(sla_tier(&[], &slas).as_deref(), Some("platinum"));
        assert_eq!(
            sla_tier(&[], &json!([{"property": "latency", "value": "5"}])),
            None
        );
    }

    #[test]
    fn owners_prefer_the_owner_role() {
        let team = json!([
            {"username": "bob@x", "name": "Bob", "role": "engineer"},
            {"username": "alice@x", "name": "Alice", "role": "Owner"}
        ]);
        assert_eq!(
            owners(&team),
            vec![Owner {
                username: "alice@x".into(),
                name: "Alice".into()
            }]
        );
        let team = json!([{"username": "bob@x"}]);
        assert_eq!(owners(&team)[0].name, "bob@x");
    }

    #[test]
    fn nested_fields_are_flattened_and_the_most_sensitive_class_wins() {
        let fields: Vec<RawField> = serde_json::from_value(json!([
            {"name": "customer", "classification": "internal", "fields": [
                {"name": "email", "classification": "restricted", "description": "Email"}
            ]},
            {"name": "channel", "classification": "public"}
        ]))
        .expect("fields");
        let mut out = Vec::new();
        let mut class = None;
        flatten(&fields, "", &mut out, &mut class);
        let names: Vec<&str> = out.iter().map(|f| f.name.as_str()).collect();
        assert_eq!(names, vec!["customer", "customer.email", "channel"]);
        assert_eq!(class.map(|(_, c)| c).as_deref(), Some("restricted"));
    }
}
