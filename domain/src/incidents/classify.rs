//! Error text from Kafka clients (librdkafka and Java), the nodes and the checker,
//! classified into incident causes, as the self-healing paper proposes: the words a
//! client logs say what broke. The patterns are the error names and messages the clients
//! really print; unknown text is `None`, never a guess.

use super::Cause;

/// Patterns per cause, lower-case, checked in order: the first cause with a match wins.
const PATTERNS: [(Cause, &[&str]); 6] = [
    (
        Cause::AclMissing,
        &[
            "authorization failed",
            "authorization_failed",
            "not authorized",
            "topic_authorization",
            "group_authorization",
            "transactional_id_authorization",
            "cluster_authorization",
            "authorizationexception",
        ],
    ),
    (
        Cause::NodeOutputUnwritable,
        &[
            "message size too large",
            "msg_size_too_large",
            "record_too_large",
            "recordtoolargeexception",
            "larger than the max message size",
            "policy violation",
            "policy_violation",
            "invalid_record",
            "not writable",
            "refused a write",
            "still refuses writes",
            "topic deletion",
            "read-only",
        ],
    ),
    (
        Cause::BrokerUnreachable,
        &[
            "all broker connections are down",
            "all brokers are down",
            "broker transport failure",
            "connection refused",
            "connect to ipv4",
            "broker: not coordinator",
            "coordinator load in progress",
            "timed out",
            "timeout",
            "brokertransportfailure",
            "allbrokersdown",
        ],
    ),
    (
        Cause::SchemaDrift,
        &[
            "unknown_schema_id",
            "schema_not_of_subject",
            "unknown schema id",
            "not registered",
        ],
    ),
    (
        Cause::ContractBroken,
        &[
            "not_wire_format",
            "undecodable",
            "truncated",
            "invalid",
            "quality",
            "required",
            "is not of type",
        ],
    ),
    (
        Cause::NodeCrashed,
        &[
            "panicked",
            "fenced",
            "producer_fenced",
            "fatal error",
            "core dumped",
        ],
    ),
];

/// The cause `text` names, if it names one.
pub fn classify(text: &str) -> Option<Cause> {
    let lower = text.to_ascii_lowercase();
    PATTERNS
        .iter()
        .find(|(_, patterns)| patterns.iter().any(|p| lower.contains(p)))
        .map(|(cause, _)| *cause)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn librdkafka_and_java_error_texts_are_told_apart() {
        let cases = [
            (
                "Broker: Topic authorization failed",
                Some(Cause::AclMissing),
            ),
            (
                "KafkaError (Message production error: TopicAuthorizationFailed (Broker: Topic authorization failed))",
                Some(Cause::AclMissing),
            ),
            (
                "org.apache.kafka.common.errors.GroupAuthorizationException: Not authorized to access group: svc-x",
                Some(Cause::AclMissing),
            ),
            (
                "Message production error: MessageSizeTooLarge (Broker: Message size too large)",
                Some(Cause::NodeOutputUnwritable),
            ),
            (
                "output topic t refused a write (Message production error: InvalidRecord (Broker: Invalid record)); the output is parked on d",
                Some(Cause::NodeOutputUnwritable),
            ),
            (
                "Broker: Policy violation",
                Some(Cause::NodeOutputUnwritable),
            ),
            (
                "Local: All broker connections are down",
                Some(Cause::BrokerUnreachable),
            ),
            (
                "127.0.0.1:9092/bootstrap: Connect to ipv4#127.0.0.1:9092 failed: Connection refused",
                Some(Cause::BrokerUnreachable),
            ),
            ("unknown_schema_id", Some(Cause::SchemaDrift)),
            (
                "schema_not_of_subject: schema 42 is not registered under the subject",
                Some(Cause::SchemaDrift),
            ),
            (
                "invalid: /email: 12 is not of type \"string\"",
                Some(Cause::ContractBroken),
            ),
            ("not_wire_format", Some(Cause::ContractBroken)),
            (
                "Broker: Producer attempted an operation with an old epoch (PRODUCER_FENCED)",
                Some(Cause::NodeCrashed),
            ),
            ("everything is fine", None),
        ];
        for (text, expected) in cases {
            assert_eq!(classify(text), expected, "{text}");
        }
    }
}
