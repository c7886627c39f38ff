//! The newest records the checker kept for a product, decoded to JSON, for the people who
//! may look at its data: the product's owners and admins see them as they are; its active
//! subscribers see them with every field the contract classifies as PII, confidential or
//! restricted masked (and undecodable bytes withheld); everyone else is refused.

use chrono::{DateTime, Utc};
use serde::Serialize;
use serde_json::Value;
use sqlx::PgPool;
use uuid::Uuid;

use super::HealthError;
use crate::contracts::{Contract, Field};
use crate::db::Timestamp;
use crate::identity::Caller;
use crate::policy::{Denied, Permission, Policy};

/// Samples returned at most.
pub const MAX_LIMIT: i64 = 100;
/// What a masked value reads as.
pub const MASK: &str = "•••";
/// Classifications whose values subscribers do not see.
const MASKED_CLASSIFICATIONS: [&str; 5] =
    ["pii", "confidential", "restricted", "sensitive", "secret"];

/// One kept record as a reader may see it.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct SampleView {
    pub partition: i32,
    pub offset: i64,
    pub valid: bool,
    pub schema_id: Option<i64>,
    pub key: Option<String>,
    pub value: Option<Value>,
    /// The first bytes of a record that did not decode, hex (owners only).
    pub raw_hex: Option<String>,
    pub reason: Option<String>,
    pub failures: Vec<super::Failure>,
    pub record_at: Option<DateTime<Utc>>,
    pub checked_at: DateTime<Utc>,
}

/// What a reader gets: every sample, and whether classified fields were masked.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Samples {
    pub product: String,
    pub masked: bool,
    pub masked_fields: Vec<String>,
    pub samples: Vec<SampleView>,
}

/// How a caller may see a product's records.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Access {
    /// Owners and admins: as they are.
    Full,
    /// Active subscribers: classified fields masked.
    Masked,
}

/// Whether the caller may see the records of the product `product` of `domain` at all
/// (for offering a link to them); refusals are `false`.
pub async fn may_read(
    pool: &PgPool,
    policy: &Policy,
    caller: &Caller,
    product: Uuid,
    domain: &str,
) -> Result<bool, HealthError> {
    match access(pool, policy, caller, product, domain).await {
        Ok(_) => Ok(true),
        Err(HealthError::Denied(_)) => Ok(false),
        Err(error) => Err(error),
    }
}

/// Whether the caller may see the product's records, and how.
async fn access(
    pool: &PgPool,
    policy: &Policy,
    caller: &Caller,
    product: Uuid,
    domain: &str,
) -> Result<Access, HealthError> {
    let user = caller.user().ok_or(Denied::Unauthenticated)?;
    if policy.allows(user, domain, Permission::WriteProduct).await {
        return Ok(Access::Full);
    }
    let subscribed: bool = sqlx::query_scalar!(
        r#"select exists(select 1 from subscriptions where product_id = $1 and state = 'active'
               and (requested_by = $2 or principal = $3)) as "subscribed!""#,
        product,
        user.id,
        user.kafka_principal,
    )
    .fetch_one(pool)
    .await?;
    if subscribed {
        Ok(Access::Masked)
    } else {
        Err(HealthError::Denied(Denied::Forbidden {
            domain: domain.to_string(),
            object: "samples".into(),
            action: "read".into(),
        }))
    }
}

/// The newest `limit` kept records of a product (only failing ones when `invalid_only`).
pub async fn samples(
    pool: &PgPool,
    policy: &Policy,
    caller: &Caller,
    slug: &str,
    limit: i64,
    invalid_only: bool,
) -> Result<Samples, HealthError> {
    // Who asks comes first: an anonymous caller learns nothing, not even whether the
    // product exists or what a good limit is.
    policy
        .authorize(caller, crate::policy::GLOBAL, Permission::ReadCatalog)
        .await?;
    if !(1..=MAX_LIMIT).contains(&limit) {
        return Err(HealthError::BadLimit);
    }
    let super::ProductRow {
        id: product,
        domain,
        document,
        ..
    } = super::product_row(pool, slug).await?;
    let access = access(pool, policy, caller, product, &domain).await?;
    let rows = sqlx::query_as!(
        Row,
        r#"select s.partition, s."offset", s.valid, s.schema_id, s.key,
               s.value, s.raw_hex, s.reason, s.failures,
               s.record_at as "record_at: Timestamp", s.checked_at as "checked_at: Timestamp"
           from health_samples s join output_ports o on o.id = s.port_id
           where o.product_id = $1 and (not $2 or not s.valid)
           order by s.id desc limit $3"#,
        product,
        invalid_only,
        limit,
    )
    .fetch_all(pool)
    .await?;
    let classified = match Contract::from_document(document) {
        Ok(contract) => classified_paths(contract.ports.iter().flat_map(|p| &p.fields)),
        // A contract that does not map: nothing can be known to be harmless.
        Err(_) if access == Access::Masked => return Err(HealthError::NotFound),
        Err(_) => Vec::new(),
    };
    let masked = access == Access::Masked;
    let samples = rows
        .into_iter()
        .map(|row| {
            let mut view = row.view();
            if masked {
                mask(&mut view, &classified);
            }
            view
        })
        .collect();
    Ok(Samples {
        product: slug.to_string(),
        masked,
        masked_fields: if masked {
            classified.iter().map(|p| p.join(".")).collect()
        } else {
            Vec::new()
        },
        samples,
    })
}

struct Row {
    partition: i32,
    offset: i64,
    valid: bool,
    schema_id: Option<i64>,
    key: Option<String>,
    value: Option<Value>,
    raw_hex: Option<String>,
    reason: Option<String>,
    failures: Value,
    record_at: Option<Timestamp>,
    checked_at: Timestamp,
}

impl Row {
    fn view(self) -> SampleView {
        SampleView {
            partition: self.partition,
            offset: self.offset,
            valid: self.valid,
            schema_id: self.schema_id,
            key: self.key,
            value: self.value,
            raw_hex: self.raw_hex,
            reason: self.reason,
            failures: serde_json::from_value(self.failures).unwrap_or_default(),
            record_at: self.record_at,
            checked_at: self.checked_at,
        }
    }
}

/// The paths (field names from the root) of every classified field.
pub fn classified_paths<'a>(fields: impl Iterator<Item = &'a Field>) -> Vec<Vec<String>> {
    let mut paths = Vec::new();
    let mut stack: Vec<(Vec<String>, &Field)> = fields.map(|f| (Vec::new(), f)).collect();
    while let Some((parent, field)) = stack.pop() {
        let mut path = parent;
        path.push(field.name.clone());
        let classified = field.classification.as_deref().is_some_and(|c| {
            MASKED_CLASSIFICATIONS
                .iter()
                .any(|m| c.trim().eq_ignore_ascii_case(m))
        });
        if classified {
            paths.push(path);
        } else {
            stack.extend(field.fields.iter().map(|child| (path.clone(), child)));
        }
    }
    paths.sort();
    paths
}

/// Masks classified fields in a sample for a subscriber: their values, failure messages
/// about them (which may quote a value), and any bytes that did not decode.
pub fn mask(view: &mut SampleView, classified: &[Vec<String>]) {
    if let Some(value) = view.value.as_mut() {
        for path in classified {
            mask_path(value, path);
        }
    }
    view.raw_hex = None;
    for failure in &mut view.failures {
        let about_classified = failure.field.as_deref().is_some_and(|field| {
            classified.iter().any(|path| {
                let shown = path.join(".");
                field == shown
                    || field.starts_with(&format!("{shown}."))
                    || field.starts_with(&format!("{shown}["))
            })
        });
        // A schema validation message quotes the offending value; keep only where it was.
        if about_classified || &*failure.rule == "invalid" {
            failure.message = match failure.message.split_once("`: ") {
                Some((at, _)) if &*failure.rule == "invalid" => format!("{at}` (value hidden)"),
                _ => "value hidden (classified field)".to_string(),
            };
        }
    }
}

/// Replaces the value at `path` (object keys; arrays are walked item by item), under the
/// name as written or as Avro sanitises it.
fn mask_path(value: &mut Value, path: &[String]) {
    let mut stack: Vec<(&mut Value, usize)> = vec![(value, 0)];
    while let Some((node, depth)) = stack.pop() {
        match node {
            Value::Array(items) => stack.extend(items.iter_mut().map(|item| (item, depth))),
            Value::Object(map) => {
                let Some(name) = path.get(depth) else {
                    continue;
                };
                let sanitised = crate::registry::schema::avro_name(name);
                let last = depth + 1 == path.len();
                for (key, child) in map.iter_mut() {
                    if key == name || *key == sanitised {
                        if last {
                            if !child.is_null() {
                                *child = Value::String(MASK.to_string());
                            }
                        } else {
                            stack.push((child, depth + 1));
                        }
                    }
                }
            }
            _ => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn field(name: &str, classification: Option<&str>, fields: Vec<Field>) -> Field {
        Field {
            name: name.into(),
            logical_type: None,
            physical_type: None,
            required: false,
            description: None,
            classification: classification.map(str::to_string),
            examples: Vec::new(),
            fields,
        }
    }

    #[test]
    fn classified_fields_are_masked_wherever_they_nest() {
        let fields = [
            field("customerID", Some("internal"), vec![]),
            field("email", Some("restricted"), vec![]),
            field(
                "address",
                None,
                vec![
                    field("street", Some("PII"), vec![]),
                    field("country", Some("public"), vec![]),
                ],
            ),
        ];
        let paths = classified_paths(fields.iter());
        assert_eq!(
            paths,
            vec![
                vec!["address".to_string(), "street".into()],
                vec!["email".into()]
            ]
        );
        let mut view = SampleView {
            partition: 0,
            offset: 1,
            valid: false,
            schema_id: Some(1),
            key: Some("c-1".into()),
            value: Some(json!({"customerID": "c-1", "email": "ann@example.com",
                "address": [{"street": "1 Main St", "country": "PT"}]})),
            raw_hex: Some("00".into()),
            reason: Some("quality".into()),
            failures: vec![
                super::super::Failure {
                    rule: "email_format".into(),
                    field: Some("email".into()),
                    message: "`ann@example.com` is not an e-mail address".into(),
                },
                super::super::Failure {
                    rule: "country".into(),
                    field: Some("address[].country".into()),
                    message: "`PT` is not allowed".into(),
                },
            ],
            record_at: None,
            checked_at: Utc::now(),
        };
        mask(&mut view, &paths);
        assert_eq!(
            view.value,
            Some(json!({"customerID": "c-1", "email": MASK,
                "address": [{"street": MASK, "country": "PT"}]}))
        );
        assert_eq!(view.raw_hex, None);
        assert!(!view.failures[0].message.contains("ann@"));
        assert_eq!(view.failures[1].message, "`PT` is not allowed");
    }
}
