//! The Kafka principals Meshmart names, and the names it reserves: a principal is
//! `User:<username>`; `svc-<domain>-producer` is a domain's producer and `svc-node-<name>`
//! a stream node, both Meshmart's alone (a service account cannot take such a name, and
//! every ACL a node principal holds is Meshmart's to manage).

/// The SASL user name of a principal (`User:` removed).
pub fn username(principal: &str) -> &str {
    principal.strip_prefix("User:").unwrap_or(principal)
}

/// Whether `name` has the form of a domain's producer principal (`svc-<domain>-producer`).
pub fn is_producer_name(name: &str) -> bool {
    name.strip_prefix("svc-")
        .and_then(|rest| rest.strip_suffix("-producer"))
        .is_some_and(|domain| !domain.is_empty())
}

/// Whether a SASL user name is a node principal's (`svc-node-…`).
pub fn is_node_username(username: &str) -> bool {
    username
        .strip_prefix("svc-node-")
        .is_some_and(|name| !name.is_empty())
}
