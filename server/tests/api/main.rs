//! API tests: the real application on port 0, against its own fresh PostgreSQL database
//! (`#[sqlx::test]`) and the real broker of the test stack (`make test` starts both and sets
//! `DATABASE_URL` and `KAFKA_BOOTSTRAP_SERVERS`).

mod auth;
mod authz_matrix;
mod cli;
mod contracts;
mod health;
mod helpers;
mod incidents;
mod limits;
mod lineage;
mod metrics;
mod nodes;
mod openapi;
mod pages;
mod producers;
mod registry;
mod search;
mod streams;
mod subscriptions;
mod traffic;
