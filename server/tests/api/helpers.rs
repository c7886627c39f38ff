//! `spawn_app`: start the real application for one test and talk to it over HTTP.

use server::configuration::Settings;
use server::startup::Application;
use sqlx::PgPool;

/// A running application and a client for it.
pub struct TestApp {
    pub address: String,
    pub client: reqwest::Client,
    stop: tokio::sync::oneshot::Sender<()>,
    serving: tokio::task::JoinHandle<anyhow::Result<()>>,
}

impl TestApp {
    /// Stops the application at once, as `kill -9` would: no graceful shutdown, in-flight
    /// work is dropped wherever it is.
    pub fn kill(self) {
        self.serving.abort();
    }

    /// Shuts the application down, as Ctrl-C would, and waits until it has stopped.
    pub async fn stop(self) {
        let _ = self.stop.send(());
        self.serving
            .await
            .expect("the server task ends")
            .expect("the server stops cleanly");
    }

    /// `PUT /api/v1/products/{slug}/contract` with an ODCS YAML body as the token's user;
    /// the status and the JSON answer (`Null` when there is none).
    pub async fn put_contract(
        &self,
        token: &str,
        slug: &str,
        body: impl Into<reqwest::Body>,
    ) -> (u16, serde_json::Value) {
        let response = self
            .client
            .put(format!("{}/api/v1/products/{slug}/contract", self.address))
            .bearer_auth(token)
            .header("content-type", "application/yaml")
            .body(body)
            .send()
            .await
            .expect("request reaches the test server");
        let status = response.status().as_u16();
        (status, response.json().await.unwrap_or_default())
    }

    /// `GET` a path of the application.
    /// `method` on `path` as the bearer of `token`: the status and the JSON answer (null
    /// when the body is not JSON).
    pub async fn call(
        &self,
        method: reqwest::Method,
        path: &str,
        token: &str,
    ) -> (u16, serde_json::Value) {
        let response = self
            .client
            .request(method, format!("{}{path}", self.address))
            .bearer_auth(token)
            .send()
            .await
            .expect("request");
        let status = response.status().as_u16();
        (
            status,
            response.json().await.unwrap_or(serde_json::Value::Null),
        )
    }

    pub async fn get(&self, path: &str) -> reqwest::Response {
        self.client
            .get(format!("{}{path}", self.address))
            .send()
            .await
            .expect("request reaches the test server")
    }
}

/// Starts the application on a free port with the test stack's settings.
pub async fn spawn_app(pool: PgPool) -> TestApp {
    spawn_app_with(pool, |_| {}).await
}

/// Like `spawn_app`, with a chance to change the settings first.
pub async fn spawn_app_with(pool: PgPool, configure: impl FnOnce(&mut Settings)) -> TestApp {
    let mut settings = Settings::load(None).expect("the test settings are valid");
    settings.server.port = 0;
    // Each application owns its index directory, as each server process does.
    settings.search.index_dir =
        std::env::temp_dir().join(format!("meshmart-test-index-{}", uuid::Uuid::new_v4()));
    // The record checker joins a consumer group over every product topic; tests that want
    // it turn it on with a group of their own.
    settings.checker.enabled = false;
    configure(&mut settings);
    let application = Application::build_with_pool(settings, pool)
        .await
        .expect("the application builds");
    let address = format!("http://127.0.0.1:{}", application.port());
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let serving = tokio::spawn(application.run_until(async move {
        let _ = stopped.await;
    }));
    TestApp {
        stop,
        serving,
        address,
        client: reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .expect("a reqwest client"),
    }
}

/// librdkafka settings reaching the test stack's broker as Meshmart's admin principal.
pub fn admin_client() -> rdkafka::ClientConfig {
    let kafka = Settings::load(None).expect("test settings").kafka;
    let mut config = rdkafka::ClientConfig::new();
    config
        .set("bootstrap.servers", &kafka.bootstrap_servers)
        .set("security.protocol", &kafka.security_protocol)
        .set("sasl.mechanisms", &kafka.sasl_mechanism)
        .set("sasl.username", &kafka.username)
        .set(
            "sasl.password",
            secrecy::ExposeSecret::expose_secret(&kafka.password),
        );
    config
}

/// A fresh API token of the (demo) user `email`.
pub async fn token_for(pool: &PgPool, email: &str) -> String {
    let user = domain::identity::users::find_by_email(pool, email)
        .await
        .expect("db")
        .expect("demo user");
    let mut conn = pool.acquire().await.expect("conn");
    domain::identity::tokens::create(&mut conn, user.id, "test")
        .await
        .expect("token")
        .token
}

/// A committed record as a read_committed reader sees it.
pub struct Committed {
    /// The partition it was read from (records of one partition come in offset order).
    pub partition: i32,
    pub key: String,
    pub headers: std::collections::HashMap<String, String>,
    pub value: Vec<u8>,
}

/// Every committed record of `topic` now (each partition read to its end, at most 30 s),
/// with a consumer group of its own.
pub async fn committed(topic: &str) -> Vec<Committed> {
    use rdkafka::Message;
    use rdkafka::consumer::{BaseConsumer, Consumer};
    use rdkafka::message::Headers;

    let topic = topic.to_string();
    tokio::task::spawn_blocking(move || {
        let consumer: BaseConsumer = admin_client()
            .set(
                "group.id",
                format!("meshmart-test-reader-{}", uuid::Uuid::new_v4().simple()),
            )
            .set("enable.auto.commit", "false")
            .set("auto.offset.reset", "earliest")
            .set("isolation.level", "read_committed")
            .set("enable.partition.eof", "true")
            .create()
            .expect("consumer");
        consumer.subscribe(&[&topic]).expect("subscribed");
        let partitions = consumer
            .fetch_metadata(Some(&topic), std::time::Duration::from_secs(10))
            .ok()
            .and_then(|m| m.topics().first().map(|t| t.partitions().len()))
            .unwrap_or(3);
        let (mut records, mut ends) = (Vec::new(), std::collections::HashSet::new());
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
        while ends.len() < partitions && std::time::Instant::now() < deadline {
            match consumer.poll(std::time::Duration::from_millis(200)) {
                Some(Ok(message)) => {
                    let headers = message
                        .headers()
                        .map(|h| {
                            h.iter()
                                .map(|h| {
                                    let value = h.value.unwrap_or_default();
                                    (
                                        h.key.to_string(),
                                        String::from_utf8_lossy(value).to_string(),
                                    )
                                })
                                .collect()
                        })
                        .unwrap_or_default();
                    records.push(Committed {
                        partition: message.partition(),
                        key: String::from_utf8_lossy(message.key().unwrap_or_default()).to_string(),
                        headers,
                        value: message.payload().unwrap_or_default().to_vec(),
                    });
                }
                Some(Err(rdkafka::error::KafkaError::PartitionEOF(partition))) => {
                    ends.insert(partition);
                }
                _ => {}
            }
        }
        records
    })
    .await
    .expect("reader thread")
}
