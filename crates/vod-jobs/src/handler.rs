//! The seam between the runtime and the work: one [`JobHandler`] per job kind.

use std::time::Duration;

use async_trait::async_trait;
use serde_json::Value;
use vod_core::model::Job;

/// How a job attempt failed.
#[derive(Debug, thiserror::Error)]
pub enum JobError {
    /// A transient failure: try again (after `after`, or the runtime's back-off) while
    /// attempts and the deadline allow.
    #[error("retryable: {message}")]
    Retry { message: String, after: Option<Duration> },
    /// A permanent failure: the job fails now, whatever attempts remain.
    #[error("aborted: {0}")]
    Abort(String),
}

impl JobError {
    pub fn retry(message: impl Into<String>) -> Self {
        Self::Retry {
            message: message.into(),
            after: None,
        }
    }

    pub fn abort(message: impl Into<String>) -> Self {
        Self::Abort(message.into())
    }
}

/// What a running job may know about its attempt.
#[derive(Debug, Clone)]
pub struct JobContext {
    /// The worker (node) running this attempt.
    pub worker_id: String,
    /// 1 for the first attempt.
    pub attempt: i64,
    /// Set when the runtime is shutting down or the lease was lost; long jobs should stop.
    pub cancelled: tokio_util_like::CancelFlag,
}

/// Code for one job kind. Handlers must be idempotent: delivery is at-least-once (a job
/// whose worker died is run again after its lease expires).
#[async_trait]
pub trait JobHandler: Send + Sync + 'static {
    /// The kind this handler runs, e.g. `callback.http`.
    fn kind(&self) -> &'static str;
    /// How many jobs of this kind one node runs at once.
    fn concurrency(&self) -> usize {
        4
    }
    /// Runs one attempt. `Ok(result)` stores `result` and marks the job succeeded.
    async fn run(&self, job: &Job, ctx: &JobContext) -> Result<Value, JobError>;
}

/// A minimal cancellation flag (cheap to clone, checked by long-running handlers).
pub mod tokio_util_like {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicBool, Ordering};

    #[derive(Debug, Clone, Default)]
    pub struct CancelFlag(Arc<AtomicBool>);

    impl CancelFlag {
        pub fn cancel(&self) {
            self.0.store(true, Ordering::SeqCst);
        }

        pub fn is_cancelled(&self) -> bool {
            self.0.load(Ordering::SeqCst)
        }
    }
}
