//! The durable job runtime: workers claim jobs from the metadata database with a lease,
//! heartbeat while they run, retry with back-off, and hand each job to the [`JobHandler`]
//! registered for its kind.
//!
//! * [`handler`]: the seam to the work (`JobHandler`, `JobError`, `JobContext`).
//! * [`payload`]: typed, versioned payloads (`JobPayload`, `encode`, `decode`).
//! * [`runtime`]: the claim loop, leases, heartbeats, retries, shutdown, metrics
//!   ([`Runtime`], [`JobSink`]).
//! * [`config`]: the `[jobs]` configuration section ([`JobsConfig`]).
//! * [`probe`]: `probe.append`, a diagnostics job kind.
//!
//! The queue itself is the `JobRepo` port of `vod-core`, implemented in `vod-db`.

pub mod config;
pub mod handler;
pub mod payload;
pub mod probe;
pub mod runtime;

pub use config::JobsConfig;
pub use handler::{JobContext, JobError, JobHandler};
pub use payload::JobPayload;
pub use runtime::{JobSink, Runtime};
