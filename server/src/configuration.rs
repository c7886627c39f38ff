//! Typed settings. Sources, later ones winning: built-in defaults (which start the embedded
//! local stack's values), an optional TOML file, `MESHMART__SECTION__KEY` environment
//! variables, and the conventional `DATABASE_URL` / `KAFKA_BOOTSTRAP_SERVERS`.
//!
//! Everything is validated at start-up; a bad value stops the process with one line that
//! names the setting and how to set it. Secrets are `SecretString`, so `Debug` hides them.

use std::net::{IpAddr, SocketAddr};
use std::path::{Path, PathBuf};
use std::str::FromStr;

use config::{Config, Environment, File};
use domain::broker::BrokerConfig;
use ipnet::IpNet;
use secrecy::{ExposeSecret, SecretString};
use serde::Deserialize;
use sqlx::PgPool;
use sqlx::postgres::PgConnectOptions;

/// All settings of the `meshmart` process.
#[derive(Clone, Debug, Deserialize)]
pub struct Settings {
    pub server: ServerSettings,
    pub database: DatabaseSettings,
    pub kafka: KafkaSettings,
    pub auth: AuthSettings,
    pub search: SearchSettings,
    pub provisioning: ProvisioningSettings,
    pub log: LogSettings,
    #[serde(default)]
    pub metrics: MetricsSettings,
    pub checker: CheckerSettings,
    #[serde(default)]
    pub webhooks: WebhookSettings,
}

/// Users' webhooks (`domain::webhooks`).
#[derive(Clone, Debug, Default, Deserialize)]
pub struct WebhookSettings {
    /// Let webhooks target loopback and private networks (a local demo); off by default,
    /// so a webhook cannot reach into the deployment's own network.
    #[serde(default)]
    pub allow_private_targets: bool,
}

/// The record checker: a consumer group over every product topic.
#[derive(Clone, Debug, Deserialize)]
pub struct CheckerSettings {
    /// Whether this process joins the checker group (and measures subscriptions' lag).
    pub enabled: bool,
    /// The consumer group; every process of one deployment uses the same one.
    pub group: String,
    /// Records larger than this are counted as `too_large` without being decoded; the
    /// broker's `message.max.bytes` by default.
    pub max_record_bytes: usize,
    /// Consumers (each a member of the group, on a thread of its own) this process runs;
    /// 0, the default, means one per core and one more.
    #[serde(default)]
    pub consumers: usize,
    /// librdkafka properties for the checker's consumers, over Meshmart's own, written
    /// with `_` for `.` (`MESHMART__CHECKER__CLIENT__QUEUED_MIN_MESSAGES=1000000`):
    /// tuning for a deployment's broker and record sizes. Never logged: a value may be a
    /// secret.
    #[serde(default)]
    pub client: std::collections::BTreeMap<String, SecretString>,
}

/// Who may read `/metrics`.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(default)]
pub struct MetricsSettings {
    /// When set, scrapers send `Authorization: Bearer <token>` and may read from anywhere;
    /// when unset, only clients on this machine's loopback interface may read.
    pub token: Option<SecretString>,
}

/// Sessions and login throttling.
#[derive(Clone, Debug, Deserialize)]
pub struct AuthSettings {
    /// A session ends after this long without a request.
    pub session_idle_minutes: u32,
    /// A session ends this long after sign-in, however active.
    pub session_absolute_hours: u32,
    /// Login attempts one account may make in a burst.
    pub login_burst_per_account: u32,
    /// Login attempts one client address may make in a burst.
    pub login_burst_per_ip: u32,
    /// Seconds for one spent login attempt to come back.
    pub login_refill_seconds: u32,
}

/// Where and what the web server serves.
#[derive(Clone, Debug, Deserialize)]
pub struct ServerSettings {
    /// Address to listen on.
    pub host: IpAddr,
    /// Port to listen on; 0 picks a free one (tests).
    pub port: u16,
    /// Folder with the built site: `pkg/` (wasm, JS, CSS) and `assets/`.
    pub site_root: PathBuf,
    /// The address people use to reach Meshmart; `https://` makes session cookies Secure.
    pub public_url: String,
    /// Addresses or networks (`10.0.0.0/8`) of the load balancers or reverse proxies in
    /// front of this process, comma-separated. A request from one of them is taken to come from the right-most
    /// address in its `X-Forwarded-For` that is not itself a trusted proxy (the login
    /// throttle counts it, the audit log records it, `/metrics` without a token is only
    /// open to loopback clients). Empty, the default: the header is ignored.
    #[serde(default)]
    pub trusted_proxies: String,
}

impl ServerSettings {
    /// The trusted proxies' networks (validated at start-up, so none is dropped here).
    pub fn trusted_proxies(&self) -> Vec<IpNet> {
        self.parse_trusted_proxies().unwrap_or_default()
    }

    fn parse_trusted_proxies(&self) -> Result<Vec<IpNet>, String> {
        self.trusted_proxies
            .split(',')
            .map(str::trim)
            .filter(|item| !item.is_empty())
            .map(|item| {
                item.parse::<IpNet>()
                    .or_else(|_| item.parse::<IpAddr>().map(IpNet::from))
                    .map_err(|_| format!("`{item}` is neither an IP address nor a network"))
            })
            .collect()
    }

    /// Whether cookies must only travel over HTTPS.
    pub fn secure_cookies(&self) -> bool {
        self.public_url.starts_with("https://")
    }
}

/// The PostgreSQL database that holds every fact.
#[derive(Clone, Debug, Deserialize)]
pub struct DatabaseSettings {
    /// `postgres://user:password@host:port/database`.
    pub url: SecretString,
    /// Size of the one connection pool.
    pub max_connections: u32,
}

/// The Kafka-protocol broker, reached as Meshmart's admin principal.
#[derive(Clone, Debug, Deserialize)]
pub struct KafkaSettings {
    pub bootstrap_servers: String,
    pub security_protocol: String,
    pub sasl_mechanism: String,
    pub username: String,
    pub password: SecretString,
    /// Replication factor of the topics Meshmart creates.
    pub replication_factor: i32,
}

/// The search index.
#[derive(Clone, Debug, Deserialize)]
pub struct SearchSettings {
    /// The directory of this process's Tantivy index (created when missing).
    pub index_dir: PathBuf,
    /// How often the index is compared with PostgreSQL in full, as a safety net behind the
    /// change notifications.
    pub sync_interval_seconds: u64,
}

/// Broker ACLs: the reconciler that keeps them equal to the policy, and the expiry job.
#[derive(Clone, Debug, Deserialize)]
pub struct ProvisioningSettings {
    /// How often the reconciler compares the broker's managed ACLs with the policy (and
    /// subscriptions past their end date are expired).
    pub reconcile_interval_seconds: u64,
    /// Log and audit drift without repairing it.
    pub reconcile_dry_run: bool,
}

/// Log output.
#[derive(Clone, Debug, Deserialize)]
pub struct LogSettings {
    pub format: LogFormat,
}

/// Human-readable lines for development, JSON lines for production.
#[derive(Clone, Copy, Debug, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    Pretty,
    Json,
}

/// Why the settings could not be used.
#[derive(Debug, thiserror::Error)]
pub enum SettingsError {
    #[error("invalid configuration: {0}")]
    Source(#[from] config::ConfigError),
    #[error("invalid setting `{key}` ({env}): {reason}")]
    Invalid {
        key: &'static str,
        env: &'static str,
        reason: String,
    },
}

const SECURITY_PROTOCOLS: [&str; 4] = ["PLAINTEXT", "SASL_PLAINTEXT", "SSL", "SASL_SSL"];

impl Settings {
    /// Reads every source and validates the result.
    pub fn load(file: Option<&Path>) -> Result<Self, SettingsError> {
        Self::from_sources(file, |name| std::env::var(name).ok())
    }

    /// Like `load`, reading conventional variables through `var` (tests pass their own).
    fn from_sources(
        file: Option<&Path>,
        var: impl Fn(&str) -> Option<String>,
    ) -> Result<Self, SettingsError> {
        let mut builder = Config::builder()
            .set_default("server.host", "127.0.0.1")?
            .set_default("server.port", 3000)?
            .set_default("server.site_root", "target/site")?
            .set_default("server.public_url", "http://127.0.0.1:3000")?
            .set_default("auth.session_idle_minutes", 120)?
            .set_default("auth.session_absolute_hours", 12)?
            .set_default("auth.login_burst_per_account", 10)?
            .set_default("auth.login_burst_per_ip", 100)?
            .set_default("auth.login_refill_seconds", 30)?
            .set_default(
                "database.url",
                "postgres://postgres@127.0.0.1:54329/meshmart",
            )?
            .set_default("database.max_connections", 10)?
            .set_default("kafka.bootstrap_servers", "127.0.0.1:19092")?
            .set_default("kafka.security_protocol", "SASL_PLAINTEXT")?
            .set_default("kafka.sasl_mechanism", "PLAIN")?
            .set_default("kafka.username", "meshmart-admin")?
            .set_default("kafka.password", "meshmart-admin-secret")?
            .set_default("kafka.replication_factor", 1)?
            .set_default("search.index_dir", ".data/search")?
            .set_default("search.sync_interval_seconds", 60)?
            .set_default("provisioning.reconcile_interval_seconds", 30)?
            .set_default("provisioning.reconcile_dry_run", false)?
            .set_default("log.format", "pretty")?
            .set_default("checker.enabled", true)?
            .set_default("checker.group", "meshmart-checker")?
            .set_default(
                "checker.max_record_bytes",
                domain::health::DEFAULT_MAX_RECORD_BYTES as i64,
            )?;
        builder = match file {
            Some(path) => builder.add_source(File::from(path).required(true)),
            None => builder.add_source(File::with_name("meshmart").required(false)),
        };
        builder = builder.add_source(
            Environment::with_prefix("MESHMART")
                .prefix_separator("__")
                .separator("__"),
        );
        if let Some(url) = var("DATABASE_URL") {
            builder = builder.set_override("database.url", url)?;
        }
        if let Some(servers) = var("KAFKA_BOOTSTRAP_SERVERS") {
            builder = builder.set_override("kafka.bootstrap_servers", servers)?;
        }
        let settings: Settings = builder.build()?.try_deserialize()?;
        settings.validate()?;
        Ok(settings)
    }

    fn validate(&self) -> Result<(), SettingsError> {
        self.database.connect_options()?;
        if self.database.max_connections == 0 {
            return Err(invalid(
                "database.max_connections",
                "MESHMART__DATABASE__MAX_CONNECTIONS",
                "must be at least 1",
            ));
        }
        if !(self.server.public_url.starts_with("http://")
            || self.server.public_url.starts_with("https://"))
        {
            return Err(invalid(
                "server.public_url",
                "MESHMART__SERVER__PUBLIC_URL",
                "must start with http:// or https://",
            ));
        }
        if let Err(reason) = self.server.parse_trusted_proxies() {
            return Err(invalid(
                "server.trusted_proxies",
                "MESHMART__SERVER__TRUSTED_PROXIES",
                reason,
            ));
        }
        if self.auth.session_idle_minutes == 0 || self.auth.session_absolute_hours == 0 {
            return Err(invalid(
                "auth.session_idle_minutes",
                "MESHMART__AUTH__SESSION_IDLE_MINUTES",
                "session lifetimes must be at least 1",
            ));
        }
        if self.provisioning.reconcile_interval_seconds == 0 {
            return Err(invalid(
                "provisioning.reconcile_interval_seconds",
                "MESHMART__PROVISIONING__RECONCILE_INTERVAL_SECONDS",
                "must be at least 1",
            ));
        }
        // Exact counting and the principal depend on these; a deployment tunes fetching,
        // never them.
        const MESHMART_OWN: [&str; 10] = [
            "bootstrap.servers",
            "security.protocol",
            "sasl.mechanisms",
            "sasl.username",
            "sasl.password",
            "group.id",
            "isolation.level",
            "enable.auto.commit",
            "enable.auto.offset.store",
            "auto.offset.reset",
        ];
        if let Some(property) = self
            .checker
            .client
            .keys()
            .map(|key| key.replace('_', "."))
            .find(|property| MESHMART_OWN.contains(&property.as_str()))
        {
            return Err(invalid(
                "checker.client",
                "MESHMART__CHECKER__CLIENT__*",
                format!(
                    "`{property}` is set by Meshmart itself (the principal or exact counting depend on it)"
                ),
            ));
        }
        if self.search.sync_interval_seconds == 0 {
            return Err(invalid(
                "search.sync_interval_seconds",
                "MESHMART__SEARCH__SYNC_INTERVAL_SECONDS",
                "must be at least 1",
            ));
        }
        if self
            .metrics
            .token
            .as_ref()
            .is_some_and(|token| token.expose_secret().trim().len() < 16)
        {
            return Err(invalid(
                "metrics.token",
                "MESHMART__METRICS__TOKEN",
                "must be at least 16 characters",
            ));
        }
        self.kafka.validate()
    }

    /// The address the server listens on.
    pub fn listen_addr(&self) -> SocketAddr {
        SocketAddr::new(self.server.host, self.server.port)
    }
}

impl DatabaseSettings {
    /// Parses the URL; the error never repeats it, since it may hold a password.
    pub fn connect_options(&self) -> Result<PgConnectOptions, SettingsError> {
        let url = self.url.expose_secret();
        if !(url.starts_with("postgres://") || url.starts_with("postgresql://")) {
            return Err(invalid(
                "database.url",
                "DATABASE_URL",
                "must start with postgres:// or postgresql://",
            ));
        }
        PgConnectOptions::from_str(url).map_err(|error| {
            let reason = match error {
                sqlx::Error::Configuration(source) => format!("not a valid URL ({source})"),
                _ => "not a valid URL".to_string(),
            };
            invalid("database.url", "DATABASE_URL", reason)
        })
    }

    /// The process-wide pool; it connects on first use.
    pub fn pool(&self) -> PgPool {
        // Validated at load time, so the options parse.
        let options = self
            .connect_options()
            .unwrap_or_else(|_| PgConnectOptions::new());
        domain::db::lazy_pool(options, self.max_connections)
    }
}

impl KafkaSettings {
    fn validate(&self) -> Result<(), SettingsError> {
        let servers: Vec<&str> = self.bootstrap_servers.split(',').map(str::trim).collect();
        for server in &servers {
            let port_ok = server
                .rsplit_once(':')
                .is_some_and(|(host, port)| !host.is_empty() && port.parse::<u16>().is_ok());
            if !port_ok {
                return Err(invalid(
                    "kafka.bootstrap_servers",
                    "KAFKA_BOOTSTRAP_SERVERS",
                    format!("`{server}` is not host:port (expected a comma-separated list)"),
                ));
            }
        }
        if !SECURITY_PROTOCOLS.contains(&self.security_protocol.as_str()) {
            return Err(invalid(
                "kafka.security_protocol",
                "MESHMART__KAFKA__SECURITY_PROTOCOL",
                format!("must be one of {}", SECURITY_PROTOCOLS.join(", ")),
            ));
        }
        Ok(())
    }

    /// The domain's view of the broker connection.
    pub fn broker_config(&self) -> BrokerConfig {
        BrokerConfig {
            bootstrap_servers: self.bootstrap_servers.clone(),
            security_protocol: self.security_protocol.clone(),
            sasl_mechanism: self.sasl_mechanism.clone(),
            username: self.username.clone(),
            password: self.password.clone(),
        }
    }
}

fn invalid(key: &'static str, env: &'static str, reason: impl Into<String>) -> SettingsError {
    SettingsError::Invalid {
        key,
        env,
        reason: reason.into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn load_with(vars: &[(&str, &str)]) -> Result<Settings, SettingsError> {
        let vars: Vec<(String, String)> = vars
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        Settings::from_sources(None, |name| {
            vars.iter().find(|(k, _)| k == name).map(|(_, v)| v.clone())
        })
    }

    #[test]
    fn defaults_point_at_the_embedded_local_stack() {
        let settings = load_with(&[]).expect("defaults are valid");
        assert_eq!(settings.listen_addr().to_string(), "127.0.0.1:3000");
        assert_eq!(settings.kafka.bootstrap_servers, "127.0.0.1:19092");
        let options = settings
            .database
            .connect_options()
            .expect("default url parses");
        assert_eq!(options.get_port(), 54329);
    }

    #[test]
    fn conventional_variables_override_defaults() {
        let settings = load_with(&[
            ("DATABASE_URL", "postgres://app:pw@db.internal:6543/mesh"),
            ("KAFKA_BOOTSTRAP_SERVERS", "k1:9092,k2:9092"),
        ])
        .expect("valid overrides");
        let options = settings.database.connect_options().expect("url parses");
        assert_eq!(options.get_host(), "db.internal");
        assert_eq!(settings.kafka.bootstrap_servers, "k1:9092,k2:9092");
    }

    #[test]
    fn malformed_database_url_names_the_setting_without_echoing_it() {
        let error = load_with(&[("DATABASE_URL", "postgres://user:s3cret@host:notaport/db")])
            .expect_err("bad port must be refused");
        let message = error.to_string();
        assert!(message.contains("`database.url`"), "{message}");
        assert!(message.contains("DATABASE_URL"), "{message}");
        assert!(!message.contains("s3cret"), "password leaked: {message}");

        let error = load_with(&[("DATABASE_URL", "mysql://localhost/db")]).expect_err("scheme");
        assert!(error.to_string().contains("postgres://"), "{error}");
    }

    #[test]
    fn trusted_proxies_are_addresses_or_networks_and_anything_else_is_named() {
        let mut settings = load_with(&[]).expect("defaults are valid");
        assert!(
            settings.server.trusted_proxies().is_empty(),
            "none by default"
        );
        settings.server.trusted_proxies = " 10.0.0.0/8, 192.0.2.7,,fd00::/8 ".to_string();
        settings.validate().expect("valid");
        let nets: Vec<String> = settings
            .server
            .trusted_proxies()
            .iter()
            .map(ToString::to_string)
            .collect();
        assert_eq!(nets, ["10.0.0.0/8", "192.0.2.7/32", "fd00::/8"]);

        settings.server.trusted_proxies = "10.0.0.1, lb.internal".to_string();
        let message = settings.validate().expect_err("a host name").to_string();
        assert!(message.contains("`server.trusted_proxies`"), "{message}");
        assert!(
            message.contains("MESHMART__SERVER__TRUSTED_PROXIES"),
            "{message}"
        );
        assert!(message.contains("`lb.internal`"), "{message}");
    }

    #[test]
    fn malformed_bootstrap_servers_are_refused() {
        let error = load_with(&[("KAFKA_BOOTSTRAP_SERVERS", "localhost")]).expect_err("no port");
        let message = error.to_string();
        assert!(message.contains("`kafka.bootstrap_servers`"), "{message}");
        assert!(
            message.contains("`localhost` is not host:port"),
            "{message}"
        );
    }

    #[test]
    fn checker_client_properties_are_read_and_never_shown() {
        let dir = std::env::temp_dir().join(format!("meshmart-settings-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("a scratch directory");
        let file = dir.join("meshmart.toml");
        std::fs::write(
            &file,
            "[checker.client]\nmax_partition_fetch_bytes = 4194304\nssl_key_password = \"hunter3\"\n",
        )
        .expect("written");
        let settings = Settings::from_sources(Some(&file), |_| None).expect("valid");
        let client = &settings.checker.client;
        assert_eq!(
            client
                .get("max_partition_fetch_bytes")
                .map(|v| v.expose_secret()),
            Some("4194304")
        );
        let debug = format!("{settings:?}");
        assert!(!debug.contains("hunter3"), "{debug}");
        std::fs::write(
            &file,
            "[checker.client]\nisolation_level = \"read_uncommitted\"\n",
        )
        .expect("written");
        let error = Settings::from_sources(Some(&file), |_| None).expect_err("refused");
        assert!(error.to_string().contains("`isolation.level`"), "{error}");
        let _ = std::fs::remove_dir_all(dir);
    }

    #[test]
    fn secrets_do_not_show_in_debug_output() {
        let settings = load_with(&[("DATABASE_URL", "postgres://u:hunter2@h:1/d")]).expect("ok");
        let debug = format!("{settings:?}");
        assert!(!debug.contains("hunter2"), "{debug}");
        assert!(!debug.contains("meshmart-admin-secret"), "{debug}");
    }
}
