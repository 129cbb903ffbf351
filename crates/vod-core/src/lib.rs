//! vodstack domain: identities, RAM-style policies, VOD apps, and the storage ports
//! (repository traits) that every metadata backend implements.
//!
//! No HTTP, no SQL: transports live in `vod-api`, storage in `vod-db`.

pub mod error;
pub mod ids;
pub mod model;
pub mod policy;
pub mod ports;
pub mod service;
pub mod uploads;

pub use error::{CoreError, CoreResult};

/// Current time as unix milliseconds.
pub fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}
