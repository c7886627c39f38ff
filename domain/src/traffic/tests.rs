use std::collections::{HashMap, HashSet};
use std::net::Ipv4Addr;

use chrono::{DateTime, TimeZone, Utc};
use serde_json::{Value, json};

use super::*;
use crate::quality::wire;
use crate::quality::{Checker, Limits, Moment};
use crate::registry::schema::{avro_namespace, port_schema_text};

const SCHEMA_ID: u32 = 7;

fn now() -> DateTime<Utc> {
    Utc.timestamp_opt(1_780_000_000, 0)
        .single()
        .expect("valid time")
}

/// A demo contract, with quality rules a realistic stream must pass added to its fields.
fn demo_contract(slug: &str) -> Contract {
    let mut document = crate::demo::catalog::contracts()
        .into_iter()
        .find(|d| d["dataProduct"] == slug)
        .expect("a demo contract");
    let rules: HashMap<&str, Value> = HashMap::from([
        (
            "eventId",
            json!({"logicalTypeOptions": {"format": "uuid"}, "unique": true}),
        ),
        (
            "customerID",
            json!({"logicalTypeOptions": {"pattern": "^c-[0-9a-f]{12}$"}}),
        ),
        (
            "orderID",
            json!({"logicalTypeOptions": {"pattern": "^o-[0-9a-f]{12}$"}, "unique": true}),
        ),
        (
            "ipAddress",
            json!({"logicalTypeOptions": {"format": "ipv4"}}),
        ),
        ("email", json!({"logicalTypeOptions": {"format": "email"}})),
        (
            "totalValue",
            json!({"logicalTypeOptions": {"exclusiveMinimum": 0}}),
        ),
        (
            "currency",
            json!({"logicalTypeOptions": {"pattern": "^[A-Z]{3}$"}}),
        ),
        (
            "sourceChannel",
            json!({"quality": [{"metric": "invalidValues", "mustBe": 0,
            "arguments": {"validValues": ["web", "ios", "android", "store"]}}]}),
        ),
    ]);
    for property in document["schema"][0]["properties"]
        .as_array_mut()
        .expect("properties")
    {
        let name = property["name"].as_str().unwrap_or_default().to_string();
        if let (Some(Value::Object(extra)), Value::Object(map)) =
            (rules.get(name.as_str()), property)
        {
            map.extend(extra.clone());
        }
    }
    Contract::from_document(document).expect("maps")
}

/// The product in `format`, its schema derived and registered as the catalog does.
fn product(slug: &str, format: &str) -> (Product, ParsedSchema, Contract) {
    let mut contract = demo_contract(slug);
    let mut port = contract.ports[0].clone();
    port.format = format.to_string();
    contract.quality[0].format = format.to_string();
    let domain = contract.domain.clone().expect("a domain");
    let (kind, text) = port_schema_text(&avro_namespace(&["meshmart", &domain]), &port);
    let schema = ParsedSchema::parse(kind, &text).expect("a valid schema");
    let product = Product::new(slug, port, SCHEMA_ID, schema.clone()).expect("known");
    (product, schema, contract)
}

/// Generates `n` records of `product`, decodes each with the checker's decoder and runs
/// the contract's quality rules on it (all must pass but those named in `known_gaps`);
/// returns the events, records and decoded values.
fn round_trip(
    slug: &str,
    format: &str,
    generator: &mut Generator,
    n: usize,
    known_gaps: &[&str],
) -> Vec<(Event, Record, Value)> {
    let (product, schema, contract) = product(slug, format);
    let lookup = HashMap::from([(SCHEMA_ID, schema)]);
    let subject = HashSet::from([SCHEMA_ID]);
    let mut decoder = wire::Decoder::new(wire::DEFAULT_MAX_RECORD_BYTES);
    let mut checker = Checker::new(&contract.quality[0], Limits::default());
    assert!(checker.not_evaluated().is_empty());
    let mut out = Vec::new();
    for _ in 0..n {
        let (event, record) = product.record(generator).expect("encodes");
        assert_eq!(record.value[0], wire::MAGIC_BYTE);
        assert_eq!(record.value[1..5], SCHEMA_ID.to_be_bytes());
        let decoded = decoder
            .decode(&record.value, &subject, &lookup)
            .unwrap_or_else(|e| panic!("{slug} ({format}) {}: {e}", event.value));
        assert_eq!(decoded.schema_id, SCHEMA_ID);
        // As if the broker stamped the record as it was produced (the freshness rule).
        let moment = Moment {
            now: Utc::now(),
            record_time: Some(Utc::now()),
        };
        for outcome in checker.check(decoded.value(), moment) {
            if known_gaps.contains(&&*outcome.rule) {
                continue;
            }
            assert!(
                outcome.passed(),
                "{slug} ({format}): {outcome:?} on {}",
                decoded.value()
            );
        }
        out.push((event, record, decoded.into_value()));
    }
    out
}

#[test]
fn a_seed_replays_the_same_stream_and_another_seed_does_not() {
    let events = |seed| {
        let (signups, _, _) = product("customer-signed-up", "json");
        let (orders, _, _) = product("order-placed", "json");
        let mut generator = Generator::new(seed, DEFAULT_RISKY_SHARE);
        (0..20)
            .flat_map(|_| {
                [
                    generator.next(signups.kind, &signups.port().fields, now()),
                    generator.next(orders.kind, &orders.port().fields, now()),
                ]
            })
            .collect::<Vec<_>>()
    };
    assert_eq!(events(42), events(42));
    assert_ne!(events(42), events(43));
    assert_ne!(
        generate::Rng::seeded(0).next_u64(),
        generate::Rng::seeded(1).next_u64()
    );
}

#[test]
fn json_records_round_trip_unchanged_and_pass_the_contract() {
    let mut generator = Generator::new(1, DEFAULT_RISKY_SHARE);
    for slug in KNOWN_PRODUCTS {
        for (event, _, decoded) in round_trip(slug, "json", &mut generator, 300, &[]) {
            assert_eq!(decoded, event.value);
        }
    }
}

#[test]
fn protobuf_records_round_trip_and_pass_the_contract() {
    let mut generator = Generator::new(3, DEFAULT_RISKY_SHARE);
    for (event, record, decoded) in
        round_trip("customer-signed-up", "protobuf", &mut generator, 300, &[])
    {
        assert_eq!(record.key, event.value["customerID"]);
        assert_eq!(record.value[5], 0, "message indexes [0]");
        for field in ["eventId", "customerID", "sourceChannel", "email"] {
            assert_eq!(decoded[field], event.value[field], "{field}");
        }
        let instant = |value: &Value| {
            DateTime::parse_from_rfc3339(value.as_str().expect("RFC 3339 text")).expect("a time")
        };
        assert_eq!(
            instant(&decoded["signupTimestamp"]),
            instant(&event.value["signupTimestamp"])
        );
    }
}

#[test]
fn avro_records_round_trip_and_pass_the_contract() {
    let mut generator = Generator::new(2, DEFAULT_RISKY_SHARE);
    for (event, record, decoded) in
        round_trip("customer-signed-up", "avro", &mut generator, 300, &[])
    {
        assert_eq!(record.key, event.value["customerID"]);
        for field in ["eventId", "customerID", "sourceChannel", "email"] {
            assert_eq!(decoded[field], event.value[field], "{field}");
        }
        // Absent optional fields take the union's null branch.
        assert_eq!(
            decoded["ipAddress"],
            event.value.get("ipAddress").cloned().unwrap_or(Value::Null)
        );
        let millis =
            DateTime::parse_from_rfc3339(event.value["signupTimestamp"].as_str().expect("text"))
                .expect("RFC 3339")
                .timestamp_millis();
        assert_eq!(decoded["signupTimestamp"], json!(millis));
    }
    // The registry's Avro port schema types every array item as a string, so no Avro
    // record can carry the line fields the contract declares (the demo ports are JSON).
    let gaps = [
        "productDetails[].sku:required",
        "productDetails[].quantity:required",
        "productDetails[].unitPrice:required",
    ];
    for (event, record, decoded) in round_trip("order-placed", "avro", &mut generator, 300, &gaps) {
        assert_eq!(record.key, event.value["orderID"]);
        assert_eq!(decoded["totalValue"], event.value["totalValue"]);
        // The port schema types array items as strings: each line is its JSON text.
        let lines: Vec<Value> = decoded["productDetails"]
            .as_array()
            .expect("lines")
            .iter()
            .map(|line| serde_json::from_str(line.as_str().expect("text")).expect("JSON"))
            .collect();
        assert_eq!(Value::Array(lines), event.value["productDetails"]);
    }
}

#[test]
fn signups_have_a_channel_mix_countries_addresses_and_a_share_of_risky_ones() {
    let mut generator = Generator::new(3, 0.1);
    let (signups, _, _) = product("customer-signed-up", "json");
    let events: Vec<Event> = (0..2_000)
        .map(|_| generator.next(signups.kind, &signups.port().fields, now()))
        .collect();
    let channels: HashSet<&str> = events
        .iter()
        .map(|e| e.value["sourceChannel"].as_str().expect("a channel"))
        .collect();
    assert_eq!(channels, HashSet::from(["web", "ios", "android", "store"]));
    let risky = events.iter().filter(|e| e.risky).count();
    assert!((140..=260).contains(&risky), "{risky} risky of 2000");
    let disposable = [
        "mailinator.com",
        "guerrillamail.com",
        "10minutemail.com",
        "tempmail.dev",
    ];
    let mut domains = HashSet::new();
    let (mut disposable_risky, mut disposable_legit) = (0, 0);
    for event in &events {
        let email = event.value["email"].as_str().expect("an email");
        let (_, domain) = email.split_once('@').expect("an e-mail address");
        if disposable.contains(&domain) {
            if event.risky {
                disposable_risky += 1;
            } else {
                disposable_legit += 1;
            }
        }
        domains.insert(domain.to_string());
        assert_eq!(event.key, event.value["customerID"]);
        let country = event.value["country"].as_str().expect("a stated country");
        assert_eq!(country.len(), 2, "ISO 3166 alpha-2: {country}");
        match event.value.get("ipAddress") {
            Some(ip) => {
                ip.as_str()
                    .expect("text")
                    .parse::<Ipv4Addr>()
                    .expect("an IPv4 address");
            }
            None => assert_eq!(event.value["sourceChannel"], "store"),
        }
    }
    // No sign decides alone: about half the risky sign-ups use a throw-away mailbox, and a
    // few legitimate ones do too.
    let share = f64::from(disposable_risky) / risky as f64;
    assert!(
        (0.4..0.7).contains(&share),
        "{share} of risky sign-ups disposable"
    );
    assert!(
        (1..60).contains(&disposable_legit),
        "{disposable_legit} legitimate"
    );
    assert!(domains.len() >= 8, "{domains:?}");
    let keys: HashSet<&String> = events.iter().map(|e| &e.key).collect();
    assert_eq!(keys.len(), events.len(), "customer ids are unique");
}

#[test]
fn orders_come_from_signed_up_customers_and_add_up() {
    let mut generator = Generator::new(4, DEFAULT_RISKY_SHARE);
    let (signups, _, _) = product("customer-signed-up", "json");
    let (orders, _, _) = product("order-placed", "json");
    let customers: HashSet<String> = (0..50)
        .map(|_| {
            generator
                .next(signups.kind, &signups.port().fields, now())
                .key
        })
        .collect();
    for _ in 0..500 {
        let order = generator.next(orders.kind, &orders.port().fields, now());
        assert_eq!(order.key, order.value["orderID"]);
        assert!(customers.contains(order.value["customerID"].as_str().expect("id")));
        let lines = order.value["productDetails"].as_array().expect("lines");
        assert!((1..=5).contains(&lines.len()));
        let cents: i64 = lines
            .iter()
            .map(|l| {
                l["quantity"].as_i64().expect("quantity")
                    * (l["unitPrice"].as_f64().expect("price") * 100.0).round() as i64
            })
            .sum();
        let total = order.value["totalValue"].as_f64().expect("total");
        assert_eq!((total * 100.0).round() as i64, cents);
    }
}

#[test]
fn unknown_events_and_values_that_do_not_fit_are_refused() {
    let (signups, schema, _) = product("customer-signed-up", "avro");
    let mut port = signups.port().clone();
    port.event_type = "ParcelLost".to_string();
    assert!(matches!(
        Product::new("parcel-lost", port, SCHEMA_ID, schema.clone()),
        Err(TrafficError::NoGenerator { .. })
    ));
    let missing = json!({"eventId": "e", "occurredAt": "2026-01-01T00:00:00Z"});
    assert_eq!(
        encode::payload(&schema, &missing),
        Err(EncodeError::Missing("customerID".to_string()))
    );
    let wrong = json!({"eventId": "e", "occurredAt": "yesterday", "customerID": "c"});
    assert!(matches!(
        encode::payload(&schema, &wrong),
        Err(EncodeError::Mismatch { field, .. }) if field == "occurredAt"
    ));
}

/// Decodes `record` as the checker would, knowing only the registered schema.
fn check(record: &Record, schema: &ParsedSchema) -> Result<Value, wire::WireError> {
    let lookup = HashMap::from([(SCHEMA_ID, schema.clone())]);
    let subject = HashSet::from([SCHEMA_ID]);
    wire::decode(&record.value, &lookup, &subject).map(|decoded| decoded.value)
}

#[test]
fn each_bad_kind_breaks_the_contract_the_way_it_says() {
    let mut generator = Generator::new(5, DEFAULT_RISKY_SHARE);
    for slug in KNOWN_PRODUCTS {
        for format in ["json", "avro"] {
            let (product, schema, _) = product(slug, format);
            for _ in 0..50 {
                let (event, good) = product.record(&mut generator).expect("encodes");
                check(&good, &schema).expect("the unbroken record decodes");
                let broken = |kind| {
                    let record = product
                        .bad_record(kind, &event.key, &event.value)
                        .unwrap_or_else(|e| panic!("{slug} ({format}) {kind:?}: {e}"));
                    assert_eq!(record.key, event.key, "bad records keep their key");
                    check(&record, &schema).expect_err("a bad record must not pass")
                };
                let what = format!("{slug} ({format})");

                let error = broken(BadKind::NotWireFormat);
                assert_eq!(error.reason(), "not_wire_format", "{what}: {error}");

                let error = broken(BadKind::UnknownSchemaId);
                assert_eq!(
                    error,
                    wire::WireError::UnknownSchemaId(product.unknown_schema_id),
                    "{what}"
                );

                let error = broken(BadKind::WrongType);
                match format {
                    // The payload parses as JSON and fails the schema on a type.
                    "json" => assert!(
                        matches!(&error, wire::WireError::Invalid { message, .. }
                            if message.contains("40400") && message.contains("type")),
                        "{what}: {error}"
                    ),
                    // Avro carries no types: a negative long read as a string's length.
                    _ => assert_eq!(error.reason(), "undecodable", "{what}: {error}"),
                }

                let error = broken(BadKind::MissingRequired);
                match format {
                    "json" => assert!(
                        matches!(&error, wire::WireError::Invalid { message, .. }
                            if message.contains("required")),
                        "{what}: {error}"
                    ),
                    // The record ends before its last required field.
                    _ => assert_eq!(error.reason(), "undecodable", "{what}: {error}"),
                }
            }
        }
    }
}

#[test]
fn bad_kinds_are_named_as_on_the_command_line() {
    for kind in BadKind::ALL {
        assert_eq!(kind.as_str().parse::<BadKind>(), Ok(kind));
    }
    let error = "wrong-colour".parse::<BadKind>().expect_err("unknown");
    assert!(error.contains("wrong-type, missing-required"), "{error}");
}

#[test]
fn drifted_records_name_an_unregistered_version_that_adds_a_field() {
    let mut generator = Generator::new(6, DEFAULT_RISKY_SHARE);
    for format in ["json", "avro"] {
        let (product, schema, contract) = product("customer-signed-up", format);
        assert_ne!(product.drift_schema_id, SCHEMA_ID);
        assert_ne!(product.drift_schema_id, product.unknown_schema_id);
        // The version the drifted producer writes, which the registry never saw.
        let drifted = match format {
            "avro" => product.shapes.drift.clone().expect("a drifted Avro schema"),
            _ => {
                let mut port = contract.ports[0].clone();
                let mut field = port.fields[0].clone();
                field.name = faults::DRIFT_FIELD.to_string();
                field.required = false;
                field.fields = Vec::new();
                field.logical_type = Some("string".to_string());
                field.physical_type = Some("string".to_string());
                port.fields.push(field);
                let (kind, document) =
                    crate::registry::schema::port_schema(&avro_namespace(&["meshmart"]), &port);
                ParsedSchema::parse(kind, &document.to_string()).expect("a schema")
            }
        };
        for _ in 0..20 {
            let (event, _) = product.record(&mut generator).expect("encodes");
            let record = product
                .drifted_record(&event.key, &event.value, "gold")
                .expect("drifted");
            assert_eq!(
                check(&record, &schema),
                Err(wire::WireError::UnknownSchemaId(product.drift_schema_id)),
                "{format}"
            );
            let lookup = HashMap::from([(product.drift_schema_id, drifted.clone())]);
            let subject = HashSet::from([product.drift_schema_id]);
            let decoded = wire::decode(&record.value, &lookup, &subject)
                .unwrap_or_else(|e| panic!("{format}: the drifted version reads it: {e}"));
            assert_eq!(decoded.value[faults::DRIFT_FIELD], "gold", "{format}");
            assert_eq!(decoded.value["customerID"], event.value["customerID"]);
        }
    }
}

#[test]
fn the_pace_follows_the_rate_the_daily_curve_and_the_pause() {
    let started = now();
    let flat = Pace {
        rate: 10.0,
        diurnal: false,
        pause: None,
        started,
        day_seconds: None,
    };
    assert!((flat.due_between(0.0, 2.5) - 25.0).abs() < 1e-9);
    assert_eq!(flat.due_between(3.0, 2.0), 0.0);

    let paused = Pace {
        pause: Some(Pause {
            after: Duration::from_secs(10),
            length: Duration::from_secs(5),
        }),
        ..flat
    };
    assert_eq!(
        paused.due_between(11.0, 14.0),
        0.0,
        "nothing during the pause"
    );
    assert!(
        (paused.due_between(8.0, 12.0) - 20.0).abs() < 1e-9,
        "2 s before it"
    );
    assert!(
        (paused.due_between(14.0, 16.0) - 10.0).abs() < 1e-9,
        "1 s after it"
    );
    assert!(
        (paused.due_between(0.0, 20.0) - 150.0).abs() < 1e-9,
        "not caught up"
    );
    assert!(paused.paused(10.0) && paused.paused(14.9) && !paused.paused(15.0));
    assert!(!paused.paused(9.9));

    let at = |hour: u32, minute: u32| {
        Utc.with_ymd_and_hms(2026, 12, 4, hour, minute, 0)
            .single()
            .expect("a time")
    };
    let factor = |hour| pace::diurnal_factor(at(hour, 0));
    assert_eq!(factor(19), 1.0, "the evening peak");
    let night = (0..24).map(factor).fold(f64::MAX, f64::min);
    assert_eq!(night, factor(4), "the quietest hour is in the small hours");
    assert!(night < 0.15);
    for hour in 0..24 {
        let (a, b) = (factor(hour), factor((hour + 1) % 24));
        let half = pace::diurnal_factor(at(hour, 30));
        assert!(
            (half - (a + b) / 2.0).abs() < 1e-9,
            "interpolated at {hour}:30"
        );
    }
    let diurnal = Pace {
        diurnal: true,
        started: at(4, 0),
        ..flat
    };
    assert!((diurnal.due_between(0.0, 1.0) - 10.0 * factor(4)).abs() < 0.01);
}

#[test]
fn tickets_come_from_signed_up_customers_over_support_channels() {
    let mut generator = Generator::new(7, DEFAULT_RISKY_SHARE);
    let (signups, _, _) = product("customer-signed-up", "json");
    let (tickets, _, _) = product("ticket-opened", "json");
    let customers: HashSet<String> = (0..30)
        .map(|_| {
            generator
                .next(signups.kind, &signups.port().fields, now())
                .key
        })
        .collect();
    let mut channels = HashSet::new();
    for _ in 0..300 {
        let ticket = generator.next(tickets.kind, &tickets.port().fields, now());
        assert_eq!(ticket.key, ticket.value["ticketId"]);
        assert!(ticket.key.starts_with("t-") && ticket.key.len() == 14);
        assert!(customers.contains(ticket.value["customerID"].as_str().expect("id")));
        channels.insert(
            ticket.value["channel"]
                .as_str()
                .expect("channel")
                .to_string(),
        );
    }
    assert_eq!(
        channels,
        HashSet::from(["chat", "email", "phone"].map(String::from))
    );
}

#[test]
fn a_compressed_day_runs_the_whole_curve_in_its_length() {
    let started = Utc
        .with_ymd_and_hms(2026, 12, 4, 0, 0, 0)
        .single()
        .expect("a time");
    let day = Pace {
        rate: 10.0,
        diurnal: true,
        pause: None,
        started,
        day_seconds: Some(600.0),
    };
    // 600 s are a day: 25 s an hour, so 4 a.m. is at 100 s and the 19:00 peak at 475 s.
    assert!(
        (day.factor_at(100.0) - pace::diurnal_factor(started + chrono::Duration::hours(4))).abs()
            < 1e-9
    );
    assert_eq!(day.factor_at(475.0), 1.0);
    assert!(
        (day.factor_at(600.0) - day.factor_at(0.0)).abs() < 1e-9,
        "a full cycle"
    );
    let real = Pace {
        day_seconds: None,
        ..day
    };
    assert!(
        (real.factor_at(100.0) - real.factor_at(0.0)).abs() < 0.01,
        "a real day barely moves in 100 s"
    );
    // Over one compressed day about the curve's mean is produced.
    let mean = (0..24)
        .map(|h| pace::diurnal_factor(started + chrono::Duration::hours(h)))
        .sum::<f64>()
        / 24.0;
    let stepped: f64 = (0..600)
        .map(|s| day.due_between(f64::from(s), f64::from(s + 1)))
        .sum();
    assert!(
        (stepped / 6_000.0 - mean).abs() < 0.01,
        "{stepped} over a day, mean share {mean}"
    );
    // A nonsense length means a real day, not a division by zero.
    let broken = Pace {
        day_seconds: Some(0.0),
        ..day
    };
    assert_eq!(broken.factor_at(100.0), real.factor_at(100.0));
}

#[test]
fn a_live_records_sequence_is_read_back_only_for_its_own_run() {
    use super::live::tagged_seq;
    assert_eq!(tagged_seq("r1", Some(b"r1"), Some(b"42")), Some(42));
    assert_eq!(
        tagged_seq("r1", Some(b"r2"), Some(b"42")),
        None,
        "another run"
    );
    assert_eq!(
        tagged_seq("r1", None, Some(b"42")),
        None,
        "another producer"
    );
    assert_eq!(tagged_seq("r1", Some(b"r1"), Some(b"x")), None);
    assert_eq!(tagged_seq("r1", Some(b"r1"), None), None);
}
