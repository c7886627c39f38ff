//! Server functions, one module per feature. Each is a thin adapter: it resolves the
//! caller, asks the policy (`ssr::authorize`), calls the domain library and maps the result
//! to serializable DTOs and [`ApiError`].

pub mod account;
pub mod admin;
pub mod auth;
pub mod catalog;
pub mod contracts;
mod error;
pub mod health;
pub mod incidents;
pub mod lineage;
pub mod nodes;
pub mod producers;
pub mod registry;
pub mod search;
pub mod subscriptions;

pub use error::ApiError;
