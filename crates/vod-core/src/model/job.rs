//! Durable background jobs: URL pulls, transcodes, snapshots, CDN refresh/preload and
//! callback deliveries all run as jobs stored in the metadata database.

use serde_json::Value;

/// Where a job is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum JobStatus {
    /// Waiting to be claimed (possibly not before `not_before`).
    Queued,
    /// Claimed by a worker holding a lease until `lease_expires_at`.
    Running,
    Succeeded,
    /// Out of attempts or aborted; `last_error` says why.
    Failed,
    Cancelled,
}

impl JobStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Queued => "queued",
            Self::Running => "running",
            Self::Succeeded => "succeeded",
            Self::Failed => "failed",
            Self::Cancelled => "cancelled",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "queued" => Some(Self::Queued),
            "running" => Some(Self::Running),
            "succeeded" => Some(Self::Succeeded),
            "failed" => Some(Self::Failed),
            "cancelled" => Some(Self::Cancelled),
            _ => None,
        }
    }

    pub fn is_finished(self) -> bool {
        matches!(self, Self::Succeeded | Self::Failed | Self::Cancelled)
    }
}

/// A job to enqueue. `payload` is the kind's versioned JSON (`{"v":1, ...}`).
#[derive(Debug, Clone, PartialEq)]
pub struct NewJob {
    /// Caller-chosen id (32 hex, e.g. `ids::hex_id()`), so the enqueuer knows it at once.
    pub id: String,
    /// e.g. `callback.http`, `media.transcode`, `upload.url_pull`.
    pub kind: String,
    pub payload: Value,
    /// While a queued or running job holds this key, enqueuing another with it is a no-op.
    pub unique_key: Option<String>,
    /// Attempts before the job fails for good (at least 1).
    pub max_attempts: i64,
    /// Not claimable before this time (unix ms).
    pub not_before: i64,
    /// After this time (unix ms) no new attempt starts; the job fails instead. `None` = no limit.
    pub give_up_at: Option<i64>,
}

impl NewJob {
    /// A job runnable now with `max_attempts` attempts and no deadline.
    pub fn new(kind: &str, payload: Value, max_attempts: i64) -> Self {
        Self {
            id: crate::ids::hex_id(),
            kind: kind.into(),
            payload,
            unique_key: None,
            max_attempts: max_attempts.max(1),
            not_before: crate::now_ms(),
            give_up_at: None,
        }
    }
}

/// A stored job.
#[derive(Debug, Clone, PartialEq)]
pub struct Job {
    pub id: String,
    pub kind: String,
    pub payload: Value,
    pub status: JobStatus,
    pub unique_key: Option<String>,
    /// Attempts started so far (a claim counts one).
    pub attempts: i64,
    pub max_attempts: i64,
    pub not_before: i64,
    pub give_up_at: Option<i64>,
    pub lease_owner: Option<String>,
    pub lease_expires_at: Option<i64>,
    pub last_error: Option<String>,
    pub result: Option<Value>,
    pub created_at: i64,
    pub updated_at: i64,
    pub finished_at: Option<i64>,
}
