//! `upload.url_pull`: pulls one UploadMediaByURL URL into the media library.
//!
//! 1. **Download** (`DOWNLOADING`) through the outbound client: every address (also of
//!    every redirect) passes the `[url_upload]` address policy; connect, header and idle
//!    timeouts; the size limit is checked against `Content-Length` and while streaming. The
//!    body is streamed to `<data_dir>/tmp/url-pull/<job id>.part` through bounded channels
//!    to a writer thread and a hasher thread (MD5, CRC-64), so memory does not grow with the
//!    file and hashing runs beside the download. A later attempt (retry, or another node after a
//!    crash) resumes with `Range: bytes=<have>-` when that file exists; an origin that
//!    answers 200 instead of 206 is read from the start again.
//! 2. **Probe** (`DOWNLOAD_SUCCESS`): `ffprobe` on the local file (`vod_media::probe`). The
//!    probe always reads the local file, whatever the object backend (S3 included), so
//!    containers with their index at the end (MP4 `moov`) are judged correctly. Not media →
//!    the media is created and marked damaged (`MediaRepo::set_media_damaged`), the job
//!    ends `UPLOAD_FAIL` / `InvalidMediaFile`.
//! 3. **Store** (`UPLOADING` → `UPLOAD_SUCCESS`): the media is created with the id chosen
//!    at submission (a re-run finds it: never two media for one job), the file becomes a
//!    blob — renamed into the blob root when objects live on the local filesystem (no second
//!    write), streamed into the store otherwise (S3) — recorded at the media's source key, and the media library's
//!    `object_completed` runs the same path as a credential upload (UploadSucc,
//!    FileUploadComplete, processing jobs).
//! 4. **Finish** (`SUCCESS`): the status and UploadByURLComplete are stored in one
//!    transaction. Failures write `DOWNLOAD_FAIL` / `UPLOAD_FAIL` with ErrorCode and
//!    ErrorMessage and the failed UploadByURLComplete the same way.
//!
//! Transient failures (connection refused or dropped, 5xx, timeouts, storage errors) are
//! retried with the runtime's back-off; the last attempt records the failure.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use async_trait::async_trait;
use serde_json::{Value, json};
use vod_blob::BlobStore;
use vod_callbacks::events::{self, EventError};
use vod_callbacks::{CallbacksConfig, OutboundClient, OutboundPolicy, Timeouts, UserData};
use vod_core::model::url_upload::{JOB_URL_PULL, UrlUpload, UrlUploadConfig, UrlUploadStatus, UrlUploadUpdate, codes};
use vod_core::model::{Job, NewJob};
use vod_core::ports::MetaStore;
use vod_core::service::media::{MediaConfig, MediaService};
use vod_core::{CoreError, now_ms};
use vod_jobs::{JobContext, JobError, JobHandler};

use vod_media::{ProbeOutcome, Tools};

mod download;
mod sink;
mod store;

/// How often a running download re-reads its record (a CancelUrlUploadJobs stops it).
const CANCEL_CHECK: Duration = Duration::from_secs(1);
/// File I/O chunk when copying the download into the object store.
const COPY_CHUNK: usize = 1 << 20;

/// How an attempt ended badly.
enum Failure {
    /// Try again later (or, on the last attempt, record `status` / `code`).
    Transient {
        status: UrlUploadStatus,
        code: &'static str,
        message: String,
    },
    /// Record now.
    Permanent {
        status: UrlUploadStatus,
        code: &'static str,
        message: String,
    },
    /// The job was cancelled (or vanished): stop quietly.
    Stopped,
    /// The runtime is shutting down / lost the lease: hand the job back.
    Interrupted,
}

fn transient(code: &'static str, message: impl Into<String>) -> Failure {
    Failure::Transient {
        status: UrlUploadStatus::DownloadFail,
        code,
        message: message.into(),
    }
}

fn permanent(code: &'static str, message: impl Into<String>) -> Failure {
    Failure::Permanent {
        status: UrlUploadStatus::DownloadFail,
        code,
        message: message.into(),
    }
}

fn store_failure(message: impl Into<String>) -> Failure {
    Failure::Transient {
        status: UrlUploadStatus::UploadFail,
        code: codes::STORE_FAILED,
        message: message.into(),
    }
}

fn core(e: CoreError) -> Failure {
    store_failure(e.to_string())
}

/// The handler of `upload.url_pull` jobs.
pub struct UrlPullHandler {
    store: Arc<dyn MetaStore>,
    media: Arc<MediaService>,
    blobs: BlobStore,
    client: OutboundClient,
    config: UrlUploadConfig,
    callbacks: CallbacksConfig,
    tmp_dir: PathBuf,
    /// The blob root when objects live on the local filesystem: a finished download is
    /// renamed into it instead of copied.
    local_root: Option<PathBuf>,
}

impl UrlPullHandler {
    pub fn new(
        store: Arc<dyn MetaStore>,
        media: Arc<MediaService>,
        blobs: BlobStore,
        config: UrlUploadConfig,
        callbacks: CallbacksConfig,
        tmp_dir: PathBuf,
        local_root: Option<PathBuf>,
    ) -> anyhow::Result<Self> {
        let policy = OutboundPolicy::from_settings(config.allow_loopback, config.allow_private, &config.allow_cidrs)?;
        let timeouts = Timeouts {
            connect: Duration::from_secs(config.connect_timeout_secs.max(1)),
            // Whole-request limit: the body is bounded by the idle timeout instead.
            total: Duration::from_secs(7 * 24 * 3600),
            max_redirects: config.max_redirects,
        };
        let client = OutboundClient::new(policy, timeouts)?;
        Ok(Self {
            store,
            media,
            blobs,
            client,
            config,
            callbacks,
            tmp_dir,
            local_root,
        })
    }

    fn part_path(&self, job_id: &str) -> PathBuf {
        self.tmp_dir.join(format!("{job_id}.part"))
    }

    async fn set_status(&self, u: &UrlUpload, to: UrlUploadStatus, update: UrlUploadUpdate) -> Result<(), Failure> {
        match self.store.update_url_upload(&u.job_id, &[], to, &update, &[]).await {
            Ok(true) => Ok(()),
            Ok(false) => Err(Failure::Stopped),
            Err(e) => Err(core(e)),
        }
    }

    async fn still_wanted(&self, job_id: &str) -> Result<(), Failure> {
        match self.store.get_url_upload(job_id).await {
            Ok(Some(u)) if !u.status.is_final() => Ok(()),
            Ok(_) => Err(Failure::Stopped),
            Err(_) => Ok(()), // a read hiccup does not stop a download
        }
    }

    /// UploadByURLComplete for `u` (planned with the app's settings and the UserData).
    async fn event_jobs(
        &self,
        u: &UrlUpload,
        video_id: Option<&str>,
        size: Option<i64>,
        error: Option<(&str, &str)>,
    ) -> Result<Vec<NewJob>, CoreError> {
        let event = events::upload_by_url_complete(&events::UrlUpload {
            job_id: u.job_id.clone(),
            source_url: u.upload_url.clone(),
            video_id: video_id.map(str::to_string),
            size,
            error: error.map(|(c, m)| EventError::new(c, m)),
        });
        let user_data = UserData::parse(&u.user_data).unwrap_or_default();
        let job = vod_callbacks::plan(
            self.store.as_ref(),
            &self.callbacks,
            &u.account_id,
            &u.app_id,
            Some(&user_data),
            event,
        )
        .await?;
        Ok(job.into_iter().collect())
    }

    /// Records a final failure with its event.
    async fn record_failure(
        &self,
        u: &UrlUpload,
        status: UrlUploadStatus,
        code: &str,
        message: &str,
    ) -> Result<(), JobError> {
        let fresh = self.store.get_url_upload(&u.job_id).await.ok().flatten();
        let media_id = fresh.as_ref().filter(|f| f.media_created).map(|f| f.media_id.clone());
        let jobs = self
            .event_jobs(u, media_id.as_deref(), None, Some((code, message)))
            .await
            .map_err(|e| JobError::retry(e.to_string()))?;
        let update = UrlUploadUpdate {
            error_code: Some(code.into()),
            error_message: Some(message.chars().take(1024).collect()),
            completed_at: Some(now_ms()),
            ..Default::default()
        };
        self.store
            .update_url_upload(&u.job_id, &[], status, &update, &jobs)
            .await
            .map_err(|e| JobError::retry(e.to_string()))?;
        let _ = tokio::fs::remove_file(self.part_path(&u.job_id)).await;
        Ok(())
    }

    async fn attempt(&self, u: &UrlUpload, ctx: &JobContext) -> Result<Value, Failure> {
        let part = self.part_path(&u.job_id);
        // A re-run after the source was accepted only has the finish left.
        let existing = if u.media_created {
            self.store.get_media_by_id(&u.media_id).await.map_err(core)?
        } else {
            None
        };
        let done = existing.as_ref().is_some_and(|m| m.source_generation > 0);
        let size = if done {
            existing.as_ref().and_then(|m| m.size).unwrap_or(0)
        } else {
            if u.status != UrlUploadStatus::Downloading {
                self.set_status(u, UrlUploadStatus::Downloading, UrlUploadUpdate::default())
                    .await?;
            }
            let t0 = Instant::now();
            let downloaded = self.download(u, &part, ctx).await?;
            let download_ms = t0.elapsed().as_millis();
            let size_i = i64::try_from(downloaded.size).unwrap_or(i64::MAX);
            self.set_status(
                u,
                UrlUploadStatus::DownloadSuccess,
                UrlUploadUpdate {
                    file_size: Some(size_i),
                    ..Default::default()
                },
            )
            .await?;
            let timeout = Duration::from_secs(self.config.probe_timeout_secs.max(1));
            let t1 = Instant::now();
            let tools = Tools::new("ffmpeg", &self.config.ffprobe);
            let probe = vod_media::probe(&tools, &part, timeout)
                .await
                .map_err(|e| Failure::Transient {
                    status: UrlUploadStatus::UploadFail,
                    code: codes::NOT_MEDIA,
                    message: format!("the media probe could not run: {e}"),
                })?;
            let media = self.ensure_media(u).await?;
            if let ProbeOutcome::NotMedia(why) = probe {
                let reason = format!("the downloaded file is not audio or video: {why}");
                let _ = self
                    .store
                    .set_media_damaged(&media.media_id, media.source_generation, &reason, now_ms())
                    .await;
                return Err(Failure::Permanent {
                    status: UrlUploadStatus::UploadFail,
                    code: codes::NOT_MEDIA,
                    message: "The downloaded file is not a valid audio or video file.".into(),
                });
            }
            if media.is_damaged() {
                return Err(Failure::Permanent {
                    status: UrlUploadStatus::UploadFail,
                    code: codes::NOT_MEDIA,
                    message: "The media is damaged.".into(),
                });
            }
            let probe_ms = t1.elapsed().as_millis();
            let t2 = Instant::now();
            self.store_source(&media, &part, &downloaded).await?;
            tracing::info!(
                job = %u.job_id,
                media = %u.media_id,
                bytes = downloaded.size,
                download_ms,
                probe_ms,
                store_ms = t2.elapsed().as_millis(),
                "url pull stored"
            );
            self.set_status(u, UrlUploadStatus::UploadSuccess, UrlUploadUpdate::default())
                .await?;
            size_i
        };
        let jobs = self
            .event_jobs(u, Some(&u.media_id), Some(size), None)
            .await
            .map_err(core)?;
        let update = UrlUploadUpdate {
            media_created: Some(true),
            file_size: Some(size),
            completed_at: Some(now_ms()),
            ..Default::default()
        };
        match self
            .store
            .update_url_upload(&u.job_id, &[], UrlUploadStatus::Success, &update, &jobs)
            .await
        {
            Ok(_) => {}
            Err(e) => return Err(core(e)),
        }
        let _ = tokio::fs::remove_file(&part).await;
        Ok(json!({"media_id": u.media_id, "size": size}))
    }
}

fn hex_lower(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

#[async_trait]
impl JobHandler for UrlPullHandler {
    fn kind(&self) -> &'static str {
        JOB_URL_PULL
    }

    fn concurrency(&self) -> usize {
        self.config.concurrency.max(1)
    }

    async fn run(&self, job: &Job, ctx: &JobContext) -> Result<Value, JobError> {
        let Some(job_id) = job.payload.get("job_id").and_then(Value::as_str) else {
            return Err(JobError::abort("payload of upload.url_pull has no job_id"));
        };
        let u = match self.store.get_url_upload(job_id).await {
            Ok(Some(u)) => u,
            Ok(None) => return Ok(json!({"skipped": "no such url upload"})),
            Err(e) => return Err(JobError::retry(e.to_string())),
        };
        if u.status.is_final() {
            let _ = tokio::fs::remove_file(self.part_path(job_id)).await;
            return Ok(json!({"status": u.status.as_str()}));
        }
        if let Err(e) = tokio::fs::create_dir_all(&self.tmp_dir).await {
            return Err(JobError::retry(format!(
                "cannot create {}: {e}",
                self.tmp_dir.display()
            )));
        }
        let last = ctx.attempt >= job.max_attempts;
        match self.attempt(&u, ctx).await {
            Ok(v) => Ok(v),
            Err(Failure::Stopped) => {
                let _ = tokio::fs::remove_file(self.part_path(job_id)).await;
                Ok(json!({"stopped": true}))
            }
            Err(Failure::Interrupted) => Err(JobError::retry("interrupted; the download resumes")),
            Err(Failure::Transient { status, code, message }) if last => {
                self.record_failure(&u, status, code, &message).await?;
                Err(JobError::abort(message))
            }
            Err(Failure::Transient { message, .. }) => {
                tracing::info!(job = job_id, error = %message, "url pull attempt failed; retrying");
                Err(JobError::retry(message))
            }
            Err(Failure::Permanent { status, code, message }) => {
                self.record_failure(&u, status, code, &message).await?;
                Err(JobError::abort(message))
            }
        }
    }
}

/// The handler, built from the configuration (`None` with a logged error when the
/// `[url_upload]` address settings are invalid or the object store cannot be opened).
pub fn handler(config: &crate::config::Config, store: &Arc<dyn MetaStore>) -> Option<UrlPullHandler> {
    let blobs = match BlobStore::open(&config.storage_url, &config.data_dir.join("objects")) {
        Ok(b) => b,
        Err(e) => {
            tracing::error!(error = %e, "url pulls disabled: object storage");
            return None;
        }
    };
    let media_config: MediaConfig = config.gateway.upload.clone();
    let media = Arc::new(MediaService::new(store.clone(), media_config));
    media.set_event_planner(Arc::new(vod_callbacks::CallbackPlanner::new(
        store.clone(),
        config.callbacks.clone(),
    )));
    match UrlPullHandler::new(
        store.clone(),
        media,
        blobs,
        config.url_upload.clone(),
        config.callbacks.clone(),
        config.data_dir.join("tmp").join("url-pull"),
        local_blob_root(&config.storage_url, &config.data_dir),
    ) {
        Ok(h) => Some(h),
        Err(e) => {
            tracing::error!(error = %e, "url pulls disabled: invalid [url_upload] settings");
            None
        }
    }
}

/// The directory of a filesystem object store (`None` for S3), as `BlobStore::open` reads
/// `storage_url`: empty = `<data_dir>/objects`, `fs://`/`file://` or a plain path.
fn local_blob_root(storage_url: &str, data_dir: &Path) -> Option<PathBuf> {
    let url = storage_url.trim();
    let path = if url.is_empty() {
        data_dir.join("objects")
    } else {
        let p = url
            .strip_prefix("fs://")
            .or_else(|| url.strip_prefix("file://"))
            .unwrap_or(url);
        if p.contains("://") || p.is_empty() {
            return None;
        }
        PathBuf::from(p)
    };
    std::fs::canonicalize(path).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn blob_roots() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(dir.path().join("objects")).unwrap();
        let root = local_blob_root("", dir.path()).unwrap();
        assert!(root.ends_with("objects"));
        let fs = format!("fs://{}", dir.path().display());
        assert_eq!(
            local_blob_root(&fs, Path::new("/x")).unwrap(),
            std::fs::canonicalize(dir.path()).unwrap()
        );
        assert_eq!(local_blob_root("s3://b?endpoint=http://h", dir.path()), None);
    }
}
