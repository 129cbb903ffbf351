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
use bytes::Bytes;
use serde_json::{Value, json};
use tokio::io::AsyncReadExt;
use vod_blob::BlobStore;
use vod_callbacks::events::{self, EventError};
use vod_callbacks::outbound::blocked_reason;
use vod_callbacks::{CallbacksConfig, OutboundClient, OutboundPolicy, Timeouts, UserData};
use vod_core::model::media::{Media, MediaScope, MediaType, created_at_of_id, vod_media_type_of};
use vod_core::model::url_upload::{JOB_URL_PULL, UrlUpload, UrlUploadConfig, UrlUploadStatus, UrlUploadUpdate, codes};
use vod_core::model::{Job, NewJob, ObjectType, StoredObject};
use vod_core::ports::MetaStore;
use vod_core::service::media::{MediaConfig, MediaService};
use vod_core::uploads::{CompletedObject, UploadEvents};
use vod_core::{CoreError, now_ms};
use vod_jobs::{JobContext, JobError, JobHandler};

use vod_media::{ProbeOutcome, Tools};

use self::sink::{Downloaded, Sink, hash_file};

mod sink;

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

    /// Downloads into the part file (resuming it when present); returns its final size.
    async fn download(&self, u: &UrlUpload, part: &Path, ctx: &JobContext) -> Result<Downloaded, Failure> {
        let url = url::Url::parse(&u.upload_url)
            .map_err(|e| permanent(codes::URL_INVALID, format!("the URL cannot be used: {e}")))?;
        if let Err(e) = self.client.check_url(&url) {
            return Err(permanent(codes::URL_FORBIDDEN, e.to_string()));
        }
        let max = self.config.max_file_bytes;
        let have = tokio::fs::metadata(part).await.map(|m| m.len()).unwrap_or(0);
        let mut req = self
            .client
            .request(reqwest::Method::GET, &url)
            .map_err(|e| permanent(codes::URL_FORBIDDEN, e.to_string()))?;
        if have > 0 {
            req = req.header("Range", format!("bytes={have}-"));
        }
        let header_timeout = Duration::from_secs(self.config.header_timeout_secs.max(1));
        let resp = match tokio::time::timeout(header_timeout, req.send()).await {
            Err(_) => {
                return Err(transient(codes::DOWNLOAD_FAILED, "the origin did not answer in time"));
            }
            Ok(Err(e)) => {
                if let Some(b) = blocked_reason(&e) {
                    return Err(if b.is_permanent() {
                        permanent(codes::URL_FORBIDDEN, b.to_string())
                    } else {
                        transient(codes::URL_INVALID, b.to_string())
                    });
                }
                return Err(transient(codes::DOWNLOAD_FAILED, format!("request failed: {e}")));
            }
            Ok(Ok(r)) => r,
        };
        let status = resp.status().as_u16();
        let (mut sink, mut size) = match status {
            206 if have > 0 => {
                let start = resp
                    .headers()
                    .get("content-range")
                    .and_then(|v| v.to_str().ok())
                    .and_then(|v| v.strip_prefix("bytes "))
                    .and_then(|v| v.split('-').next())
                    .and_then(|v| v.trim().parse::<u64>().ok());
                if start != Some(have) {
                    // Not the range we asked for: start over next attempt.
                    let _ = tokio::fs::remove_file(part).await;
                    return Err(transient(
                        codes::DOWNLOAD_FAILED,
                        "the origin answered an unexpected range",
                    ));
                }
                (Sink::open(part, have), have)
            }
            200 => (Sink::open(part, 0), 0),
            416 if have > 0 => {
                // We already have everything.
                return hash_file(part)
                    .await
                    .map_err(|e| store_failure(format!("cannot read the download file: {e}")));
            }
            408 | 425 | 429 | 500..=599 => {
                return Err(transient(
                    codes::DOWNLOAD_FAILED,
                    format!("the origin answered HTTP {status}"),
                ));
            }
            _ => {
                return Err(permanent(
                    codes::URL_INVALID,
                    format!("the origin answered HTTP {status}"),
                ));
            }
        };
        if let Some(len) = resp.content_length()
            && size.saturating_add(len) > max
        {
            sink.abandon().await;
            let _ = tokio::fs::remove_file(part).await;
            return Err(permanent(
                codes::FILE_TOO_LARGE,
                format!("the file is {} bytes, more than the limit of {max}", size + len),
            ));
        }
        let idle = Duration::from_secs(self.config.idle_timeout_secs.max(1));
        let mut resp = resp;
        let mut last_check = Instant::now();
        let failed = loop {
            if ctx.cancelled.is_cancelled() {
                break Failure::Interrupted;
            }
            if last_check.elapsed() >= CANCEL_CHECK {
                last_check = Instant::now();
                if let Err(f) = self.still_wanted(&u.job_id).await {
                    break f;
                }
            }
            let chunk: Option<Bytes> = match tokio::time::timeout(idle, resp.chunk()).await {
                Err(_) => {
                    break transient(codes::DOWNLOAD_FAILED, format!("no data for {}s", idle.as_secs()));
                }
                Ok(Err(e)) => {
                    break transient(codes::DOWNLOAD_FAILED, format!("the download broke off: {e}"));
                }
                Ok(Ok(c)) => c,
            };
            let Some(chunk) = chunk else {
                let (md5, crc64) = sink
                    .finish()
                    .await
                    .map_err(|e| store_failure(format!("cannot write the download file: {e}")))?;
                if size == 0 {
                    let _ = tokio::fs::remove_file(part).await;
                    return Err(permanent(codes::URL_INVALID, "the origin sent an empty file"));
                }
                return Ok(Downloaded { size, md5, crc64 });
            };
            size += chunk.len() as u64;
            if size > max {
                sink.abandon().await;
                let _ = tokio::fs::remove_file(part).await;
                return Err(permanent(
                    codes::FILE_TOO_LARGE,
                    format!("the file is larger than the limit of {max} bytes"),
                ));
            }
            if !sink.push(chunk).await {
                let e = sink.finish().await.err();
                return Err(store_failure(format!(
                    "cannot write the download file: {}",
                    e.map_or_else(|| "writer stopped".to_string(), |e| e.to_string())
                )));
            }
        };
        // Whatever arrived stays in the part file for the next attempt's Range request.
        sink.abandon().await;
        Err(failed)
    }

    /// The media of this job, created on first use with the id chosen at submission.
    async fn ensure_media(&self, u: &UrlUpload) -> Result<Media, Failure> {
        if let Some(m) = self.store.get_media_by_id(&u.media_id).await.map_err(core)? {
            return Ok(m);
        }
        let ext = u.meta.file_extension.clone();
        let media_type = vod_media_type_of(&format!("x.{ext}")).map_or(MediaType::Video, |(t, _)| t);
        let created = created_at_of_id(&u.media_id).unwrap_or_else(now_ms);
        let mut m = Media::new(
            u.media_id.clone(),
            u.account_id.clone(),
            u.app_id.clone(),
            MediaScope::Vod,
            media_type,
            created,
        );
        m.title = u.meta.title.clone();
        m.description = u.meta.description.clone();
        m.tags = u.meta.tags.clone();
        m.cate_id = u.meta.cate_id;
        m.cover_url = u.meta.cover_url.clone();
        m.user_data = u.user_data.clone();
        m.template_group_id = u.meta.template_group_id.clone();
        m.workflow_id = u.meta.workflow_id.clone();
        m.declared_size = u.meta.declared_size;
        let name = u.upload_url.split(['?', '#']).next().unwrap_or_default();
        m.file_name = name.rsplit('/').next().unwrap_or_default().to_string();
        let mut extra = u.meta.extra.clone();
        if let Some(o) = extra.as_object_mut() {
            o.insert("SourceURL".into(), Value::from(u.upload_url.clone()));
            o.insert("UrlUploadJobId".into(), Value::from(u.job_id.clone()));
        }
        m.extra = extra;
        self.media.assign_storage(&mut m, &ext);
        match self.store.create_media(&m).await {
            Ok(()) => {}
            Err(CoreError::AlreadyExists { kind: "Media", .. }) => {}
            Err(e) => return Err(core(e)),
        }
        self.set_status(
            u,
            UrlUploadStatus::Uploading,
            UrlUploadUpdate {
                media_created: Some(true),
                ..Default::default()
            },
        )
        .await?;
        self.store
            .get_media_by_id(&u.media_id)
            .await
            .map_err(core)?
            .ok_or(Failure::Stopped)
    }

    /// Streams the part file into the object store as the media's source and reports it.
    async fn copy_into_blob(&self, part: &Path, blob: &str) -> Result<Downloaded, Failure> {
        let mut writer = self
            .blobs
            .writer(blob)
            .await
            .map_err(|e| store_failure(e.to_string()))?;
        let copied = async {
            let mut file = tokio::fs::File::open(part)
                .await
                .map_err(|e| store_failure(format!("cannot read the download file: {e}")))?;
            loop {
                let mut buf = vec![0u8; COPY_CHUNK];
                let mut filled = 0;
                while filled < COPY_CHUNK {
                    let n = file
                        .read(&mut buf[filled..])
                        .await
                        .map_err(|e| store_failure(format!("cannot read the download file: {e}")))?;
                    if n == 0 {
                        break;
                    }
                    filled += n;
                }
                if filled == 0 {
                    return Ok(());
                }
                buf.truncate(filled);
                writer
                    .write(Bytes::from(buf))
                    .await
                    .map_err(|e| store_failure(e.to_string()))?;
            }
        }
        .await;
        if let Err(e) = copied {
            writer.abort().await;
            return Err(e);
        }
        let out = writer.finish().await.map_err(|e| store_failure(e.to_string()))?;
        Ok(Downloaded {
            size: out.size,
            md5: out.md5,
            crc64: out.crc64,
        })
    }

    /// Moves the part file into the local blob root as `blob` (one rename, no copy). `None`
    /// when objects are not on the local filesystem or the rename is impossible (another
    /// filesystem): the caller copies instead.
    async fn adopt(&self, part: &Path, blob: &str, dl: &Downloaded) -> Option<Downloaded> {
        let root = self.local_root.as_ref()?;
        let target = root.join(blob);
        let parent = target.parent()?.to_path_buf();
        tokio::fs::create_dir_all(&parent).await.ok()?;
        if let Err(e) = tokio::fs::rename(part, &target).await {
            tracing::debug!(error = %e, "cannot rename the download into the blob root; copying");
            return None;
        }
        // The rename is durable once the directory is.
        let _ = tokio::task::spawn_blocking(move || std::fs::File::open(parent)?.sync_all()).await;
        Some(Downloaded {
            size: dl.size,
            md5: dl.md5,
            crc64: dl.crc64,
        })
    }

    async fn store_source(&self, media: &Media, part: &Path, dl: &Downloaded) -> Result<(), Failure> {
        let blob = BlobStore::new_blob_name();
        let out = match self.adopt(part, &blob, dl).await {
            Some(out) => out,
            None => self.copy_into_blob(part, &blob).await?,
        };
        let md5_hex = hex_lower(&out.md5);
        let object = StoredObject {
            bucket: media.storage_location.clone(),
            key: media.object_key.clone(),
            object_id: vod_core::ids::hex_id(),
            account_id: media.account_id.clone(),
            size: out.size,
            etag: md5_hex.to_ascii_uppercase(),
            md5_hex: Some(md5_hex.clone()),
            crc64: out.crc64,
            content_type: "application/octet-stream".into(),
            object_type: ObjectType::Normal,
            blob: Some(blob.clone()),
            part_count: 0,
            media_id: Some(media.media_id.clone()),
            created_at: now_ms(),
            notified: false,
        };
        match self.store.put_object(&object).await {
            Ok(old) => {
                self.blobs.delete_all(&old).await;
            }
            Err(e) => {
                self.blobs.delete_all(&[blob]).await;
                return Err(core(e));
            }
        }
        let completed = CompletedObject {
            account_id: object.account_id.clone(),
            bucket: object.bucket.clone(),
            key: object.key.clone(),
            size: object.size,
            md5_hex,
            etag: object.etag.clone(),
            crc64: object.crc64,
            content_type: Some(object.content_type.clone()),
            media_id: object.media_id.clone(),
        };
        self.media.object_completed(&completed).await.map_err(core)?;
        let _ = self.store.mark_object_notified(&object.object_id).await;
        Ok(())
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

    #[tokio::test]
    async fn sink_hashes_what_it_writes_and_resumes() {
        let dir = tempfile::tempdir().unwrap();
        let part = dir.path().join("x.part");
        let mut sink = Sink::open(&part, 0);
        assert!(sink.push(Bytes::from_static(b"hello ")).await);
        sink.finish().await.unwrap();
        let mut sink = Sink::open(&part, 6);
        assert!(sink.push(Bytes::from_static(b"world")).await);
        let (md5, crc) = sink.finish().await.unwrap();
        assert_eq!(std::fs::read(&part).unwrap(), b"hello world");
        assert_eq!(md5, vod_auth::md5sum::md5(b"hello world"));
        assert_eq!(crc, vod_auth::crc64::checksum(b"hello world"));
        let whole = hash_file(&part).await.unwrap();
        assert_eq!((whole.size, whole.md5, whole.crc64), (11, md5, crc));
    }
}
