//! Realistic values for the seed flow's events, from a small seeded random generator, so
//! that a seed replays the same stream (tests) and no seed gives a fresh one (demos).
//!
//! A generator draws every value an event could carry (a sign-up's country, its risk),
//! then keeps only the fields the port declares: the contracts' JSON Schemas are closed,
//! so an undeclared field would make the record invalid. A required field the generator
//! knows nothing about still gets a value of its type, so a contract that grows a field
//! does not break the traffic; an optional one it does not know is left out.

use std::collections::VecDeque;
use std::hash::{BuildHasher, Hasher};

use chrono::{DateTime, Duration, SecondsFormat, Utc};
use serde_json::{Map, Value, json};

use crate::contracts::Field;

/// A xorshift64* generator: tiny, fast, and deterministic for a seed. Not for secrets.
#[derive(Clone, Debug)]
pub struct Rng(u64);

impl Rng {
    /// A generator whose stream depends only on `seed`.
    pub fn seeded(seed: u64) -> Self {
        // SplitMix64 spreads small seeds (0, 1, 2) over the state; xorshift needs non-zero.
        let mut z = seed.wrapping_add(0x9E37_79B9_7F4A_7C15);
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        Self((z ^ (z >> 31)).max(1))
    }

    /// A seed from the operating system's randomness (the one std's `HashMap` keys use).
    pub fn os_seed() -> u64 {
        std::collections::hash_map::RandomState::new()
            .build_hasher()
            .finish()
    }

    pub fn next_u64(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.0 = x;
        x.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    /// A number in `0..n` (`n` > 0).
    pub fn below(&mut self, n: u64) -> u64 {
        // The modulo bias is below 2^-40 for the small ranges used here.
        self.next_u64() % n.max(1)
    }

    /// A number in `[0, 1)`.
    pub fn unit(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64
    }

    /// True with probability `p`.
    pub fn chance(&mut self, p: f64) -> bool {
        self.unit() < p
    }

    /// One of `items`, by their weights.
    pub fn weighted<'a, T>(&mut self, items: &'a [(T, u32)]) -> &'a T {
        let total: u64 = items.iter().map(|(_, w)| u64::from(*w)).sum();
        let mut at = self.below(total);
        for (item, weight) in items {
            if at < u64::from(*weight) {
                return item;
            }
            at -= u64::from(*weight);
        }
        &items[items.len() - 1].0
    }

    fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.below(items.len() as u64) as usize]
    }

    fn hex(&mut self, digits: usize) -> String {
        let mut out = String::with_capacity(digits);
        while out.len() < digits {
            out.push_str(&format!("{:016x}", self.next_u64()));
        }
        out.truncate(digits);
        out
    }

    fn uuid(&mut self) -> String {
        let mut bytes = [0u8; 16];
        bytes[..8].copy_from_slice(&self.next_u64().to_le_bytes());
        bytes[8..].copy_from_slice(&self.next_u64().to_le_bytes());
        uuid::Builder::from_random_bytes(bytes)
            .into_uuid()
            .to_string()
    }
}

/// The events the generator knows, by their port's event type.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum EventKind {
    CustomerSignedUp,
    OrderPlaced,
    /// customer-support's TicketOpened (an input of the churn model in the seed flow).
    TicketOpened,
}

impl EventKind {
    /// The kind for a port's event type (`CustomerSignedUp`), if the generator knows it.
    pub fn of(event_type: &str) -> Option<Self> {
        match event_type {
            "CustomerSignedUp" => Some(Self::CustomerSignedUp),
            "OrderPlaced" => Some(Self::OrderPlaced),
            "TicketOpened" => Some(Self::TicketOpened),
            _ => None,
        }
    }
}

/// One generated event: its partitioning key and its value, with the contract's field
/// names.
#[derive(Clone, Debug, PartialEq)]
pub struct Event {
    pub key: String,
    pub value: Value,
    /// Whether the generator meant this one to look risky (sign-ups only).
    pub risky: bool,
}

/// How sign-ups arrive: (channel, weight). Store sign-ups have no client IP.
const CHANNELS: [(&str, u32); 4] = [("web", 45), ("ios", 25), ("android", 22), ("store", 8)];

/// (ISO 3166 country, weight, currency, its consumer /16 networks).
type Country = (&'static str, u32, &'static str, [(u8, u8); 4]);

/// Where customers are: (ISO 3166 country, weight, currency, /16 networks of consumer
/// providers there). The networks are ones the DB-IP City Lite database places in that
/// country and the IP to ASN table gives to an access provider (Deutsche Telekom, Free,
/// BT, KPN, Telefónica, Telecom Italia, Telia, Comcast, …), so the enrichment node finds a
/// legitimate customer where they said they are, on a home network.
const COUNTRIES: [Country; 8] = [
    ("DE", 30, "EUR", [(37, 91), (79, 219), (93, 192), (91, 64)]),
    (
        "FR",
        18,
        "EUR",
        [(77, 148), (78, 202), (86, 239), (88, 174)],
    ),
    ("GB", 15, "GBP", [(77, 101), (86, 128), (81, 129), (2, 96)]),
    ("NL", 9, "EUR", [(84, 104), (83, 80), (77, 160), (62, 45)]),
    ("ES", 8, "EUR", [(2, 138), (77, 225), (83, 63), (85, 57)]),
    ("IT", 8, "EUR", [(2, 238), (79, 20), (151, 38), (95, 226)]),
    ("SE", 6, "SEK", [(78, 76), (81, 224), (90, 237), (213, 89)]),
    ("US", 6, "USD", [(100, 6), (73, 15), (98, 200), (99, 30)]),
];

/// /16 networks of cloud and hosting providers (Amazon, Google Cloud, Microsoft,
/// DigitalOcean, Hetzner, OVH, Akamai/Linode, Vultr), whole in the IP to ASN table: where
/// bots and anonymising proxies sign up from.
const HOSTING_NETWORKS: [(u8, u8); 20] = [
    (3, 120),
    (18, 184),
    (52, 28),
    (54, 93),
    (34, 89),
    (35, 198),
    (20, 50),
    (40, 113),
    (167, 99),
    (165, 22),
    (104, 248),
    (88, 198),
    (95, 216),
    (135, 181),
    (51, 38),
    (51, 68),
    (145, 239),
    (139, 162),
    (45, 32),
    (45, 76),
];

/// How a risky sign-up differs from a legitimate one, as chances (risky, legitimate). No
/// single sign wins: fraudsters often use a free mailbox and a home address, and
/// legitimate customers travel, use VPNs, share an office network or a throw-away address.
const DISPOSABLE_MAIL: (f64, f64) = (0.55, 0.01);
const HOSTING_ADDRESS: (f64, f64) = (0.45, 0.02);
const FOREIGN_ADDRESS: (f64, f64) = (0.25, 0.05);
/// A sign-up from a network (/24) one of the last few sign-ups of its kind came from.
const REPEATED_NETWORK: (f64, f64) = (0.40, 0.02);
/// Fraud comes through the web more than through the apps.
const RISKY_CHANNELS: [(&str, u32); 3] = [("web", 70), ("android", 20), ("ios", 10)];
/// Networks remembered for repeats, per kind of sign-up.
const RECENT_NETWORKS: usize = 16;

const MAIL_DOMAINS: [(&str, u32); 8] = [
    ("gmail.com", 34),
    ("outlook.com", 14),
    ("yahoo.com", 8),
    ("icloud.com", 10),
    ("web.de", 9),
    ("gmx.net", 8),
    ("orange.fr", 7),
    ("proton.me", 4),
];

/// Throw-away mailboxes: a risky sign-up's e-mail domain.
const DISPOSABLE_DOMAINS: [&str; 4] = [
    "mailinator.com",
    "guerrillamail.com",
    "10minutemail.com",
    "tempmail.dev",
];

const FIRST_NAMES: [&str; 12] = [
    "anna", "ben", "chloe", "david", "elif", "finn", "greta", "hugo", "ines", "jonas", "lea",
    "mateo",
];
const LAST_NAMES: [&str; 10] = [
    "muller", "martin", "smith", "jansen", "garcia", "rossi", "berg", "novak", "dubois", "weber",
];

/// The assortment an order draws from: (sku, unit price).
const SKUS: [(&str, f64); 10] = [
    ("SKU-10001", 19.99),
    ("SKU-10002", 4.49),
    ("SKU-10017", 89.0),
    ("SKU-10023", 12.5),
    ("SKU-10042", 249.0),
    ("SKU-10056", 7.95),
    ("SKU-10078", 34.9),
    ("SKU-10101", 129.0),
    ("SKU-10113", 2.99),
    ("SKU-10150", 59.0),
];

/// How support tickets arrive: (channel, weight).
const TICKET_CHANNELS: [(&str, u32); 3] = [("chat", 45), ("email", 40), ("phone", 15)];

/// Customers remembered so that orders come from people who signed up.
const KNOWN_CUSTOMERS: usize = 1_000;

/// Generates events; one per process (or per test), shared by all products so that orders
/// reference customers who signed up.
#[derive(Clone, Debug)]
pub struct Generator {
    rng: Rng,
    risky_share: f64,
    customers: VecDeque<(String, usize)>,
    /// The /24 networks of recent sign-ups: (risky ones, legitimate ones).
    networks: (VecDeque<[u8; 3]>, VecDeque<[u8; 3]>),
}

impl Generator {
    /// A generator replaying `seed`, in which about `risky_share` (0 to 1) of the sign-ups
    /// look risky (a throw-away mailbox, an address of a hosting provider).
    pub fn new(seed: u64, risky_share: f64) -> Self {
        Self {
            rng: Rng::seeded(seed),
            risky_share: risky_share.clamp(0.0, 1.0),
            customers: VecDeque::with_capacity(KNOWN_CUSTOMERS),
            networks: (VecDeque::new(), VecDeque::new()),
        }
    }

    /// The generator's random numbers (for choices around the events, e.g. which record to
    /// break), so one seed replays those too.
    pub fn rng(&mut self) -> &mut Rng {
        &mut self.rng
    }

    /// The next event of `kind`, keeping only the port's `fields`, as of `now`.
    pub fn next(&mut self, kind: EventKind, fields: &[Field], now: DateTime<Utc>) -> Event {
        let (key, candidates, risky) = match kind {
            EventKind::CustomerSignedUp => self.signup(now),
            EventKind::OrderPlaced => self.order(now),
            EventKind::TicketOpened => self.ticket(now),
        };
        let value = self.project(&candidates, fields, now);
        Event { key, value, risky }
    }

    fn signup(&mut self, now: DateTime<Utc>) -> (String, Map<String, Value>, bool) {
        let rng = &mut self.rng;
        let risky = rng.chance(self.risky_share);
        let odds = |(if_risky, if_not): (f64, f64)| if risky { if_risky } else { if_not };
        let customer = format!("c-{}", rng.hex(12));
        let channel = if risky {
            *rng.weighted(&RISKY_CHANNELS)
        } else {
            *rng.weighted(&CHANNELS)
        };
        let countries: Vec<(usize, u32)> = COUNTRIES
            .iter()
            .enumerate()
            .map(|(i, c)| (i, c.1))
            .collect();
        let country = *rng.weighted(&countries);
        let code = COUNTRIES[country].0;
        let recent = if risky {
            &mut self.networks.0
        } else {
            &mut self.networks.1
        };
        let network = if !recent.is_empty() && rng.chance(odds(REPEATED_NETWORK)) {
            recent[rng.below(recent.len() as u64) as usize]
        } else {
            let network = if rng.chance(odds(HOSTING_ADDRESS)) {
                let (a, b) = *rng.pick(&HOSTING_NETWORKS);
                [a, b, rng.below(256) as u8]
            } else {
                let home = if rng.chance(odds(FOREIGN_ADDRESS)) {
                    (country + 1 + rng.below(COUNTRIES.len() as u64 - 1) as usize) % COUNTRIES.len()
                } else {
                    country
                };
                let (a, b) = *rng.pick(&COUNTRIES[home].3);
                [a, b, rng.below(256) as u8]
            };
            if recent.len() == RECENT_NETWORKS {
                recent.pop_front();
            }
            recent.push_back(network);
            network
        };
        let ip = format!(
            "{}.{}.{}.{}",
            network[0],
            network[1],
            network[2],
            1 + rng.below(254)
        );
        let email = if rng.chance(odds(DISPOSABLE_MAIL)) {
            format!("{}@{}", rng.hex(10), rng.pick(&DISPOSABLE_DOMAINS))
        } else {
            let domain = *rng.weighted(&MAIL_DOMAINS);
            format!(
                "{}.{}{}@{domain}",
                rng.pick(&FIRST_NAMES),
                rng.pick(&LAST_NAMES),
                rng.below(100)
            )
        };
        // The sign-up completed a moment before the event about it was emitted.
        let signed_up = now - Duration::milliseconds(rng.below(2_000) as i64);
        let mut values = Map::new();
        values.insert("eventId".into(), json!(rng.uuid()));
        values.insert("occurredAt".into(), json!(timestamp(now)));
        values.insert("customerID".into(), json!(customer));
        values.insert("signupTimestamp".into(), json!(timestamp(signed_up)));
        values.insert("sourceChannel".into(), json!(channel));
        values.insert("country".into(), json!(code));
        // A store sign-up is typed in by staff: there is no client address to enrich.
        if channel != "store" || risky {
            values.insert("ipAddress".into(), json!(ip));
        }
        values.insert("email".into(), json!(email));
        if self.customers.len() == KNOWN_CUSTOMERS {
            self.customers.pop_front();
        }
        self.customers.push_back((customer.clone(), country));
        (customer, values, risky)
    }

    fn order(&mut self, now: DateTime<Utc>) -> (String, Map<String, Value>, bool) {
        let (customer, country) = self.known_customer();
        let rng = &mut self.rng;
        let order = format!("o-{}", rng.hex(12));
        let lines = 1 + rng.weighted(&[(0u64, 50), (1, 25), (2, 15), (3, 7), (4, 3)]);
        let mut total_cents: i64 = 0;
        let mut details = Vec::new();
        for _ in 0..lines {
            let (sku, price) = *rng.pick(&SKUS);
            let quantity = 1 + rng.weighted(&[(0i64, 80), (1, 15), (2, 5)]);
            total_cents += quantity * (price * 100.0).round() as i64;
            details.push(json!({"sku": sku, "quantity": quantity, "unitPrice": price}));
        }
        let mut values = Map::new();
        values.insert("eventId".into(), json!(rng.uuid()));
        values.insert("occurredAt".into(), json!(timestamp(now)));
        values.insert("orderID".into(), json!(order));
        values.insert("customerID".into(), json!(customer));
        values.insert("productDetails".into(), Value::Array(details));
        values.insert("totalValue".into(), json!(total_cents as f64 / 100.0));
        values.insert("currency".into(), json!(COUNTRIES[country].2));
        (order, values, false)
    }

    fn ticket(&mut self, now: DateTime<Utc>) -> (String, Map<String, Value>, bool) {
        let customer = self.known_customer().0;
        let rng = &mut self.rng;
        let ticket = format!("t-{}", rng.hex(12));
        let mut values = Map::new();
        values.insert("eventId".into(), json!(rng.uuid()));
        values.insert("occurredAt".into(), json!(timestamp(now)));
        values.insert("ticketId".into(), json!(ticket));
        values.insert("customerID".into(), json!(customer));
        values.insert("channel".into(), json!(rng.weighted(&TICKET_CHANNELS)));
        (ticket, values, false)
    }

    /// A customer who signed up (and their country), or a new id before anyone has.
    fn known_customer(&mut self) -> (String, usize) {
        if self.customers.is_empty() {
            (format!("c-{}", self.rng.hex(12)), 0)
        } else {
            self.customers[self.rng.below(self.customers.len() as u64) as usize].clone()
        }
    }

    /// The declared fields, from the drawn values or else (required ones) of their type.
    fn project(
        &mut self,
        values: &Map<String, Value>,
        fields: &[Field],
        now: DateTime<Utc>,
    ) -> Value {
        let mut out = Map::new();
        for field in fields {
            if let Some(value) = values.get(&field.name) {
                out.insert(field.name.clone(), value.clone());
            } else if field.required {
                let value = self.of_type(field, now);
                out.insert(field.name.clone(), value);
            }
        }
        Value::Object(out)
    }

    fn of_type(&mut self, field: &Field, now: DateTime<Utc>) -> Value {
        let kind = field
            .logical_type
            .as_deref()
            .or(field.physical_type.as_deref())
            .unwrap_or("string")
            .to_ascii_lowercase();
        match kind.as_str() {
            "object" | "record" | "struct" => self.project(&Map::new(), &field.fields, now),
            "array" => json!([]),
            "integer" | "int" | "long" | "bigint" => json!(self.rng.below(1_000)),
            "number" | "double" | "float" | "decimal" => {
                json!((self.rng.unit() * 100_000.0).round() / 100.0)
            }
            "boolean" | "bool" => json!(self.rng.chance(0.5)),
            "date" => json!(now.format("%Y-%m-%d").to_string()),
            "timestamp" | "datetime" | "timestamp-millis" => json!(timestamp(now)),
            _ if field.physical_type.as_deref() == Some("uuid") => json!(self.rng.uuid()),
            _ => json!(self.rng.hex(12)),
        }
    }
}

/// RFC 3339 in UTC with milliseconds, as JSON Schema's `date-time` and Avro's
/// `timestamp-millis` both take it.
fn timestamp(at: DateTime<Utc>) -> String {
    at.to_rfc3339_opts(SecondsFormat::Millis, true)
}
