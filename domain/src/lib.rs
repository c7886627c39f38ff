//! Meshmart's domain library: everything the marketplace knows and decides, with no web
//! framework in sight. Server functions, REST handlers, CLI commands and background workers
//! are thin adapters over these modules; they take a `&PgPool` (or a connection) and domain
//! types, and return domain types or a module error.
//!
//! Bounded contexts arrive as modules of their own (catalog, contracts, registry, search,
//! identity, policy, subscriptions, provisioning, lineage, audit); `../shared/DESIGN.md` of
//! the project lists what each owns.
//!
//! No `unsafe` here, and none can come back: the C calls the broker needs live in the
//! `kafka-admin` crate.

#![forbid(unsafe_code)]

pub mod accounts;
pub mod audit;
pub mod broker;
pub mod catalog;
pub mod contracts;
pub mod db;
pub mod demo;
pub mod domains;
pub mod error;
pub mod health;
pub mod identity;
pub mod incidents;
pub mod lineage;
pub mod nodes;
pub mod outbox;
pub mod policy;
pub mod producers;
pub mod provisioning;
pub mod quality;
pub mod registry;
pub mod search;
pub mod subscriptions;
pub mod traffic;
pub mod webhooks;
