//! The `customer-enrichment` node kind: a sign-up in, the same sign-up out with where its IP
//! address is and the network it belongs to ([`super::geo`], [`super::asn`]), the domain of its e-mail address (not the address) and a
//! risk score from the sign-up risk model ([`super::risk`]) with the model's version.
//!
//! An address that is private, reserved or not in the database gets no `geolocation` and a
//! `geolocationStatus` saying why; a value that is not an IP address at all is refused (the
//! record goes to the node's dead-letter topic).

use std::net::{IpAddr, Ipv4Addr};

use chrono::{DateTime, Timelike, Utc};
use serde_json::{Map, Value, json};

use super::geo::{Geo, Location, Unlocated};
use super::risk::{self, Counts, RiskModel, Signup, Window};
use crate::registry::schema::avro_name;

/// The fields this kind writes besides those it copies from the input.
pub const ENRICHED_FIELDS: [&str; 5] = [
    "emailDomain",
    "geolocation",
    "geolocationStatus",
    "signupRiskScore",
    "riskModelVersion",
];

/// The input fields it reads.
pub const IP_FIELD: &str = "ipAddress";

/// Where an input record came from (the window remembers it by partition and offset).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Source {
    pub partition: i32,
    pub offset: i64,
    /// The record's timestamp (event time), in milliseconds since the epoch.
    pub timestamp_ms: i64,
}

/// What the node found out about one sign-up.
pub struct Assessment {
    pub located: Result<Location, Unlocated>,
    /// `located`, or why not (`no-address`, `private`, `reserved`, `unknown`).
    pub status: &'static str,
    pub email_domain: Option<String>,
    pub features: [f64; risk::FEATURES.len()],
}

/// Geolocation, model and sliding window of one node process.
pub struct Enricher {
    geo: Geo,
    model: RiskModel,
    window: Window,
}

impl Enricher {
    pub fn new(geo: Geo, model: RiskModel) -> Self {
        Self {
            geo,
            model,
            window: Window::default(),
        }
    }

    pub fn model(&self) -> &RiskModel {
        &self.model
    }

    pub fn window(&mut self) -> &mut Window {
        &mut self.window
    }

    /// Remembers a record in the window without enriching it (rebuilding the window after a
    /// restart from records already committed).
    pub fn warm(&mut self, record: &Value, source: Source) {
        if let Some(Ok(IpAddr::V4(ip))) = text(record, IP_FIELD).map(|t| t.trim().parse()) {
            self.window
                .observe(source.partition, source.offset, source.timestamp_ms, ip);
        }
    }

    /// The enriched fields and the input's, keyed by name; `Err((reason, message))` when the
    /// record cannot be enriched.
    pub fn enrich(
        &mut self,
        record: &Map<String, Value>,
        source: Source,
    ) -> Result<Map<String, Value>, (&'static str, String)> {
        let assessed = self.assess(record, source)?;
        let score = (self.model.score(&assessed.features) * 1e4).round() / 1e4;
        let mut out = record.clone();
        if let Ok(location) = &assessed.located {
            let mut geo = Map::new();
            let mut put = |name: &str, value: Option<Value>| {
                if let Some(value) = value {
                    geo.insert(name.to_string(), value);
                }
            };
            put("country", location.country.clone().map(Value::from));
            put("region", location.region.clone().map(Value::from));
            put("city", location.city.clone().map(Value::from));
            put("latitude", location.latitude.map(Value::from));
            put("longitude", location.longitude.map(Value::from));
            if let Some(system) = &location.asn {
                put("asn", Some(Value::from(system.number)));
                put(
                    "asnOrganization",
                    Some(Value::from(system.organization.clone())),
                );
                put("asnType", Some(Value::from(system.network_type.as_str())));
            }
            out.insert("geolocation".into(), Value::Object(geo));
        }
        out.insert("geolocationStatus".into(), json!(assessed.status));
        if let Some(domain) = assessed.email_domain {
            out.insert("emailDomain".into(), json!(domain));
        }
        out.insert("signupRiskScore".into(), json!(score));
        out.insert("riskModelVersion".into(), json!(self.model.version));
        Ok(out)
    }

    /// Locates a sign-up, counts it in the window and computes the model's features.
    pub fn assess(
        &mut self,
        record: &Map<String, Value>,
        source: Source,
    ) -> Result<Assessment, (&'static str, String)> {
        let address = text_of(record, IP_FIELD).map(str::trim);
        let (located, counts) = match address {
            None | Some("") => (Err(None), Counts::default()),
            Some(address) => {
                let parsed: IpAddr = address.parse().map_err(|_| {
                    (
                        "unparseable-ip",
                        format!("`{IP_FIELD}` is not an IP address: {address:?}"),
                    )
                })?;
                let counts = match parsed {
                    IpAddr::V4(v4) => self.observe(v4, source),
                    IpAddr::V6(_) => Counts::default(),
                };
                (self.geo.locate(address).map_err(Some), counts)
            }
        };
        let located: Result<Location, Unlocated> = match located {
            Ok(location) if location.country.is_some() => Ok(location),
            Ok(_) => Err(Unlocated::Unknown),
            Err(Some(why)) => Err(why),
            Err(None) => Err(Unlocated::Unknown),
        };
        let status = match (&located, address) {
            (Ok(_), _) => "located",
            (Err(_), None | Some("")) => "no-address",
            (Err(why), _) => why.as_str(),
        };
        let email_domain = text_of(record, "email")
            .and_then(|email| email.rsplit_once('@'))
            .map(|(_, domain)| domain.trim().to_ascii_lowercase())
            .filter(|domain| !domain.is_empty());
        let signup = Signup {
            country: text_of(record, "country"),
            email_domain: email_domain.as_deref(),
            channel: text_of(record, "sourceChannel"),
            hour: record
                .get("signupTimestamp")
                .and_then(hour_of)
                .or_else(|| DateTime::from_timestamp_millis(source.timestamp_ms).map(|t| t.hour())),
        };
        let features = risk::features(&signup, &located, counts);
        Ok(Assessment {
            located,
            status,
            email_domain,
            features,
        })
    }

    fn observe(&mut self, ip: Ipv4Addr, source: Source) -> Counts {
        self.window
            .observe(source.partition, source.offset, source.timestamp_ms, ip)
    }
}

/// The /24 network of a sign-up's IPv4 address (`"81.2.69"`), the key its window counts
/// are kept by; `None` without one.
pub fn network_key(record: &Value) -> Option<String> {
    match text(record, IP_FIELD)?.trim().parse::<IpAddr>().ok()? {
        IpAddr::V4(v4) => {
            let [a, b, c, _] = v4.octets();
            Some(format!("{a}.{b}.{c}"))
        }
        IpAddr::V6(_) => None,
    }
}

/// A text field by its contract name or its Avro form.
fn text_of<'a>(record: &'a Map<String, Value>, name: &str) -> Option<&'a str> {
    record
        .get(name)
        .or_else(|| record.get(&avro_name(name)))
        .and_then(Value::as_str)
}

fn text<'a>(record: &'a Value, name: &str) -> Option<&'a str> {
    record.as_object().and_then(|fields| text_of(fields, name))
}

/// The UTC hour of a timestamp as JSON carries it (RFC 3339) or Avro (epoch milliseconds).
fn hour_of(value: &Value) -> Option<u32> {
    match value {
        Value::String(text) => DateTime::parse_from_rfc3339(text)
            .ok()
            .map(|t| t.with_timezone(&Utc).hour()),
        Value::Number(millis) => millis
            .as_i64()
            .and_then(DateTime::from_timestamp_millis)
            .map(|t| t.hour()),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn enricher() -> Enricher {
        let geo = Geo::open_default().expect("make setup fetches it");
        Enricher::new(geo, RiskModel::builtin())
    }

    fn signup(ip: Option<&str>, email: &str) -> Map<String, Value> {
        let mut record = json!({
            "customerID": "c-1",
            "signupTimestamp": "2026-12-04T19:30:00.000Z",
            "sourceChannel": "web",
            "country": "GB",
            "email": email,
        });
        if let Some(ip) = ip {
            record["ipAddress"] = json!(ip);
        }
        record.as_object().cloned().expect("object")
    }

    fn at(offset: i64) -> Source {
        Source {
            partition: 0,
            offset,
            timestamp_ms: 1_796_000_000_000 + offset,
        }
    }

    /// The node's geolocation follows the schema its product's contract registers (the
    /// checker holds every output record to it).
    #[test]
    fn the_geolocation_written_follows_the_enriched_products_schema() {
        let document = crate::demo::catalog::contracts()
            .into_iter()
            .find(|d| d["dataProduct"] == "enriched-customer-signed-up")
            .expect("the demo contract");
        let contract = crate::contracts::Contract::from_document(document).expect("maps");
        let port = contract.ports.first().expect("a port");
        let (_, schema) = crate::registry::schema::port_schema("meshmart", port);
        let geolocation = &schema["properties"]["geolocation"];
        assert!(geolocation.is_object(), "{schema}");
        let validator = jsonschema::validator_for(geolocation).expect("a schema");
        let out = enricher()
            .enrich(&signup(Some("81.2.69.160"), "ann@gmail.com"), at(1))
            .expect("enriched");
        let errors: Vec<String> = validator
            .iter_errors(&out["geolocation"])
            .map(|e| e.to_string())
            .collect();
        assert!(errors.is_empty(), "{errors:?}");
    }

    #[test]
    fn a_public_address_is_located_scored_and_stamped_with_the_model_version() {
        let mut node = enricher();
        let out = node
            .enrich(&signup(Some("81.2.69.160"), "Ann@Gmail.com"), at(1))
            .expect("enriched");
        assert_eq!(out["geolocation"]["country"], "GB");
        assert_eq!(out["geolocation"]["city"], "London");
        assert_eq!(out["geolocation"]["asn"], 20712);
        assert_eq!(
            out["geolocation"]["asnOrganization"],
            "Andrews & Arnold Ltd"
        );
        assert_eq!(out["geolocation"]["asnType"], "isp");
        assert_eq!(out["geolocationStatus"], "located");
        assert_eq!(out["emailDomain"], "gmail.com");
        assert_eq!(out["riskModelVersion"], json!(RiskModel::builtin().version));
        let score = out["signupRiskScore"].as_f64().expect("number");
        assert!((0.0..=1.0).contains(&score));
        assert_eq!(out["customerID"], "c-1", "input fields are kept");
    }

    #[test]
    fn unlocatable_addresses_say_why_and_a_non_address_is_refused() {
        let mut node = enricher();
        for (ip, status) in [
            (Some("10.1.2.3"), "private"),
            (Some("127.0.0.1"), "reserved"),
            (None, "no-address"),
        ] {
            let out = node
                .enrich(&signup(ip, "a@web.de"), at(2))
                .expect("enriched");
            assert_eq!(out["geolocationStatus"], status, "{ip:?}");
            assert!(out.get("geolocation").is_none(), "no guess for {ip:?}");
        }
        let (reason, message) = node
            .enrich(&signup(Some("999.1.1.1"), "a@web.de"), at(3))
            .expect_err("refused");
        assert_eq!(reason, "unparseable-ip");
        assert!(message.contains("999.1.1.1"), "{message}");
    }

    #[test]
    fn a_signup_is_keyed_by_the_network_of_its_address() {
        let key = |ip: Option<&str>| network_key(&Value::Object(signup(ip, "a@b.c")));
        assert_eq!(key(Some(" 81.2.69.160")).as_deref(), Some("81.2.69"));
        assert_eq!(key(Some("81.2.69.7")), key(Some("81.2.69.160")));
        assert_eq!(
            key(Some("2a00:1450:4001::1")),
            None,
            "the window counts IPv4"
        );
        assert_eq!(key(Some("not an address")), None);
        assert_eq!(key(None), None);
    }

    #[test]
    fn repeated_signups_from_one_network_raise_the_score() {
        let mut node = enricher();
        let first = node
            .enrich(&signup(Some("185.1.2.3"), "x@mailinator.com"), at(10))
            .expect("enriched")["signupRiskScore"]
            .as_f64();
        for offset in 11..20 {
            node.enrich(&signup(Some("185.1.2.3"), "x@mailinator.com"), at(offset))
                .expect("enriched");
        }
        let tenth = node
            .enrich(&signup(Some("185.1.2.3"), "x@mailinator.com"), at(20))
            .expect("enriched")["signupRiskScore"]
            .as_f64();
        assert!(tenth > first, "{first:?} → {tenth:?}");
    }
}
