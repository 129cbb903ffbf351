//! Use cases shared by the server and the CLI, one file per family.

pub mod identity;
pub mod media;
pub mod templates;
