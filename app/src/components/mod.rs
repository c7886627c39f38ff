//! Pieces shared by several pages.

pub mod attribution;
pub mod confirm;
pub mod layout;
pub mod loading;
pub mod problem;
pub mod theme;
