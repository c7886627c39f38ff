//! One module per page of the browser surface (`../shared/DESIGN.md`, "Surfaces").

pub mod account;
pub mod admin;
pub mod catalog;
pub mod health;
pub mod home;
pub mod incidents;
pub mod lineage;
pub mod login;
pub mod nodes;
pub mod not_found;
pub mod producers;
pub mod register;
pub mod registry;
pub mod schemas;
pub mod subscriptions;
