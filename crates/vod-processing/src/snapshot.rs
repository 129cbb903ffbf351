//! Snapshots: `media.snapshot` jobs (SubmitSnapshotJob: `Count` images from
//! `SpecifiedOffsetTime` every `Interval`) and the cover a transcode takes. Images are
//! uploaded under `<prefix>snapshots/<run>/`, recorded as a snapshot set (ListSnapshots) and
//! announced with SnapshotComplete.

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use vod_callbacks::EventError;
use vod_callbacks::events::{SnapshotInfo, SnapshotResult};
use vod_core::model::stream::{SNAPSHOT_COVER, SNAPSHOT_NORMAL};
use vod_core::model::{Job, Media, NewJob, Publication, SnapshotSet};
use vod_jobs::payload::{JobPayload, decode};
use vod_jobs::{JobContext, JobError, JobHandler};
use vod_media::{ProbeInfo, SnapshotSpec, ToolError};

use crate::outputs::{run_prefix, upload_file};
use crate::probe::{current_media, probe_source};
use crate::{JOB_MEDIA_SNAPSHOT, Processing, events};

/// The payload of `media.snapshot` (SubmitSnapshotJob).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct SnapshotPayload {
    pub media_id: String,
    pub generation: i64,
    pub offset_ms: u64,
    pub count: u32,
    pub interval_ms: u64,
    #[serde(default)]
    pub width: Option<u32>,
    #[serde(default)]
    pub height: Option<u32>,
    #[serde(default)]
    pub user_data: Option<String>,
}

impl JobPayload for SnapshotPayload {
    const KIND: &'static str = JOB_MEDIA_SNAPSHOT;
    const VERSION: u32 = 1;
}

pub struct SnapshotHandler(pub Arc<Processing>);

#[async_trait]
impl JobHandler for SnapshotHandler {
    fn kind(&self) -> &'static str {
        JOB_MEDIA_SNAPSHOT
    }

    fn concurrency(&self) -> usize {
        self.0.config.concurrency.max(1)
    }

    async fn run(&self, job: &Job, ctx: &JobContext) -> Result<Value, JobError> {
        let payload: SnapshotPayload = decode(job)?;
        let p = &self.0;
        let Some(media) = current_media(p, &payload.media_id, payload.generation).await? else {
            return Ok(json!({"skipped": "the media was deleted or its source replaced"}));
        };
        let work = p.work_dir(&job.id)?;
        let source = crate::source::fetch(p, &media, &work.0).await?;
        let Some(info) = probe_source(p, &media, payload.generation, &source).await? else {
            return Ok(json!({"damaged": true}));
        };
        let spec = SnapshotSpec {
            offset_ms: payload.offset_ms,
            count: payload.count.max(1),
            interval_ms: payload.interval_ms,
            width: payload.width,
            height: payload.height,
            prefix: "normal".into(),
        };
        let taken = take(
            p,
            &media,
            &source,
            &info,
            &work.0,
            &job.id,
            "normal",
            &spec,
            SNAPSHOT_NORMAL,
            ctx,
        )
        .await;
        let (set, result) = match taken {
            Ok(done) => done,
            Err(TakeError::Job(e)) => return Err(e),
            Err(TakeError::Tool(e)) => (None, failed_result(&media, &job.id, SNAPSHOT_NORMAL, &e)),
        };
        let mut result = result;
        result.sub_type = Some("SpecifiedTime".into());
        let jobs = events::snapshot_event(p, &media, payload.user_data.as_deref(), &job.id, &result)
            .await
            .map_err(|e| JobError::retry(e.to_string()))?;
        let count = set.as_ref().map_or(0, |s| s.keys.len());
        let publication = Publication {
            media_id: media.media_id.clone(),
            source_generation: payload.generation,
            streams: Vec::new(),
            snapshot_sets: set.into_iter().collect(),
            status: None,
            cover_url: None,
            snapshots: None,
            now_ms: vod_core::now_ms(),
        };
        match p.store.publish(&publication, &jobs).await {
            Ok(_) | Err(vod_core::CoreError::AlreadyExists { .. }) => {}
            Err(e) => return Err(JobError::retry(e.to_string())),
        }
        match result.error {
            Some(e) => Err(JobError::abort(e.message)),
            None => Ok(json!({"snapshots": count})),
        }
    }
}

/// What a transcode run's snapshots add to its publication.
pub struct RunSnapshots {
    pub sets: Vec<SnapshotSet>,
    /// The cover's URL (CoverURL unless the caller set one; first of GetVideoInfo Snapshots).
    pub cover_url: Option<String>,
    /// Every image URL, cover first (GetVideoInfo `Snapshots`).
    pub urls: Vec<String>,
    /// One SnapshotComplete with a SnapshotInfo per set.
    pub event_jobs: Vec<NewJob>,
}

/// The snapshots a transcode run takes: the cover (`processing.cover`, one image near the
/// start) and `processing.snapshot_count` normal snapshots every `snapshot_interval_ms`.
/// A failure is logged and leaves that set out: snapshots do not fail the transcode.
pub async fn run_snapshots(
    p: &Processing,
    media: &Media,
    source: &Path,
    info: &ProbeInfo,
    work: &Path,
    run: &str,
    ctx: &JobContext,
) -> Result<Option<RunSnapshots>, JobError> {
    let mut wanted = Vec::new();
    if p.config.cover {
        let spec = SnapshotSpec {
            offset_ms: p.config.cover_offset_ms,
            count: 1,
            interval_ms: 0,
            width: None,
            height: None,
            prefix: "cover".into(),
        };
        wanted.push((run.to_string(), spec, SNAPSHOT_COVER));
    }
    if p.config.snapshot_count > 0 {
        let spec = SnapshotSpec {
            offset_ms: p.config.cover_offset_ms,
            count: p.config.snapshot_count,
            interval_ms: p.config.snapshot_interval_ms.max(1),
            width: None,
            height: None,
            prefix: "normal".into(),
        };
        wanted.push((crate::derived_id(&[run, "normal"]), spec, SNAPSHOT_NORMAL));
    }
    let mut out = RunSnapshots {
        sets: Vec::new(),
        cover_url: None,
        urls: Vec::new(),
        event_jobs: Vec::new(),
    };
    let mut infos = Vec::new();
    for (set_id, spec, kind) in wanted {
        match take(
            p,
            media,
            source,
            info,
            work,
            &set_id,
            &spec.prefix.clone(),
            &spec,
            kind,
            ctx,
        )
        .await
        {
            Ok((Some(set), result)) => {
                if kind == SNAPSHOT_COVER {
                    out.cover_url = result.cover_url.clone();
                }
                out.urls
                    .extend(set.keys.iter().map(|k| p.media.play_url(&set.bucket, k)));
                infos.extend(result.infos);
                out.sets.push(set);
            }
            Ok((None, _)) => {}
            Err(TakeError::Job(e)) => return Err(e),
            Err(TakeError::Tool(e)) => {
                tracing::warn!(media = %media.media_id, error = %e, "{kind} failed");
            }
        }
    }
    if out.sets.is_empty() {
        return Ok(None);
    }
    let result = SnapshotResult {
        video_id: media.media_id.clone(),
        sub_type: None,
        cover_url: out.cover_url.clone(),
        infos,
        error: None,
    };
    out.event_jobs = events::snapshot_event(p, media, None, run, &result)
        .await
        .map_err(|e| JobError::retry(e.to_string()))?;
    Ok(Some(out))
}

enum TakeError {
    Job(JobError),
    Tool(ToolError),
}

/// Runs ffmpeg for `spec`, uploads the images and describes them.
#[allow(clippy::too_many_arguments)]
async fn take(
    p: &Processing,
    media: &Media,
    source: &Path,
    info: &ProbeInfo,
    work: &Path,
    run: &str,
    name: &str,
    spec: &SnapshotSpec,
    snapshot_type: &str,
    ctx: &JobContext,
) -> Result<(Option<SnapshotSet>, SnapshotResult), TakeError> {
    if !info.has_video {
        return Err(TakeError::Tool(ToolError::Output(
            "the source has no video stream".into(),
        )));
    }
    let out = work.join(format!("snap-{name}"));
    let timeout = Duration::from_secs(p.config.probe_timeout_secs.max(60));
    let cancel = crate::CancelBridge::new(ctx);
    let files = match vod_media::snapshots(&p.tools, source, &out, spec, timeout, cancel.token()).await {
        Ok(files) => files,
        Err(ToolError::Cancelled) => return Err(TakeError::Job(JobError::retry("cancelled"))),
        Err(e @ (ToolError::NotFound { .. } | ToolError::Spawn { .. })) => {
            return Err(TakeError::Job(JobError::retry(e.to_string())));
        }
        Err(e) => return Err(TakeError::Tool(e)),
    };
    let prefix = run_prefix(media, "snapshots", run);
    let bucket = media.storage_location.clone();
    let mut keys = Vec::new();
    for file in &files {
        let file_name = file
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        let key = format!("{prefix}{file_name}");
        upload_file(p, media, &bucket, &key, file)
            .await
            .map_err(|e| TakeError::Job(JobError::retry(e)))?;
        keys.push(key);
    }
    let format = format!("{prefix}{name}-{{SnapshotCount}}.jpg");
    let info = SnapshotInfo {
        job_id: run.to_string(),
        snapshot_type: snapshot_type.to_string(),
        snapshot_count: keys.len() as i64,
        snapshot_regular: p
            .media
            .play_url(&bucket, &format)
            .replace("%7B", "{")
            .replace("%7D", "}"),
        snapshot_format: format,
        error: None,
    };
    let cover_url = (snapshot_type == SNAPSHOT_COVER)
        .then(|| keys.first().map(|k| p.media.play_url(&bucket, k)))
        .flatten();
    let result = SnapshotResult {
        video_id: media.media_id.clone(),
        sub_type: None,
        cover_url,
        infos: vec![info],
        error: None,
    };
    let set = SnapshotSet {
        job_id: run.to_string(),
        media_id: media.media_id.clone(),
        account_id: media.account_id.clone(),
        snapshot_type: snapshot_type.to_string(),
        bucket,
        keys,
        created_at: vod_core::now_ms(),
    };
    Ok((Some(set), result))
}

fn failed_result(media: &Media, run: &str, snapshot_type: &str, e: &ToolError) -> SnapshotResult {
    let error = EventError::new("SnapshotFailed", e.to_string());
    SnapshotResult {
        video_id: media.media_id.clone(),
        sub_type: None,
        cover_url: None,
        infos: vec![SnapshotInfo {
            job_id: run.to_string(),
            snapshot_type: snapshot_type.to_string(),
            error: Some(error.clone()),
            ..Default::default()
        }],
        error: Some(error),
    }
}
