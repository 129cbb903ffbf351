//! vod-processing: the media processing jobs of a node, over `vod-media` (ffprobe/ffmpeg on
//! local files), the object store and the metadata store.
//!
//! Job path: a new source queues one job (`vod_core::service::media::processing_job_for`):
//! `media.transcode` for media that transcode (it probes first), `media.probe` otherwise.
//! A job copies the source from the object store into a work directory ([`source`]), runs
//! the tools, uploads what they produced next to the source ([`outputs`]) and publishes
//! the result in one metadata transaction with its callback events
//! (`StreamRepo::publish`). Every job is guarded by the source generation it was queued
//! for: a job for a replaced source does nothing. Re-runs are idempotent: stream ids,
//! object keys and event ids derive from the job id, so a second publication of the same
//! run is refused by the store and the job counts as done.
//!
//! Kinds: `media.probe` ([`probe`]), `media.transcode` ([`transcode`]), `media.snapshot`
//! ([`snapshot`], SubmitSnapshotJob) and `media.purge` ([`purge`], after DeleteVideo).

pub mod config;
mod events;
pub mod outputs;
pub mod probe;
pub mod purge;
pub mod snapshot;
pub mod source;
pub mod transcode;

use std::path::PathBuf;
use std::sync::Arc;

pub use config::ProcessingConfig;
use vod_blob::ObjectStore;
use vod_callbacks::CallbacksConfig;
use vod_core::service::media::MediaConfig;
use vod_jobs::{JobError, JobHandler};

pub use vod_core::model::media::JOB_MEDIA_SNAPSHOT;

/// What every processing handler shares.
pub struct Processing {
    pub store: Arc<dyn vod_core::ports::MetaStore>,
    pub objects: Arc<ObjectStore>,
    pub media: MediaConfig,
    pub callbacks: CallbacksConfig,
    pub config: ProcessingConfig,
    pub tools: vod_media::Tools,
    /// Work directories live under it (`<data_dir>/tmp/processing`).
    pub tmp_dir: PathBuf,
}

impl Processing {
    /// A fresh work directory for one job attempt, removed when the guard drops.
    pub fn work_dir(&self, job_id: &str) -> Result<WorkDir, JobError> {
        let path = self.tmp_dir.join(job_id);
        let _ = std::fs::remove_dir_all(&path);
        std::fs::create_dir_all(&path)
            .map_err(|e| JobError::retry(format!("cannot create {}: {e}", path.display())))?;
        Ok(WorkDir(path))
    }
}

/// A job's work directory, deleted on drop.
pub struct WorkDir(pub PathBuf);

impl Drop for WorkDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// The processing handlers of a node (empty when processing is disabled).
pub fn handlers(p: Arc<Processing>) -> Vec<Arc<dyn JobHandler>> {
    if !p.config.enabled {
        return Vec::new();
    }
    // Stale work directories of a previous run (a crash) go first.
    let _ = std::fs::remove_dir_all(&p.tmp_dir);
    vec![
        Arc::new(probe::ProbeHandler(p.clone())),
        Arc::new(transcode::TranscodeHandler(p.clone())),
        Arc::new(snapshot::SnapshotHandler(p.clone())),
        Arc::new(purge::PurgeHandler(p)),
    ]
}

/// Bridges the job runtime's cancellation flag to the token the tools watch: the token
/// fires when the flag is set (polled every 200 ms) and when the bridge drops.
pub struct CancelBridge {
    token: tokio_util::sync::CancellationToken,
}

impl CancelBridge {
    pub fn new(ctx: &vod_jobs::JobContext) -> Self {
        let token = tokio_util::sync::CancellationToken::new();
        let (flag, watched) = (ctx.cancelled.clone(), token.clone());
        tokio::spawn(async move {
            loop {
                tokio::select! {
                    _ = watched.cancelled() => return,
                    _ = tokio::time::sleep(std::time::Duration::from_millis(200)) => {
                        if flag.is_cancelled() {
                            watched.cancel();
                            return;
                        }
                    }
                }
            }
        });
        Self { token }
    }

    pub fn token(&self) -> &tokio_util::sync::CancellationToken {
        &self.token
    }
}

impl Drop for CancelBridge {
    fn drop(&mut self) {
        self.token.cancel();
    }
}

/// A stable 32-hex id derived from parts (stream ids, event ids of one run).
pub fn derived_id(parts: &[&str]) -> String {
    use md5::{Digest, Md5};
    let mut h = Md5::new();
    for p in parts {
        h.update(p.as_bytes());
        h.update([0u8]);
    }
    hex::encode(h.finalize())
}
