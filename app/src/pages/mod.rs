//! One module per page of the browser surface (`../shared/DESIGN.md`, "Surfaces").

pub mod error;
pub mod home;
pub mod not_found;
