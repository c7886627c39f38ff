//! The demo catalog: twelve domains of an online retailer, each publishing the event
//! streams such a company has, as ODCS contracts registered through the normal path
//! (validation, versions, outbox rows for the topics, audit). It includes the flow the
//! product is built around: `CustomerSignedUp` → enrichment node →
//! `EnrichedCustomerSignedUp` → marketing campaigns, and `OrderPlaced` in sales.

use std::collections::HashMap;
use std::sync::OnceLock;

use serde::Deserialize;
use serde_json::{Value, json};
use sqlx::PgConnection;

use crate::domains::{self, Domain};

/// (slug, name, description, team channel).
pub const DOMAINS: [(&str, &str, &str); 12] = [
    (
        "customer-management",
        "Customer Management",
        "Sign-ups, profiles and consent of our customers",
    ),
    (
        "sales",
        "Sales",
        "Orders from checkout to fulfilment hand-off",
    ),
    (
        "marketing",
        "Marketing",
        "Campaigns, audiences and their engagement",
    ),
    (
        "payments",
        "Payments",
        "Authorisations, captures, refunds and payouts",
    ),
    (
        "logistics",
        "Logistics",
        "Shipments, carriers and deliveries",
    ),
    (
        "inventory",
        "Inventory",
        "Stock levels and movements across warehouses",
    ),
    (
        "product-catalog",
        "Product Catalog",
        "Products, prices and assortments",
    ),
    (
        "customer-support",
        "Customer Support",
        "Tickets, conversations and satisfaction",
    ),
    (
        "finance",
        "Finance",
        "Invoices, ledger postings and settlements",
    ),
    (
        "fraud-and-risk",
        "Fraud and Risk",
        "Risk scores, reviews and chargebacks",
    ),
    ("loyalty", "Loyalty", "Points, tiers and rewards"),
    (
        "customer-intelligence",
        "Customer Intelligence",
        "Enrichment and segmentation of customer events",
    ),
];

/// Creates the demo domains, or brings their names and descriptions back.
pub async fn upsert_domains(conn: &mut PgConnection) -> Result<(), sqlx::Error> {
    for (slug, name, description) in DOMAINS {
        let domain = Domain {
            slug: slug.to_string(),
            name: name.to_string(),
            description: description.to_string(),
        };
        domains::upsert(&mut *conn, &domain)
            .await
            .map_err(|error| match error {
                domains::DomainError::Database(error) => error,
                other => sqlx::Error::Protocol(format!("demo domain {slug}: {other}")),
            })?;
    }
    Ok(())
}

/// A field: (name, logical type, required, description, classification).
type F = (String, String, bool, String, String);

/// The events of every demo domain, from `domain/demo/catalog.yaml`.
#[derive(Deserialize)]
struct Events {
    /// Fields several events share; the events name them by YAML anchor.
    #[serde(rename = "shared")]
    _shared: serde::de::IgnoredAny,
    domains: HashMap<String, Vec<Event>>,
}

/// One event a demo domain publishes.
#[derive(Deserialize)]
struct Event {
    event: String,
    description: String,
    /// Besides `eventId` and `occurredAt`, which every event has.
    #[serde(default)]
    fields: Vec<F>,
}

/// Fields every demo event has, first.
fn every_event() -> [F; 2] {
    let field = |name: &str, logical: &str, description: &str| {
        (
            name.to_string(),
            logical.to_string(),
            true,
            description.to_string(),
            "public".to_string(),
        )
    };
    [
        field("eventId", "string", "Unique id of the event (UUID)"),
        field("occurredAt", "timestamp", "When it happened (UTC)"),
    ]
}

/// The events of `domain`, in the order their contracts are numbered (none for a domain
/// the data file does not list).
fn events(domain: &str) -> &'static [Event] {
    static EVENTS: OnceLock<Events> = OnceLock::new();
    EVENTS
        .get_or_init(|| {
            serde_norway::from_str(include_str!("../../demo/catalog.yaml"))
                .expect("domain/demo/catalog.yaml is well formed (its tests read it)")
        })
        .domains
        .get(domain)
        .map_or(&[], Vec::as_slice)
}

/// A demo event's declared lineage: (event, processor, inputs as (domain, event)).
type Declared = (
    &'static str,
    &'static str,
    &'static [(&'static str, &'static str)],
);

/// Demo lineage declared in contracts. The flow the product is built around comes first:
/// the enrichment node computes `EnrichedCustomerSignedUp` from `CustomerSignedUp`; the
/// rest gives the graph depth.
const DECLARED_LINEAGE: [Declared; 6] = [
    (
        "EnrichedCustomerSignedUp",
        "customer-enrichment",
        &[("customer-management", "CustomerSignedUp")],
    ),
    (
        "CustomerSegmented",
        "customer-segmentation",
        &[("customer-intelligence", "EnrichedCustomerSignedUp")],
    ),
    (
        "ChurnRiskScored",
        "churn-model",
        &[
            ("customer-intelligence", "EnrichedCustomerSignedUp"),
            ("customer-support", "TicketOpened"),
        ],
    ),
    (
        "EnrichedOrderPlaced",
        "order-enrichment",
        &[
            ("sales", "OrderPlaced"),
            ("customer-intelligence", "CustomerSegmented"),
        ],
    ),
    (
        "WelcomeJourneyStarted",
        "welcome-journey",
        &[("customer-intelligence", "EnrichedCustomerSignedUp")],
    ),
    (
        "AudienceSegmentBuilt",
        "audience-builder",
        &[
            ("customer-intelligence", "CustomerSegmented"),
            ("customer-intelligence", "ChurnRiskScored"),
        ],
    ),
];

/// The topic of a demo event.
pub fn topic(domain: &str, event: &str) -> String {
    format!("{domain}.{}.v1", kebab(event))
}

/// The lineage custom properties of a demo event's contract, if it declares any.
fn lineage_properties(event: &str) -> Option<Value> {
    let (_, processor, inputs) = DECLARED_LINEAGE.iter().find(|(e, ..)| *e == event)?;
    let inputs: Vec<String> = inputs.iter().map(|(d, e)| topic(d, e)).collect();
    let mut properties = vec![
        json!({"property": "inputPorts", "value": inputs}),
        json!({"property": "processor", "value": processor}),
    ];
    // The one processor Meshmart runs itself (`meshmart node run customer-enrichment`).
    if *processor == SEED_NODE.0 {
        properties.push(json!({"property": crate::nodes::KIND_PROPERTY, "value": SEED_NODE.1}));
    }
    Some(Value::Array(properties))
}

/// The seed flow's node: (processor name, nodeKind).
pub const SEED_NODE: (&str, &str) = ("customer-enrichment", "customer-enrichment");

/// `CustomerSignedUp` → `customer-signed-up`.
pub fn kebab(name: &str) -> String {
    let mut out = String::new();
    for (i, c) in name.chars().enumerate() {
        if c.is_ascii_uppercase() {
            if i > 0 {
                out.push('-');
            }
            out.push(c.to_ascii_lowercase());
        } else {
            out.push(c);
        }
    }
    out
}

fn property((name, logical, required, description, classification): &F) -> Value {
    let mut property = json!({
        "name": name,
        "logicalType": logical,
        "required": required,
        "description": description,
        "classification": classification,
    });
    if name == "geolocation" {
        property["properties"] = json!([
            {"name": "country", "logicalType": "string", "required": true, "description": "ISO 3166 country"},
            {"name": "region", "logicalType": "string", "required": false, "description": "Region or state"},
            {"name": "city", "logicalType": "string", "required": false, "description": "City"},
            {"name": "latitude", "logicalType": "number", "required": false, "description": "Latitude"},
            {"name": "longitude", "logicalType": "number", "required": false, "description": "Longitude"},
            {"name": "asn", "logicalType": "integer", "required": false, "description": "Autonomous system number of the IP's network"},
            {"name": "asnOrganization", "logicalType": "string", "required": false, "description": "Who runs that network"},
            {"name": "asnType", "logicalType": "string", "required": false, "description": "hosting (a cloud or hosting provider) or isp"}
        ]);
    }
    if name == "productDetails" {
        property["items"] = json!({
            "logicalType": "object",
            "properties": [
                {"name": "sku", "logicalType": "string", "required": true},
                {"name": "quantity", "logicalType": "integer", "required": true},
                {"name": "unitPrice", "logicalType": "number", "required": true}
            ]
        });
    }
    property
}

/// Every demo contract, as ODCS documents.
pub fn contracts() -> Vec<Value> {
    let mut all = Vec::new();
    for (domain, name, _) in DOMAINS {
        for (
            index,
            Event {
                event,
                description,
                fields,
            },
        ) in events(domain).iter().enumerate()
        {
            let topic = topic(domain, event);
            let tier = ["gold", "silver", "bronze"][index % 3];
            let latency = [5, 30, 300][index % 3];
            let availability = [99.9, 99.5, 99.0][index % 3];
            let support_hours = ["24/7", "business hours CET", "business hours CET"][index % 3];
            let mut properties: Vec<Value> = every_event().iter().map(property).collect();
            properties.extend(fields.iter().map(property));
            let mut document = json!({
                "apiVersion": "v3.1.0",
                "kind": "DataContract",
                "id": format!("{domain}-{}", kebab(event)),
                "version": "1.0.0",
                "status": if index % 11 == 10 { "deprecated" } else { "active" },
                "name": event,
                "dataProduct": kebab(event),
                "domain": domain,
                "tenant": "Meshmart Retail",
                "description": {
                    "purpose": format!("{description}. Published by {name} as it happens."),
                    "usage": "Subscribe to react to it in real time or to build analytics on it.",
                },
                // No pii/non-pii tag: the product's classification badge is derived from
                // its fields' classifications, which a hand-made tag would drift from.
                "tags": [domain, tier],
                "schema": [{
                    "name": event,
                    "physicalName": topic,
                    "physicalType": "topic",
                    "businessName": event,
                    "description": description,
                    "properties": properties,
                }],
                "slaProperties": [
                    {"property": "latency", "value": latency, "unit": "s"},
                    {"property": "availability", "value": availability, "unit": "%"},
                    {"property": "retention", "value": 7, "unit": "d"},
                    {"property": "frequency", "value": "continuous"},
                    {"property": "supportHours", "value": support_hours},
                ],
                "team": {"name": name, "members": [
                    {"username": format!("owner.{domain}@meshmart.local"), "role": "owner", "name": format!("{name} Owner")}
                ]},
                "support": [
                    {"channel": format!("#{domain}-data"), "tool": "slack", "url": format!("https://chat.meshmart.local/{domain}-data")}
                ],
                "servers": [{"server": "local", "type": "kafka", "host": "127.0.0.1:19092", "format": "json"}],
            });
            if let Some(properties) = lineage_properties(event) {
                document["customProperties"] = properties;
            }
            all.push(document);
        }
    }
    all
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::contracts;

    #[test]
    fn the_demo_catalog_is_big_enough_and_every_contract_is_valid() {
        let all = contracts();
        assert!(all.len() >= 150, "{} demo products", all.len());
        let mut slugs = std::collections::HashSet::new();
        for document in all {
            contracts::validate(&document)
                .unwrap_or_else(|e| panic!("{}: {:?}", document["id"], e.problems()));
            let contract = contracts::Contract::from_document(document).expect("maps");
            assert!(
                slugs.insert(contract.slug.clone()),
                "duplicate {}",
                contract.slug
            );
        }
        for flow in [
            "customer-signed-up",
            "enriched-customer-signed-up",
            "order-placed",
        ] {
            assert!(slugs.contains(flow), "{flow}");
        }
    }

    #[test]
    fn declared_lineage_names_existing_demo_topics() {
        let all = contracts();
        let topics: std::collections::HashSet<String> = all
            .iter()
            .map(|d| {
                d["schema"][0]["physicalName"]
                    .as_str()
                    .unwrap_or_default()
                    .to_string()
            })
            .collect();
        let mut declaring = 0;
        for document in &all {
            let contract = contracts::Contract::from_document(document.clone()).expect("maps");
            let own: Vec<String> = contract.ports.iter().map(|p| p.topic.clone()).collect();
            let Some(declared) =
                crate::contracts::declaration::declaration(document, &contract.slug, &own)
                    .expect("valid")
            else {
                continue;
            };
            declaring += 1;
            for input in &declared.inputs {
                assert!(topics.contains(input), "{}: {input}", contract.slug);
            }
            if contract.slug == "enriched-customer-signed-up" {
                assert_eq!(declared.processor, "customer-enrichment");
                assert_eq!(
                    declared.inputs,
                    vec!["customer-management.customer-signed-up.v1"]
                );
            }
        }
        assert_eq!(declaring, DECLARED_LINEAGE.len());
    }
}
