//! `probe.append`, a diagnostics job kind: it appends `<job id> <worker id> start <unix ms>`
//! to a file, sleeps, then appends `<job id> <worker id> end <unix ms>`. With it an operator
//! (or a test) can watch which node runs which job and kill a node mid-job:
//! `vodstack jobs enqueue-probe --file F --count N --ms M`. Registered only when
//! `jobs.enable_probe = true`; never enable it where untrusted users can enqueue jobs (it
//! writes to any path the service may write to).

use std::io::Write as _;
use std::time::Duration;

use async_trait::async_trait;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use vod_core::model::Job;
use vod_core::now_ms;

use crate::payload::{JobPayload, decode};
use crate::{JobContext, JobError, JobHandler};

/// Payload of `probe.append` (version 1).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ProbeAppend {
    /// File the start and end lines are appended to (created when missing).
    pub file: String,
    /// How long the job sleeps between its two lines.
    pub ms: u64,
}

impl JobPayload for ProbeAppend {
    const KIND: &'static str = "probe.append";
    const VERSION: u32 = 1;
}

/// The handler of [`ProbeAppend`] jobs.
#[derive(Debug, Default)]
pub struct ProbeHandler;

/// Appends `line` with one `write` call (`O_APPEND`), so lines from several processes
/// never interleave.
async fn append(file: &str, line: String) -> Result<(), JobError> {
    let path = file.to_string();
    tokio::task::spawn_blocking(move || {
        std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&path)
            .and_then(|mut f| f.write_all(line.as_bytes()))
            .map_err(|e| JobError::retry(format!("cannot append to {path}: {e}")))
    })
    .await
    .map_err(|e| JobError::retry(format!("append task failed: {e}")))?
}

#[async_trait]
impl JobHandler for ProbeHandler {
    fn kind(&self) -> &'static str {
        ProbeAppend::KIND
    }

    async fn run(&self, job: &Job, ctx: &JobContext) -> Result<Value, JobError> {
        let probe: ProbeAppend = decode(job)?;
        let line = |what: &str| format!("{} {} {what} {}\n", job.id, ctx.worker_id, now_ms());
        append(&probe.file, line("start")).await?;
        let until = tokio::time::Instant::now() + Duration::from_millis(probe.ms);
        while tokio::time::Instant::now() < until {
            if ctx.cancelled.is_cancelled() {
                return Err(JobError::retry("cancelled before the end line"));
            }
            let left = until - tokio::time::Instant::now();
            tokio::time::sleep(left.min(Duration::from_millis(20))).await;
        }
        append(&probe.file, line("end")).await?;
        Ok(json!({"worker": ctx.worker_id, "attempt": ctx.attempt}))
    }
}
