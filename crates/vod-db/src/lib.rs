//! vodstack metadata storage: one [`SqlStore`] implementing the `vod-core` storage ports
//! (`MetaStore`) over SQLite or PostgreSQL through sqlx's `Any` driver, the embedded
//! migrations, a backend-independent [`contract`] test suite and [`testing`] helpers that
//! give tests a fresh SQLite file or an isolated PostgreSQL schema.

mod apps;
mod callbacks;
mod categories;
mod error;
mod identity;
mod jobs;
mod media;
mod media_search;
mod nonce_journal;
mod nonce_set;
mod nonces;
mod objects;
mod open;
mod refresh;
mod settings;
mod store;
mod streams;
mod templates;
mod url_uploads;

pub mod contract;
pub mod testing;

pub use open::{POSTGRES_MIGRATOR, SQLITE_BUSY_TIMEOUT, SQLITE_MIGRATOR, backend_of, open, open_store};
pub use store::SqlStore;
