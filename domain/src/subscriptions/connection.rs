//! What a subscriber needs to start consuming once access is active: bootstrap servers,
//! topics, group prefix and principal, with ready-to-paste client configuration for
//! librdkafka, Java clients and kcat, including the schema registry Meshmart serves under
//! `/registry` (Confluent's serializers authenticate with a Meshmart API token). Passwords
//! are never known to Meshmart and appear as a placeholder; the page says whose password
//! goes there.

use serde::{Deserialize, Serialize};

use super::{State, Subscription};

/// How clients reach the broker (the same listener Meshmart uses).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ClientAccess {
    pub bootstrap_servers: String,
    pub security_protocol: String,
    pub sasl_mechanism: String,
    /// Meshmart's schema registry as clients reach it (`<public url>/registry`).
    pub registry_url: String,
}

/// Connection details of an active subscription.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Connection {
    pub bootstrap_servers: String,
    pub topics: Vec<String>,
    pub group_prefix: String,
    /// A group id inside the prefix, for a first consumer.
    pub group_example: String,
    pub principal: String,
    /// Whose password the snippets' `<your password>` stands for.
    pub password_hint: String,
    pub registry_url: String,
    pub librdkafka: String,
    pub java: String,
    pub kcat: String,
}

/// The SASL user of a `User:<name>` principal.
fn sasl_user(principal: &str) -> &str {
    principal.strip_prefix("User:").unwrap_or(principal)
}

impl ClientAccess {
    /// The connection details of `subscription`, once it is active.
    pub fn connection(&self, subscription: &Subscription) -> Option<Connection> {
        if subscription.state != State::Active {
            return None;
        }
        let user = sasl_user(&subscription.principal);
        let group = format!(
            "{}{}",
            subscription.consumer_group,
            if subscription.consumer_group.ends_with(['.', '-', '_']) {
                "app"
            } else {
                ".app"
            }
        );
        let sasl = self.security_protocol.starts_with("SASL");
        // Service accounts sign in with the SCRAM credential Meshmart issues them.
        let mechanism = if subscription.team.is_some() {
            "SCRAM-SHA-512"
        } else {
            self.sasl_mechanism.as_str()
        };
        let mut librdkafka = format!(
            "bootstrap.servers={}\nsecurity.protocol={}\n",
            self.bootstrap_servers, self.security_protocol
        );
        let mut java = librdkafka.clone();
        if sasl {
            librdkafka.push_str(&format!(
                "sasl.mechanisms={mechanism}\nsasl.username={user}\nsasl.password=<your password>\n"
            ));
            let module = if mechanism.starts_with("SCRAM") {
                "org.apache.kafka.common.security.scram.ScramLoginModule"
            } else {
                "org.apache.kafka.common.security.plain.PlainLoginModule"
            };
            java.push_str(&format!(
                "sasl.mechanism={mechanism}\nsasl.jaas.config={module} required username=\"{user}\" password=\"<your password>\";\n"
            ));
        }
        let registry = &self.registry_url;
        librdkafka.push_str(&format!(
            "group.id={group}\nauto.offset.reset=earliest\n\
             # Values are Confluent wire format: decode them with the schema registry's client,\n\
             # e.g. confluent-kafka's SchemaRegistryClient / AvroDeserializer / JSONDeserializer:\n\
             # url={registry}\n\
             # basic.auth.user.info=<your email>:<your Meshmart API token, from /account>\n"
        ));
        java.push_str(&format!(
            "group.id={group}\nauto.offset.reset=earliest\n\
             key.deserializer=org.apache.kafka.common.serialization.StringDeserializer\n\
             # Avro ports: io.confluent.kafka.serializers.KafkaAvroDeserializer\n\
             value.deserializer=io.confluent.kafka.serializers.json.KafkaJsonSchemaDeserializer\n\
             schema.registry.url={registry}\n\
             basic.auth.credentials.source=USER_INFO\n\
             basic.auth.user.info=<your email>:<your Meshmart API token, from /account>\n"
        ));
        let topic = subscription.topics.first().cloned().unwrap_or_default();
        let mut kcat = format!(
            "kcat -C -b {} -X security.protocol={}",
            self.bootstrap_servers, self.security_protocol
        );
        if sasl {
            kcat.push_str(&format!(
                " -X sasl.mechanisms={mechanism} -X sasl.username={user} -X sasl.password='<your password>'"
            ));
        }
        kcat.push_str(&format!(" -G {group} {topic}"));
        let password_hint = if sasl {
            format!(
                "<your password> is the broker password of {user} ({mechanism}), as the broker's operators set it: Meshmart never stores broker passwords of people or service accounts."
            )
        } else {
            "The broker takes no password on this listener.".to_string()
        };
        Some(Connection {
            bootstrap_servers: self.bootstrap_servers.clone(),
            topics: subscription.topics.clone(),
            group_prefix: subscription.consumer_group.clone(),
            group_example: group,
            principal: subscription.principal.clone(),
            password_hint,
            registry_url: self.registry_url.clone(),
            librdkafka,
            java,
            kcat,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::subscriptions::State;

    fn active(principal: &str) -> Subscription {
        Subscription {
            id: uuid::Uuid::nil(),
            product: "customer-signed-up".into(),
            product_name: "CustomerSignedUp".into(),
            domain: "customer-management".into(),
            topics: vec!["customer-management.customer-signed-up.v1".into()],
            principal: principal.into(),
            team: None,
            consumer_group: "analyst1.".into(),
            purpose: "dashboards".into(),
            state: State::Active,
            until: None,
            requested_by: "analyst1@meshmart.local".into(),
            requested_at: chrono::Utc::now(),
            decided_by: None,
            decided_at: None,
            decision_comment: None,
            provision_attempts: 0,
            last_error: None,
            activated_at: None,
            ended_at: None,
            access_removed_at: None,
        }
    }

    #[test]
    fn snippets_name_the_registry_and_say_whose_password_goes_where() {
        let access = ClientAccess {
            bootstrap_servers: "broker:9092".into(),
            security_protocol: "SASL_PLAINTEXT".into(),
            sasl_mechanism: "PLAIN".into(),
            registry_url: "https://meshmart.example/registry".into(),
        };
        let c = access.connection(&active("User:analyst1")).expect("active");
        assert!(c.password_hint.contains("analyst1") && c.password_hint.contains("PLAIN"));
        assert!(
            c.kcat
                .contains("-G analyst1.app customer-management.customer-signed-up.v1")
        );
        for line in [
            "schema.registry.url=https://meshmart.example/registry",
            "basic.auth.credentials.source=USER_INFO",
            "value.deserializer=io.confluent.kafka.serializers.json.KafkaJsonSchemaDeserializer",
        ] {
            assert!(c.java.lines().any(|l| l == line), "{line} in {}", c.java);
        }
        assert!(
            c.librdkafka
                .contains("# url=https://meshmart.example/registry")
        );
        let mut pending = active("User:analyst1");
        pending.state = State::Pending;
        assert_eq!(access.connection(&pending), None);
    }
}
