//! Typed, versioned job payloads. Each job kind has one payload type implementing
//! [`JobPayload`]; it is stored as a JSON object carrying a `"v"` version field next to its
//! own fields, so a node can tell a payload written by a newer release from a broken one.
//!
//! ```text
//! #[derive(Serialize, Deserialize)]
//! struct Refresh { urls: Vec<String> }
//! impl JobPayload for Refresh { const KIND: &'static str = "cdn.refresh"; const VERSION: u32 = 1; }
//! store.enqueue(&Refresh { urls }.to_job(5)?).await?;          // enqueue side
//! let refresh: Refresh = decode(job)?;                          // handler side
//! ```

use std::time::Duration;

use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::Value;
use vod_core::model::{Job, NewJob};

use crate::JobError;

/// A job kind's payload: its kind name and the version of its JSON layout.
pub trait JobPayload: Serialize + DeserializeOwned {
    /// The job kind, e.g. `callback.http`.
    const KIND: &'static str;
    /// The layout version written into `"v"`; bump it when the fields change incompatibly.
    const VERSION: u32;

    /// A `NewJob` of [`KIND`](Self::KIND) with this payload, runnable now.
    fn to_job(&self, max_attempts: i64) -> Result<NewJob, serde_json::Error> {
        Ok(NewJob::new(Self::KIND, encode(self)?, max_attempts))
    }
}

/// The payload as stored: its fields plus `"v": VERSION`. The payload must serialize to a
/// JSON object.
pub fn encode<P: JobPayload>(payload: &P) -> Result<Value, serde_json::Error> {
    let mut value = serde_json::to_value(payload)?;
    match value.as_object_mut() {
        Some(map) => {
            map.insert("v".into(), Value::from(P::VERSION));
            Ok(value)
        }
        None => Err(serde::ser::Error::custom(format!(
            "the payload of {} must be a JSON object",
            P::KIND
        ))),
    }
}

/// Reads a job's payload. A payload from a newer release (higher `"v"`) is retried later so
/// an upgraded node can take it; a missing, older or malformed payload aborts the job.
pub fn decode<P: JobPayload>(job: &Job) -> Result<P, JobError> {
    let version = job.payload.get("v").and_then(Value::as_u64);
    match version {
        Some(v) if v == u64::from(P::VERSION) => {}
        Some(v) if v > u64::from(P::VERSION) => {
            return Err(JobError::Retry {
                message: format!(
                    "payload version {v} of {} is newer than this node understands ({}); leaving it to an upgraded node",
                    P::KIND,
                    P::VERSION
                ),
                after: Some(Duration::from_secs(60)),
            });
        }
        Some(v) => {
            return Err(JobError::abort(format!(
                "payload version {v} of {} is no longer supported (this node reads version {})",
                P::KIND,
                P::VERSION
            )));
        }
        None => {
            return Err(JobError::abort(format!(
                "payload of {} has no version field \"v\"",
                P::KIND
            )));
        }
    }
    serde_json::from_value(job.payload.clone())
        .map_err(|e| JobError::abort(format!("malformed {} payload: {e}", P::KIND)))
}
