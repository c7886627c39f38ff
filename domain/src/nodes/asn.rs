//! The autonomous system an IPv4 address belongs to, for enrichment nodes: its number, its
//! organisation and whether it is a hosting network (cloud, data centre, VPS, CDN) or an
//! access provider's.
//!
//! The ranges come from the npm package `@ip-location-db/asn` (RouteViews' IP to ASN data
//! merged with DB-IP's IP to ASN Lite, both CC BY 4.0), fetched by `make setup` as
//! `asn-ipv4-num.csv`: `first,last,asn,organisation` with addresses as numbers. Neither
//! source says what kind of network an AS is, so [`NetworkType`] is Meshmart's reading: a
//! listed hosting AS or an organisation name that says so is `hosting`; every other one is
//! `isp`, which means "not known to be hosting" (residential, mobile or business access),
//! not a verified home line.

use std::collections::HashMap;
use std::net::Ipv4Addr;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

/// What kind of network an AS is, as far as Meshmart can tell.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum NetworkType {
    /// Cloud, data-centre, VPS or CDN: where bots and anonymising proxies run.
    Hosting,
    /// Not known to be hosting: an access provider (residential, mobile or business).
    Isp,
}

impl NetworkType {
    pub fn as_str(self) -> &'static str {
        match self {
            NetworkType::Hosting => "hosting",
            NetworkType::Isp => "isp",
        }
    }
}

/// The autonomous system of an address.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct AutonomousSystem {
    pub number: u32,
    pub organization: String,
    pub network_type: NetworkType,
}

/// Hosting and cloud ASes, by number: the large clouds, VPS and dedicated-server hosts and
/// CDNs. Organisations not listed are still `hosting` when their name says so
/// ([`HOSTING_WORDS`]).
const HOSTING_ASNS: &[u32] = &[
    13335,  // Cloudflare
    14061,  // DigitalOcean
    14618,  // Amazon
    15169,  // Google
    16265,  // Leaseweb
    16276,  // OVH
    16509,  // Amazon
    18779,  // EGIHosting
    19527,  // Google
    20473,  // The Constant Company (Vultr)
    20940,  // Akamai
    24940,  // Hetzner
    26496,  // GoDaddy
    28753,  // Leaseweb Deutschland
    29447,  // Scaleway
    30633,  // Leaseweb USA
    31898,  // Oracle Cloud
    35540,  // OVH
    36352,  // ColoCrossing
    37963,  // Alibaba
    40021,  // Contabo US
    45090,  // Tencent Cloud
    45102,  // Alibaba Cloud
    46606,  // Unified Layer
    48337,  // Linode
    51167,  // Contabo
    53667,  // FranTech (BuyVM)
    60068,  // Datacamp (CDN77)
    60781,  // Leaseweb Netherlands
    62240,  // Clouvider
    63949,  // Akamai Connected Cloud (Linode)
    8075,   // Microsoft
    8560,   // IONOS
    8987,   // Amazon Data Services Ireland
    9009,   // M247
    12876,  // Scaleway (Online SAS)
    132203, // Tencent
    136787, // TEFINCOM (VPN exits)
    197540, // netcup
    202053, // UpCloud
    212238, // Datacamp
    213230, // Hetzner Cloud
    396982, // Google Cloud
    398324, // Censys (scanners)
];

/// Words in an organisation's name that make it a hosting network (matched lower-case).
const HOSTING_WORDS: &[&str] = &[
    "hosting",
    "cloud",
    "data center",
    "datacenter",
    "data centre",
    "server",
    "vps",
    "colocation",
];

/// Meshmart's reading of an AS (see the module documentation).
pub fn network_type(number: u32, organization: &str) -> NetworkType {
    let name = organization.to_ascii_lowercase();
    if HOSTING_ASNS.contains(&number) || HOSTING_WORDS.iter().any(|word| name.contains(word)) {
        NetworkType::Hosting
    } else {
        NetworkType::Isp
    }
}

/// Where the table is: `MESHMART_ASN_DB`, or where `make setup` puts it.
pub fn default_path() -> PathBuf {
    std::env::var("MESHMART_ASN_DB").map_or_else(
        |_| {
            PathBuf::from(std::env::var("HOME").unwrap_or_default())
                .join(".cache/meshmart/geo/asn-ipv4-num.csv")
        },
        PathBuf::from,
    )
}

/// One range of the table: `first..=last` belongs to `asn`.
#[derive(Clone, Copy, Debug)]
struct Range {
    first: u32,
    last: u32,
    asn: u32,
    /// Index into [`AsnTable::systems`].
    system: u32,
}

/// The IPv4 ranges of every announced AS, in memory (about 400,000 ranges).
pub struct AsnTable {
    ranges: Vec<Range>,
    /// (organisation, type) of each distinct (AS, organisation).
    systems: Vec<(String, NetworkType)>,
}

impl std::fmt::Debug for AsnTable {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AsnTable")
            .field("ranges", &self.ranges.len())
            .field("systems", &self.systems.len())
            .finish()
    }
}

impl AsnTable {
    /// Reads `first,last,asn,organisation` rows (numeric addresses) from the file at `path`.
    pub fn open(path: &Path) -> Result<Self, String> {
        let file = std::fs::File::open(path)
            .map_err(|e| format!("cannot open the IP to ASN table {}: {e}", path.display()))?;
        Self::read(std::io::BufReader::new(file)).map_err(|e| format!("{}: {e}", path.display()))
    }

    /// Reads the table's rows from `input`; a malformed row is an error naming its line.
    pub fn read(input: impl std::io::Read) -> Result<Self, String> {
        let mut reader = csv::ReaderBuilder::new()
            .has_headers(false)
            .flexible(true)
            .from_reader(input);
        let mut ranges = Vec::new();
        let mut systems: Vec<(String, NetworkType)> = Vec::new();
        // The systems seen under each AS number (nearly always one organisation).
        let mut known: HashMap<u32, Vec<u32>> = HashMap::new();
        let mut row = csv::ByteRecord::new();
        let mut line = 0_u64;
        while reader
            .read_byte_record(&mut row)
            .map_err(|e| e.to_string())?
        {
            line += 1;
            let number = |index: usize| {
                row.get(index)
                    .and_then(|field| std::str::from_utf8(field).ok())
                    .and_then(|text| text.trim().parse::<u32>().ok())
                    .ok_or_else(|| format!("line {line}: column {} is not a number", index + 1))
            };
            let (first, last, asn) = (number(0)?, number(1)?, number(2)?);
            if last < first {
                return Err(format!("line {line}: the range ends before it starts"));
            }
            let organization = String::from_utf8_lossy(row.get(3).unwrap_or_default());
            let organization = organization.trim();
            let same = known.entry(asn).or_default();
            let system = match same
                .iter()
                .find(|index| systems[**index as usize].0 == organization)
            {
                Some(index) => *index,
                None => {
                    let index = u32::try_from(systems.len()).map_err(|e| e.to_string())?;
                    systems.push((organization.to_string(), network_type(asn, organization)));
                    same.push(index);
                    index
                }
            };
            ranges.push(Range {
                first,
                last,
                asn,
                system,
            });
        }
        ranges.sort_unstable_by_key(|range| range.first);
        Ok(Self { ranges, systems })
    }

    pub fn len(&self) -> usize {
        self.ranges.len()
    }

    pub fn is_empty(&self) -> bool {
        self.ranges.is_empty()
    }

    /// The AS `address` belongs to, if any range holds it.
    pub fn lookup(&self, address: Ipv4Addr) -> Option<AutonomousSystem> {
        let address = u32::from(address);
        let after = self.ranges.partition_point(|range| range.first <= address);
        let range = self.ranges.get(after.checked_sub(1)?)?;
        if address > range.last {
            return None;
        }
        let (organization, network_type) = self.systems.get(range.system as usize)?;
        Some(AutonomousSystem {
            number: range.asn,
            organization: organization.clone(),
            network_type: *network_type,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const ROWS: &str = "16777216,16777471,13335,\"Cloudflare, Inc.\"\n\
        629276672,629277695,3320,Deutsche Telekom AG\n\
        1488977920,1489043455,24940,Hetzner Online GmbH\n\
        1500000000,1500000255,64512,Example Server Rentals\n";

    fn address(text: &str) -> Ipv4Addr {
        text.parse().expect("an address")
    }

    #[test]
    fn an_address_gets_its_system_and_one_between_ranges_none() {
        let table = AsnTable::read(ROWS.as_bytes()).expect("reads");
        assert_eq!(table.len(), 4);
        let cloudflare = table.lookup(address("1.0.0.1")).expect("in a range");
        assert_eq!(cloudflare.number, 13335);
        assert_eq!(cloudflare.organization, "Cloudflare, Inc.");
        assert_eq!(cloudflare.network_type, NetworkType::Hosting);
        // 629276672 is 37.130.0.0.
        let telekom = table.lookup(address("37.130.3.255")).expect("last address");
        assert_eq!(
            (telekom.number, telekom.network_type),
            (3320, NetworkType::Isp)
        );
        assert_eq!(table.lookup(address("37.130.4.0")), None, "after the range");
        assert_eq!(
            table.lookup(address("0.255.255.255")),
            None,
            "before the first"
        );
        assert_eq!(
            table.lookup(address("255.255.255.255")),
            None,
            "after the last"
        );
        let named = table.lookup(address("89.104.47.0")).expect("by its name");
        assert_eq!(named.network_type, NetworkType::Hosting);
    }

    #[test]
    fn a_malformed_row_is_refused_with_its_line() {
        let error = AsnTable::read("1,2,3,A\n5,x,6,B\n".as_bytes()).expect_err("refused");
        assert!(
            error.contains("line 2") && error.contains("column 2"),
            "{error}"
        );
        let error = AsnTable::read("9,2,3,A\n".as_bytes()).expect_err("refused");
        assert!(error.contains("ends before it starts"), "{error}");
    }

    #[test]
    fn the_fetched_table_knows_hosting_and_access_networks() {
        let table = AsnTable::open(&default_path()).expect("make setup fetches it");
        assert!(table.len() > 100_000, "{} ranges", table.len());
        let hetzner = table.lookup(address("88.198.10.7")).expect("Hetzner");
        assert_eq!(
            (hetzner.number, hetzner.network_type),
            (24940, NetworkType::Hosting)
        );
        let telekom = table.lookup(address("79.219.40.7")).expect("Telekom");
        assert_eq!(
            (telekom.number, telekom.network_type),
            (3320, NetworkType::Isp)
        );
    }
}
