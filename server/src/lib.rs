//! The `meshmart` server: configuration, telemetry, the axum application (Leptos pages,
//! REST, operations endpoints) and the CLI commands that share its setup. Domain logic lives
//! in the `domain` crate; this crate only wires it to HTTP and to the process.

pub mod auth;
pub mod chaos;
pub mod checker;
pub mod cli;
pub mod configuration;
pub mod detector;
pub mod error;
pub mod http;
pub mod model;
pub mod node;
pub mod startup;
pub mod state;
pub mod telemetry;
pub mod workers;
