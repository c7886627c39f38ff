//! The connection to the Kafka-protocol broker, as Meshmart's admin principal: "is the
//! broker there, and does it accept our credentials?", topic creation, ACL management
//! (create, describe, delete), SCRAM credentials of service accounts, and moving a
//! consumer group's offsets ([`groups`]).
//!
//! The ACL and SCRAM calls have no rust-rdkafka API; the `kafka-admin` crate wraps
//! librdkafka's C functions for them (it holds the workspace's only `unsafe` code). Its
//! modules are re-exported here as [`acl`] and [`scram`], so callers name the types as
//! `domain::broker::acl::AclBinding` and never depend on that crate themselves.
//!
//! Passwords Meshmart hands out for principals it runs itself (the domains' producer
//! principals) are derived from its own broker password with HMAC-SHA256 and a label
//! ([`derive_password`]): whoever can derive them already is the broker's super user, and
//! nothing secret lands in the database.

pub use kafka_admin::{acl, scram};

/// The broker's name for the cluster resource (IDEMPOTENT_WRITE is granted on it).
pub const CLUSTER: &str = "kafka-cluster";

pub mod groups;

use std::sync::Arc;
use std::time::Duration;

use rdkafka::admin::{AdminClient, AdminOptions, NewTopic, TopicReplication};
use rdkafka::client::DefaultClientContext;
use rdkafka::config::{ClientConfig, RDKafkaLogLevel};
use rdkafka::types::RDKafkaErrorCode;
use secrecy::{ExposeSecret, SecretString};

/// How Meshmart reaches the broker.
#[derive(Clone, Debug)]
pub struct BrokerConfig {
    /// Comma-separated `host:port` list.
    pub bootstrap_servers: String,
    /// `PLAINTEXT`, `SASL_PLAINTEXT`, `SSL` or `SASL_SSL`.
    pub security_protocol: String,
    /// SASL mechanism, e.g. `PLAIN`; ignored without SASL.
    pub sasl_mechanism: String,
    /// SASL user of Meshmart's admin principal.
    pub username: String,
    /// SASL password of Meshmart's admin principal.
    pub password: SecretString,
}

impl BrokerConfig {
    fn uses_sasl(&self) -> bool {
        self.security_protocol.starts_with("SASL")
    }

    /// The librdkafka configuration for an admin client. Never log it: it holds the password.
    fn client_config(&self) -> ClientConfig {
        let mut config = ClientConfig::new();
        config
            .set("bootstrap.servers", &self.bootstrap_servers)
            .set("security.protocol", &self.security_protocol)
            .set("client.id", "meshmart")
            // Notice a restarted broker quickly: readiness must recover within seconds.
            .set("reconnect.backoff.max.ms", "2000")
            .set_log_level(RDKafkaLogLevel::Warning);
        if self.uses_sasl() {
            config
                .set("sasl.mechanisms", &self.sasl_mechanism)
                .set("sasl.username", &self.username)
                .set("sasl.password", self.password.expose_secret());
        }
        config
    }

    /// A consumer's configuration as Meshmart's principal in `group`, reading only committed
    /// records. Never log it: it holds the password.
    pub fn consumer_config(&self, client_id: &str, group: &str) -> ClientConfig {
        let mut config = self.client_config();
        config
            .set("client.id", client_id)
            .set("group.id", group)
            .set("isolation.level", "read_committed")
            .set("enable.partition.eof", "false");
        config
    }

    /// The password derived for `label` from Meshmart's own (see [`derive_password`]).
    pub fn derived_password(&self, label: &str) -> SecretString {
        derive_password(&self.password, label)
    }

    /// Whether principals other than Meshmart's can authenticate (SASL); without it every
    /// client is `User:ANONYMOUS` and per-domain principals mean nothing.
    pub fn authenticates(&self) -> bool {
        self.uses_sasl()
    }

    /// A client's configuration authenticating as `username` with SCRAM-SHA-512 (a
    /// producer or node principal), named `client_id`. Never log it: it holds the password.
    pub fn client_config_as(
        &self,
        client_id: &str,
        username: &str,
        password: &SecretString,
    ) -> ClientConfig {
        let mut config = self.client_config();
        config.set("client.id", client_id);
        if self.uses_sasl() {
            config
                .set("sasl.mechanisms", "SCRAM-SHA-512")
                .set("sasl.username", username)
                .set("sasl.password", password.expose_secret());
        }
        config
    }

    /// An idempotent producer (`acks=all`) authenticating as `username` with SCRAM-SHA-512
    /// (a producer principal), named `client_id`.
    pub fn producer_as(
        &self,
        client_id: &str,
        username: &str,
        password: &SecretString,
    ) -> Result<rdkafka::producer::FutureProducer, BrokerError> {
        let mut config = self.client_config();
        config
            .set("sasl.mechanisms", "SCRAM-SHA-512")
            .set("sasl.username", username)
            .set("sasl.password", password.expose_secret());
        producer_settings(config, client_id)
    }

    /// An idempotent producer (`acks=all`) as Meshmart's principal, named `client_id`.
    /// Like the admin client it connects in the background; only a malformed configuration
    /// fails here.
    pub fn producer(
        &self,
        client_id: &str,
    ) -> Result<rdkafka::producer::FutureProducer, BrokerError> {
        self.producer_config(client_id)
            .create()
            .map_err(BrokerError::Config)
    }

    /// The configuration of an idempotent producer (`acks=all`) as Meshmart's principal.
    /// Never log it: it holds the password.
    pub fn producer_config(&self, client_id: &str) -> ClientConfig {
        let mut config = self.client_config();
        producer_config(&mut config, client_id);
        config
    }
}

fn producer_settings(
    mut config: ClientConfig,
    client_id: &str,
) -> Result<rdkafka::producer::FutureProducer, BrokerError> {
    producer_config(&mut config, client_id);
    config.create().map_err(BrokerError::Config)
}

/// An idempotent producer's settings (`acks=all`), named `client_id`.
fn producer_config(config: &mut ClientConfig, client_id: &str) {
    config
        .set("client.id", client_id)
        .set("enable.idempotence", "true")
        .set("acks", "all")
        // Batch a little: demo rates are low, and a few ms of latency is invisible.
        .set("linger.ms", "5")
        .set("message.timeout.ms", "30000");
}

/// HMAC-SHA256 of `label` keyed with `secret`, as 64 hex digits: a password that only the
/// holder of `secret` can compute, different for every label.
pub fn derive_password(secret: &SecretString, label: &str) -> SecretString {
    use hmac::{Hmac, Mac};

    // HMAC takes a key of any length, so this cannot fail; an empty tag would only make a
    // password the broker refuses.
    let tag = Hmac::<sha2::Sha256>::new_from_slice(secret.expose_secret().as_bytes())
        .map(|mut mac| {
            mac.update(label.as_bytes());
            mac.finalize().into_bytes().to_vec()
        })
        .unwrap_or_default();
    SecretString::from(tag.iter().map(|b| format!("{b:02x}")).collect::<String>())
}

/// Errors talking to the broker.
#[derive(Debug, thiserror::Error)]
pub enum BrokerError {
    #[error("invalid broker configuration: {0}")]
    Config(#[source] rdkafka::error::KafkaError),
    #[error("broker unreachable: {0}")]
    Unreachable(#[source] rdkafka::error::KafkaError),
    #[error("broker check was cancelled")]
    Cancelled,
    #[error("broker refused: {0}")]
    Refused(String),
    #[error("broker did not answer within {0:?}")]
    TimedOut(Duration),
}

impl From<acl::AclError> for BrokerError {
    fn from(error: acl::AclError) -> Self {
        match error {
            acl::AclError::TimedOut => BrokerError::TimedOut(ACL_TIMEOUT),
            other => BrokerError::Refused(other.to_string()),
        }
    }
}

/// How long one ACL call may wait for the broker.
pub const ACL_TIMEOUT: Duration = Duration::from_secs(5);

/// What a successful broker check saw.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct BrokerStatus {
    /// Brokers in the cluster metadata.
    pub brokers: usize,
    /// Topics visible to Meshmart's principal.
    pub topics: usize,
}

/// Meshmart's admin connection to the broker; cheap to clone.
#[derive(Clone)]
pub struct BrokerAdmin {
    client: Arc<AdminClient<DefaultClientContext>>,
    /// The admin principal's client settings, for the consumers a replay uses.
    config: Arc<ClientConfig>,
    /// Meshmart's own (super) user, which no service account may become.
    admin_user: Arc<str>,
    /// Meshmart's own password: the key of [`derive_password`].
    secret: SecretString,
}

impl BrokerAdmin {
    /// Creates the admin client. It connects in the background, so this succeeds while the
    /// broker is down; only a malformed configuration fails here.
    pub fn new(config: &BrokerConfig) -> Result<Self, BrokerError> {
        let settings = config.client_config();
        let client = settings
            .create::<AdminClient<DefaultClientContext>>()
            .map_err(BrokerError::Config)?;
        Ok(Self {
            client: Arc::new(client),
            config: Arc::new(settings),
            admin_user: Arc::from(config.username.as_str()),
            secret: config.password.clone(),
        })
    }

    /// Asks the broker for its metadata, as the admin principal, within `timeout`.
    #[tracing::instrument(skip_all)]
    pub async fn check(&self, timeout: Duration) -> Result<BrokerStatus, BrokerError> {
        let client = Arc::clone(&self.client);
        // librdkafka's metadata call blocks its thread until the broker answers.
        tokio::task::spawn_blocking(move || {
            client
                .inner()
                .fetch_metadata(None, timeout)
                .map(|metadata| BrokerStatus {
                    brokers: metadata.brokers().len(),
                    topics: metadata.topics().len(),
                })
                .map_err(BrokerError::Unreachable)
        })
        .await
        .map_err(|_| BrokerError::Cancelled)?
    }

    /// Creates a topic; an existing topic counts as success (idempotent).
    #[tracing::instrument(skip(self))]
    pub async fn create_topic(
        &self,
        name: &str,
        partitions: i32,
        replication: i32,
        retention_ms: i64,
    ) -> Result<(), BrokerError> {
        let retention = retention_ms.to_string();
        let topic = NewTopic::new(name, partitions, TopicReplication::Fixed(replication))
            .set("retention.ms", &retention);
        let options = AdminOptions::new()
            .operation_timeout(Some(Duration::from_secs(10)))
            // An unreachable broker fails the call instead of holding the outbox worker.
            .request_timeout(Some(ACL_TIMEOUT));
        let results = self
            .client
            .create_topics([&topic], &options)
            .await
            .map_err(BrokerError::Unreachable)?;
        for result in results {
            match result {
                Ok(_) | Err((_, RDKafkaErrorCode::TopicAlreadyExists)) => {}
                Err((topic, code)) => {
                    return Err(BrokerError::Refused(format!(
                        "creating topic {topic}: {code}"
                    )));
                }
            }
        }
        Ok(())
    }

    /// Whether the topic exists on the broker.
    pub async fn topic_exists(&self, name: &str, timeout: Duration) -> Result<bool, BrokerError> {
        let client = Arc::clone(&self.client);
        let name = name.to_string();
        tokio::task::spawn_blocking(move || {
            client
                .inner()
                .fetch_metadata(Some(&name), timeout)
                .map(|metadata| {
                    metadata
                        .topics()
                        .iter()
                        .any(|t| t.name() == name && t.error().is_none())
                })
                .map_err(BrokerError::Unreachable)
        })
        .await
        .map_err(|_| BrokerError::Cancelled)?
    }

    /// Creates ACLs; existing ones stay as they are (idempotent).
    pub async fn create_acls(&self, bindings: Vec<acl::AclBinding>) -> Result<(), BrokerError> {
        let client = Arc::clone(&self.client);
        tokio::task::spawn_blocking(move || acl::create_acls(&client, &bindings, ACL_TIMEOUT))
            .await
            .map_err(|_| BrokerError::Cancelled)?
            .map_err(BrokerError::from)
    }

    /// The ACLs that match `filter`.
    pub async fn describe_acls(
        &self,
        filter: acl::AclFilter,
    ) -> Result<Vec<acl::AclBinding>, BrokerError> {
        let client = Arc::clone(&self.client);
        tokio::task::spawn_blocking(move || acl::describe_acls(&client, &filter, ACL_TIMEOUT))
            .await
            .map_err(|_| BrokerError::Cancelled)?
            .map_err(BrokerError::from)
    }

    /// Deletes the ACLs that match any of `filters`; returns those deleted.
    pub async fn delete_acls(
        &self,
        filters: Vec<acl::AclFilter>,
    ) -> Result<Vec<acl::AclBinding>, BrokerError> {
        let client = Arc::clone(&self.client);
        tokio::task::spawn_blocking(move || acl::delete_acls(&client, &filters, ACL_TIMEOUT))
            .await
            .map_err(|_| BrokerError::Cancelled)?
            .map_err(BrokerError::from)
    }

    /// Moves `group`'s committed offsets on `topic` to `to` ([`groups::rewind`]).
    pub async fn rewind_group(
        &self,
        group: &str,
        topic: &str,
        to: groups::Position,
    ) -> Result<Vec<groups::Moved>, groups::RewindError> {
        let config = Arc::clone(&self.config);
        let (group, topic) = (group.to_string(), topic.to_string());
        tokio::task::spawn_blocking(move || {
            groups::rewind(&config, &group, &topic, to, Duration::from_secs(10))
        })
        .await
        .map_err(|_| groups::RewindError::Broker("the replay was cancelled".to_string()))?
    }

    /// The admin principal's client settings, for a blocking client of its own (never log
    /// them: they hold the password).
    pub fn client_settings(&self) -> ClientConfig {
        ClientConfig::clone(&self.config)
    }

    /// The password derived for `label` from Meshmart's own (see [`derive_password`]).
    pub fn derived_password(&self, label: &str) -> SecretString {
        derive_password(&self.secret, label)
    }

    /// Meshmart's own broker user.
    pub fn admin_user(&self) -> &str {
        &self.admin_user
    }

    /// Creates or replaces `user`'s SCRAM-SHA-512 credential.
    pub async fn upsert_scram(&self, user: &str, password: &str) -> Result<(), scram::ScramError> {
        let client = Arc::clone(&self.client);
        let (user, password) = (user.to_string(), password.to_string());
        tokio::task::spawn_blocking(move || {
            scram::upsert_scram_credential(
                &client,
                &user,
                scram::ScramMechanism::Sha512,
                8192,
                &password,
                ACL_TIMEOUT,
            )
        })
        .await
        .map_err(|_| scram::ScramError::TimedOut)?
    }
}
