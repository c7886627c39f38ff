//! What the product page shows about a port's schema: its version history, a field-level
//! diff between two versions (added, removed, changed; compatible or breaking), the live
//! subscriptions that read the topic, and the verdict on a proposed schema.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::Value;
use sqlx::PgPool;
use sqlx::types::Json;

use super::compat::{self, Mode};
use super::references::Reference;
use super::schema::{self, ParsedSchema, SchemaType};
use super::store;
use super::{RegistryError, VersionRef};
use crate::db::Timestamp;

/// One version in a subject's history.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct VersionEntry {
    pub subject: String,
    pub version: i32,
    pub id: i32,
    pub schema_type: SchemaType,
    /// The schema, pretty-printed.
    pub schema: String,
    pub registered_by: String,
    pub created_at: Timestamp,
    /// The other subjects' versions this schema uses.
    pub references: Vec<Reference>,
    /// The live subject versions whose schemas use this version.
    pub referenced_by: Vec<Using>,
}

/// A subject version that uses another through a reference.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Using {
    pub subject: String,
    pub version: i32,
}

/// A field that differs between two schema versions.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct FieldChange {
    /// Dotted path, e.g. `address.city`.
    pub path: String,
    /// `added`, `removed` or `changed`.
    pub change: String,
    pub before: Option<String>,
    pub after: Option<String>,
}

/// Two versions side by side.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SchemaDiff {
    pub mode: String,
    pub compatible: bool,
    pub fields: Vec<FieldChange>,
    /// Each breaking change, named by path.
    pub breaking: Vec<String>,
}

/// A live subscription that reads a topic, directly or downstream of it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Consumer {
    pub subscription: uuid::Uuid,
    pub principal: String,
    pub team: Option<String>,
    pub requested_by: String,
    pub state: String,
    /// For a downstream reader: the product it subscribes to, computed from this topic.
    pub via: Option<String>,
}

/// The verdict on a schema an owner is about to publish.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Proposal {
    pub subject: String,
    /// The version it would become (or already is).
    pub version: Option<i32>,
    pub diff: SchemaDiff,
    /// Live subscriptions that would break; empty when compatible.
    pub consumers_at_risk: Vec<Consumer>,
}

/// Compares two versions of a subject under `mode`.
pub fn diff(mode: Mode, old: &ParsedSchema, new: &ParsedSchema) -> SchemaDiff {
    let breaking: Vec<String> = compat::check(mode, new, &[(0, old.clone())])
        .into_iter()
        .map(|b| {
            if mode == Mode::Full || mode == Mode::FullTransitive {
                format!("{} ({})", b.message, b.direction)
            } else {
                b.message
            }
        })
        .collect();
    let before = fields(old);
    let after = fields(new);
    let mut changes = Vec::new();
    for (path, was) in &before {
        match after.get(path) {
            None => changes.push(FieldChange {
                path: path.clone(),
                change: "removed".into(),
                before: Some(was.clone()),
                after: None,
            }),
            Some(now) if now != was => changes.push(FieldChange {
                path: path.clone(),
                change: "changed".into(),
                before: Some(was.clone()),
                after: Some(now.clone()),
            }),
            Some(_) => {}
        }
    }
    for (path, now) in &after {
        if !before.contains_key(path) {
            changes.push(FieldChange {
                path: path.clone(),
                change: "added".into(),
                before: None,
                after: Some(now.clone()),
            });
        }
    }
    changes.sort_by(|a, b| a.path.cmp(&b.path));
    SchemaDiff {
        mode: mode.as_str().to_string(),
        compatible: breaking.is_empty(),
        fields: changes,
        breaking,
    }
}

/// Every field of a schema by dotted path, with a short description of its type.
fn fields(schema: &ParsedSchema) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    match schema.schema_type {
        SchemaType::Avro => avro_fields(&schema.document, "", &mut out, 0),
        SchemaType::Json => json_fields(&schema.document, "", &mut out, 0),
        SchemaType::Protobuf => {
            if let Some(message) = schema.protobuf().and_then(|p| p.message(&[0])) {
                protobuf_fields(&message, "", &mut out, 0);
            }
        }
    }
    out
}

/// The fields of a Protobuf schema's first message (the one records carry by default).
fn protobuf_fields(
    message: &prost_reflect::MessageDescriptor,
    prefix: &str,
    out: &mut BTreeMap<String, String>,
    depth: usize,
) {
    use prost_reflect::{Cardinality, Kind};
    if depth > MAX_FIELD_DEPTH {
        return;
    }
    for field in message.fields() {
        let path = join(prefix, field.name());
        let kind = |kind: &Kind| match kind {
            Kind::Message(nested) => nested.full_name().to_string(),
            Kind::Enum(values) => format!("enum {}", values.full_name()),
            scalar => format!("{scalar:?}").to_ascii_lowercase(),
        };
        let mut text = match field.kind() {
            Kind::Message(entry) if field.is_map() => format!(
                "map<{}, {}>",
                kind(&entry.map_entry_key_field().kind()),
                kind(&entry.map_entry_value_field().kind())
            ),
            other => kind(&other),
        };
        match field.cardinality() {
            Cardinality::Repeated if !field.is_map() => text = format!("repeated {text}"),
            Cardinality::Required => text.push_str(", required"),
            _ => {}
        }
        text.push_str(&format!(" = {}", field.number()));
        out.insert(path.clone(), text);
        if let Kind::Message(nested) = field.kind()
            && !field.is_map()
        {
            protobuf_fields(&nested, &path, out, depth + 1);
        }
    }
}

const MAX_FIELD_DEPTH: usize = 16;

fn join(prefix: &str, name: &str) -> String {
    if prefix.is_empty() {
        name.to_string()
    } else {
        format!("{prefix}.{name}")
    }
}

fn avro_fields(schema: &Value, prefix: &str, out: &mut BTreeMap<String, String>, depth: usize) {
    if depth > MAX_FIELD_DEPTH {
        return;
    }
    let Some(fields) = schema.get("fields").and_then(Value::as_array) else {
        return;
    };
    for field in fields {
        let Some(name) = field.get("name").and_then(Value::as_str) else {
            continue;
        };
        let path = join(prefix, name);
        let kind = field.get("type").unwrap_or(&Value::Null);
        let mut text = avro_type(kind);
        if let Some(default) = field.get("default") {
            text.push_str(&format!(", default {default}"));
        }
        out.insert(path.clone(), text);
        let nested = match kind {
            Value::Array(branches) => branches.iter().find(|b| b.get("fields").is_some()),
            other => Some(other),
        };
        if let Some(nested) = nested {
            avro_fields(nested, &path, out, depth + 1);
        }
    }
}

fn avro_type(kind: &Value) -> String {
    match kind {
        Value::String(name) => name.clone(),
        Value::Array(branches) => branches
            .iter()
            .map(avro_type)
            .collect::<Vec<_>>()
            .join(" | "),
        Value::Object(map) => {
            let base = map.get("type").and_then(Value::as_str).unwrap_or("?");
            match (base, map.get("logicalType").and_then(Value::as_str)) {
                (_, Some(logical)) => format!("{base} ({logical})"),
                ("record" | "enum" | "fixed", None) => format!(
                    "{base} {}",
                    map.get("name").and_then(Value::as_str).unwrap_or("")
                ),
                ("array", None) => format!(
                    "array<{}>",
                    avro_type(map.get("items").unwrap_or(&Value::Null))
                ),
                ("map", None) => format!(
                    "map<{}>",
                    avro_type(map.get("values").unwrap_or(&Value::Null))
                ),
                _ => base.to_string(),
            }
        }
        _ => "?".to_string(),
    }
}

fn json_fields(schema: &Value, prefix: &str, out: &mut BTreeMap<String, String>, depth: usize) {
    if depth > MAX_FIELD_DEPTH {
        return;
    }
    let Some(properties) = schema.get("properties").and_then(Value::as_object) else {
        return;
    };
    let required: Vec<&str> = schema
        .get("required")
        .and_then(Value::as_array)
        .map(|names| names.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default();
    for (name, property) in properties {
        let path = join(prefix, name);
        let mut text = match property.get("type") {
            Some(Value::String(kind)) => kind.clone(),
            Some(Value::Array(kinds)) => kinds
                .iter()
                .filter_map(Value::as_str)
                .collect::<Vec<_>>()
                .join(" | "),
            _ if property.get("$ref").is_some() => "$ref".to_string(),
            _ => "any".to_string(),
        };
        if let Some(format) = property.get("format").and_then(Value::as_str) {
            text.push_str(&format!(" ({format})"));
        }
        if required.contains(&name.as_str()) {
            text.push_str(", required");
        }
        out.insert(path.clone(), text);
        json_fields(property, &path, out, depth + 1);
    }
}

/// The live versions of a subject, newest first.
pub async fn history(pool: &PgPool, subject: &str) -> Result<Vec<VersionEntry>, sqlx::Error> {
    let Json(entries) = sqlx::query_scalar!(
        r#"select coalesce(jsonb_agg(to_jsonb(e) order by e.version desc), '[]')
                    as "entries!: Json<Vec<VersionEntry>>"
           from registry_live_versions e
           where e.subject = $1"#,
        subject,
    )
    .fetch_one(pool)
    .await?;
    Ok(entries.into_iter().map(pretty).collect())
}

/// The entry with its schema pretty-printed when it is JSON (any other text as it is).
fn pretty(entry: VersionEntry) -> VersionEntry {
    let schema = serde_json::from_str::<Value>(&entry.schema)
        .ok()
        .and_then(|value| serde_json::to_string_pretty(&value).ok())
        .unwrap_or(entry.schema);
    VersionEntry { schema, ..entry }
}

/// One port's value subject as the product page shows it.
#[derive(Clone, Debug, PartialEq)]
pub struct PortRegistry {
    pub topic: String,
    pub subject: String,
    /// The subject's own mode, else the registry's default.
    pub mode: Mode,
    /// The live versions, newest first.
    pub versions: Vec<VersionEntry>,
    /// The live subscriptions that read the topic, by principal.
    pub consumers: Vec<Consumer>,
}

/// The value subjects of `topics`, each with its mode, history and consumers: one
/// statement however many ports a product has (three per port before).
pub async fn port_registries(
    pool: &PgPool,
    topics: &[String],
) -> Result<Vec<PortRegistry>, sqlx::Error> {
    let subjects: Vec<String> = topics.iter().map(|t| schema::value_subject(t)).collect();
    // The arrays go through `array(select unnest(..))` so that one generic plan serves
    // every call (see `lineage::graph::details`).
    let rows = sqlx::query!(
        r#"select t.topic as "topic!", t.subject as "subject!",
                  (select compatibility from registry_subjects where name = t.subject) as own_mode,
                  (select compatibility from registry_config) as global_mode,
                  coalesce((select jsonb_agg(to_jsonb(e) order by e.version desc)
                            from registry_live_versions e where e.subject = t.subject), '[]')
                    as "versions!: Json<Vec<VersionEntry>>",
                  coalesce((select jsonb_agg(to_jsonb(c) order by c.principal)
                            from topic_consumers c where c.topic = t.topic), '[]')
                    as "consumers!: Json<Vec<Consumer>>"
           from unnest(array(select unnest($1::text[])), array(select unnest($2::text[])))
                with ordinality as t(topic, subject, n)
           order by t.n"#,
        topics,
        &subjects,
    )
    .fetch_all(pool)
    .await?;
    Ok(rows
        .into_iter()
        .map(|row| PortRegistry {
            topic: row.topic,
            subject: row.subject,
            mode: store::mode_of(row.own_mode.as_deref(), row.global_mode.as_deref()),
            versions: row.versions.0.into_iter().map(pretty).collect(),
            consumers: row.consumers.0,
        })
        .collect())
}

/// The diff between two versions of a subject, under the subject's mode.
pub async fn diff_versions(
    pool: &PgPool,
    subject: &str,
    from: VersionRef,
    to: VersionRef,
) -> Result<SchemaDiff, RegistryError> {
    let old =
        store::parse_version(pool, &store::version(pool, subject, from, false).await?).await?;
    let new = store::parse_version(pool, &store::version(pool, subject, to, false).await?).await?;
    let mut conn = pool.acquire().await?;
    let mode = store::subject_mode(&mut conn, subject).await?;
    Ok(diff(non_transitive(mode), &old, &new))
}

fn non_transitive(mode: Mode) -> Mode {
    match mode {
        Mode::BackwardTransitive => Mode::Backward,
        Mode::ForwardTransitive => Mode::Forward,
        Mode::FullTransitive => Mode::Full,
        other => other,
    }
}

/// The live subscriptions (approved, provisioning or active) that read `topic`.
pub async fn consumers(pool: &PgPool, topic: &str) -> Result<Vec<Consumer>, sqlx::Error> {
    sqlx::query_as!(
        Consumer,
        r#"select subscription as "subscription!", principal as "principal!", team,
                  requested_by as "requested_by!", state as "state!", null::text as via
           from topic_consumers where topic = $1
           order by principal"#,
        topic,
    )
    .fetch_all(pool)
    .await
}

/// Who breaks when a topic's data changes shape: its direct readers, then the readers of
/// every product computed from it (transitively, through the lineage graph).
async fn at_risk(pool: &PgPool, topic: &str) -> Result<Vec<Consumer>, RegistryError> {
    let mut found = consumers(pool, topic).await?;
    let owner = sqlx::query_scalar!(
        "select p.slug from output_ports o join products p on p.id = o.product_id where o.topic = $1",
        topic,
    )
    .fetch_optional(pool)
    .await?;
    let Some(slug) = owner else {
        return Ok(found);
    };
    let impact = match crate::lineage::impact(pool, &slug).await {
        Ok(impact) => impact,
        Err(crate::lineage::LineageError::Database(error)) => return Err(error.into()),
        Err(other) => {
            tracing::warn!(error = %other, "lineage impact unavailable; direct readers only");
            return Ok(found);
        }
    };
    for subscription in impact.subscriptions {
        if subscription.product == slug || found.iter().any(|c| c.subscription == subscription.id) {
            continue;
        }
        found.push(Consumer {
            subscription: subscription.id,
            principal: subscription.principal,
            team: subscription.team,
            requested_by: subscription.requested_by,
            state: subscription.state.as_str().to_string(),
            via: Some(subscription.product),
        });
    }
    Ok(found)
}

/// What publishing `schema` to `subject` would do: the diff against the latest version,
/// every breaking change the subject's mode finds, and which consumers of `topic` it would
/// break.
pub async fn propose(
    pool: &PgPool,
    subject: &str,
    topic: &str,
    schema: &ParsedSchema,
) -> Result<Proposal, RegistryError> {
    let mut conn = pool.acquire().await?;
    let mode = store::subject_mode(&mut conn, subject).await?;
    drop(conn);
    let latest = match store::version(pool, subject, VersionRef::Latest, false).await {
        Ok(latest) => Some(latest),
        Err(RegistryError::SubjectNotFound(_)) => None,
        Err(other) => return Err(other),
    };
    let same = latest.as_ref().is_some_and(|v| {
        v.schema == schema.canonical
            && v.schema_type == schema.schema_type
            && v.references == schema.references
    });
    let latest_parsed = match &latest {
        Some(latest) => Some(store::parse_version(pool, latest).await?),
        None => None,
    };
    let breaking = store::check_compatibility(pool, subject, None, schema).await?;
    let mut diff = match &latest_parsed {
        Some(latest) => diff(mode, latest, schema),
        None => SchemaDiff {
            mode: mode.as_str().to_string(),
            compatible: true,
            fields: Vec::new(),
            breaking: Vec::new(),
        },
    };
    diff.breaking = breaking.iter().map(ToString::to_string).collect();
    diff.compatible = breaking.is_empty();
    // Today's consumers read with the latest schema: they break when it cannot read data
    // written with the proposal, whatever the subject's mode lets through.
    let readers_break = match &latest_parsed {
        Some(latest) => !compat::can_read(latest, schema).is_empty(),
        None => false,
    };
    let consumers_at_risk = if readers_break {
        at_risk(pool, topic).await?
    } else {
        Vec::new()
    };
    let version = match (&latest, same) {
        (Some(latest), true) => Some(latest.version),
        (Some(latest), false) => Some(latest.version + 1),
        (None, _) => Some(1),
    };
    Ok(Proposal {
        subject: subject.to_string(),
        version,
        diff,
        consumers_at_risk,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_diff_lists_added_removed_and_changed_fields() {
        let old = ParsedSchema::parse(
            SchemaType::Avro,
            r#"{"type":"record","name":"A","fields":[{"name":"id","type":"string"},{"name":"age","type":"int"},{"name":"gone","type":"string"}]}"#,
        )
        .expect("valid");
        let new = ParsedSchema::parse(
            SchemaType::Avro,
            r#"{"type":"record","name":"A","fields":[{"name":"id","type":"string"},{"name":"age","type":"long"},{"name":"email","type":["null","string"],"default":null}]}"#,
        )
        .expect("valid");
        let found = diff(Mode::Backward, &old, &new);
        let summary: Vec<(&str, &str)> = found
            .fields
            .iter()
            .map(|c| (c.path.as_str(), c.change.as_str()))
            .collect();
        assert_eq!(
            summary,
            vec![("age", "changed"), ("email", "added"), ("gone", "removed")]
        );
        // int → long promotes, a removed field is skipped, a new one has a default.
        assert!(found.compatible, "{:?}", found.breaking);
        let back = diff(Mode::Backward, &new, &old);
        assert!(!back.compatible);
    }
}
