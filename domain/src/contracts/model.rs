//! Mapping a validated ODCS document onto the catalog's model: the product (slug, domain,
//! name, status, tags), one output port per schema object, its fields, SLAs, team and
//! support channels. Only what the catalog needs is lifted out; the document itself stays
//! the contract of record.

use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::document::{list, port_format, port_topic, text};
use super::quality::PortQuality;
use super::{Problem, problem, slugify};

/// The lifecycle of a data product.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ProductStatus {
    Draft,
    Active,
    Deprecated,
    Retired,
}

impl ProductStatus {
    /// ODCS leaves status open ("proposed", "in development", "production", …); this maps
    /// the common words onto the catalog's lifecycle.
    pub fn from_odcs(status: &str) -> Self {
        match status.trim().to_ascii_lowercase().as_str() {
            "active" | "production" | "released" | "live" => ProductStatus::Active,
            "deprecated" => ProductStatus::Deprecated,
            "retired" | "archived" => ProductStatus::Retired,
            _ => ProductStatus::Draft,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            ProductStatus::Draft => "draft",
            ProductStatus::Active => "active",
            ProductStatus::Deprecated => "deprecated",
            ProductStatus::Retired => "retired",
        }
    }
}

/// One field of an output port's schema (nested fields inside).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Field {
    pub name: String,
    pub logical_type: Option<String>,
    pub physical_type: Option<String>,
    pub required: bool,
    pub description: Option<String>,
    pub classification: Option<String>,
    pub examples: Vec<Value>,
    pub fields: Vec<Field>,
}

/// A Kafka topic carrying one event type.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct OutputPort {
    /// The schema object's name, e.g. `CustomerSignedUp`.
    pub event_type: String,
    pub topic: String,
    /// `avro` or `json`.
    pub format: String,
    pub description: Option<String>,
    pub fields: Vec<Field>,
}

/// One SLA property (`slaProperties`).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Sla {
    pub property: String,
    pub value: String,
    pub unit: Option<String>,
    pub element: Option<String>,
    pub driver: Option<String>,
}

/// A team member.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Member {
    pub username: String,
    pub name: Option<String>,
    pub role: Option<String>,
}

/// A support channel.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct SupportChannel {
    pub channel: String,
    pub url: Option<String>,
    pub tool: Option<String>,
}

/// A validated contract and what the catalog reads from it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Contract {
    pub document: Value,
    pub id: String,
    pub version: semver::Version,
    pub slug: String,
    pub name: String,
    pub domain: Option<String>,
    pub status: ProductStatus,
    pub description: String,
    pub tags: Vec<String>,
    pub ports: Vec<OutputPort>,
    /// The quality rules of each port, in the order of `ports` (derived from `document`).
    pub quality: Vec<PortQuality>,
    pub slas: Vec<Sla>,
    pub team: Vec<Member>,
    pub support: Vec<SupportChannel>,
}

fn fields(value: &Value) -> Vec<Field> {
    list(value, "properties")
        .map(|property| Field {
            name: text(property, "name").unwrap_or_default(),
            logical_type: text(property, "logicalType"),
            physical_type: text(property, "physicalType"),
            required: property
                .get("required")
                .and_then(Value::as_bool)
                .unwrap_or(false),
            description: text(property, "description"),
            classification: text(property, "classification"),
            examples: list(property, "examples").cloned().collect(),
            fields: fields(property),
        })
        .collect()
}

impl Contract {
    /// Maps a document that passed schema validation; the problems say what the catalog
    /// needs beyond ODCS (a semantic version, a name to derive the slug from).
    pub fn from_document(document: Value) -> Result<Self, Vec<Problem>> {
        let mut problems = Vec::new();
        let id = text(&document, "id").unwrap_or_default();
        let version_text = text(&document, "version").unwrap_or_default();
        let version = semver::Version::parse(version_text.trim_start_matches('v'))
            .map_err(|e| {
                problems.push(problem(
                    "/version",
                    format!("`{version_text}` is not a semantic version like 1.2.0 ({e})"),
                ))
            })
            .ok();
        let title = text(&document, "dataProduct")
            .or_else(|| text(&document, "name"))
            .unwrap_or_else(|| id.clone());
        let slug = slugify(&title);
        if slug.is_empty() {
            problems.push(problem(
                "/dataProduct",
                "give the product a name (dataProduct or name) with letters or digits",
            ));
        }
        let domain = text(&document, "domain").map(|d| slugify(&d));
        let status = ProductStatus::from_odcs(&text(&document, "status").unwrap_or_default());
        let description = document
            .get("description")
            .map(|d| {
                ["purpose", "usage", "limitations"]
                    .iter()
                    .filter_map(|key| text(d, key))
                    .collect::<Vec<_>>()
                    .join("\n\n")
            })
            .unwrap_or_default();
        let tags = list(&document, "tags")
            .filter_map(Value::as_str)
            .map(str::to_string)
            .collect();
        let format = port_format(&document);
        let ports: Vec<OutputPort> = list(&document, "schema")
            .map(|object| {
                let event_type = text(object, "name").unwrap_or_default();
                OutputPort {
                    topic: port_topic(object),
                    event_type,
                    format: format.clone(),
                    description: text(object, "description"),
                    fields: fields(object),
                }
            })
            .collect();
        let slas = list(&document, "slaProperties")
            .map(|sla| Sla {
                property: text(sla, "property").unwrap_or_default(),
                value: sla
                    .get("value")
                    .map(|v| match v {
                        Value::String(s) => s.clone(),
                        other => other.to_string(),
                    })
                    .unwrap_or_default(),
                unit: text(sla, "unit"),
                element: text(sla, "element"),
                driver: text(sla, "driver"),
            })
            .collect();
        // `team` is an object with `members` since ODCS 3.1, a plain list before.
        let members: Vec<&Value> = match document.get("team") {
            Some(Value::Array(items)) => items.iter().collect(),
            Some(team @ Value::Object(_)) => list(team, "members").collect(),
            _ => Vec::new(),
        };
        let team = members
            .into_iter()
            .map(|m| Member {
                username: text(m, "username").unwrap_or_default(),
                name: text(m, "name"),
                role: text(m, "role"),
            })
            .collect();
        let support_items: Vec<&Value> = match document.get("support") {
            Some(Value::Array(items)) => items.iter().collect(),
            Some(Value::Object(map)) => map.values().collect(),
            _ => Vec::new(),
        };
        let support = support_items
            .into_iter()
            .filter_map(|s| {
                Some(SupportChannel {
                    channel: text(s, "channel")?,
                    url: text(s, "url"),
                    tool: text(s, "tool"),
                })
            })
            .collect();
        let quality = super::quality::port_rules(&document)
            .map_err(|found| problems.extend(found))
            .unwrap_or_default();
        let topics: Vec<String> = ports.iter().map(|p| p.topic.clone()).collect();
        if let Err(found) = super::declaration::declaration(&document, &slug, &topics) {
            problems.extend(found);
        }
        match (version, problems.is_empty()) {
            (Some(version), true) => Ok(Contract {
                name: text(&document, "name").unwrap_or_else(|| title.clone()),
                document,
                id,
                version,
                slug,
                domain,
                status,
                description,
                tags,
                ports,
                quality,
                slas,
                team,
                support,
            }),
            _ => Err(problems),
        }
    }
}
