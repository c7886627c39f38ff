//! What a subscriber needs to start consuming once access is active: bootstrap servers,
//! topics, group prefix and principal, with ready-to-paste client configuration for
//! librdkafka, Java clients and kcat. Passwords are never known to Meshmart and appear as a
//! placeholder.

use serde::{Deserialize, Serialize};

use super::{State, Subscription};

/// How clients reach the broker (the same listener Meshmart uses).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ClientAccess {
    pub bootstrap_servers: String,
    pub security_protocol: String,
    pub sasl_mechanism: String,
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
        librdkafka.push_str(&format!("group.id={group}\nauto.offset.reset=earliest\n"));
        java.push_str(&format!(
            "group.id={group}\nauto.offset.reset=earliest\nkey.deserializer=org.apache.kafka.common.serialization.StringDeserializer\nvalue.deserializer=org.apache.kafka.common.serialization.StringDeserializer\n"
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
        Some(Connection {
            bootstrap_servers: self.bootstrap_servers.clone(),
            topics: subscription.topics.clone(),
            group_prefix: subscription.consumer_group.clone(),
            group_example: group,
            principal: subscription.principal.clone(),
            librdkafka,
            java,
            kcat,
        })
    }
}
