//! Safe Rust over the parts of librdkafka's admin API that rust-rdkafka does not wrap: ACLs
//! ([`acl`]: create, describe, delete) and SASL/SCRAM credentials ([`scram`]: upsert, delete,
//! describe). Each call borrows the `rd_kafka_t` handle of a caller's
//! [`rdkafka::admin::AdminClient`], blocks its thread until the broker answers or the timeout
//! passes, and returns plain Rust values; async callers run it in `spawn_blocking`.
//!
//! This crate is where Meshmart's `unsafe` code lives. The workspace denies `unsafe_code`
//! everywhere else (the domain library forbids it); here the three modules that call C
//! (`native`, [`acl`], [`scram`]) allow it, keep every unsafe block small with a `SAFETY:`
//! comment saying why it is sound (enforced below), and let no raw pointer out of the public
//! API.

#![deny(clippy::undocumented_unsafe_blocks)]

pub mod acl;
mod native;
pub mod scram;
