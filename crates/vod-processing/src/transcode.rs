//! `media.transcode`: probe the source, run the template group's ladder in one ffmpeg
//! process, upload the renditions, take the cover, and publish streams, status and events
//! in one transaction.
//!
//! Status: `UploadSucc` / `TranscodeFail` → `Transcoding` while ffmpeg runs (a `Normal`
//! media being re-transcoded stays playable), then `Normal` when at least one stream was
//! published, or `TranscodeFail` when ffmpeg failed for good (timeout, unreadable input);
//! a source the probe cannot read is marked damaged instead. The job error of a failed
//! transcode keeps ffmpeg's stderr.

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use vod_callbacks::EventError;
use vod_callbacks::events::StreamInfo;
use vod_core::model::media::JOB_MEDIA_TRANSCODE;
use vod_core::model::{Job, Media, MediaStatus, MediaStream, Publication};
use vod_jobs::payload::{JobPayload, decode};
use vod_jobs::{JobContext, JobError, JobHandler};
use vod_media::ToolError;

use crate::outputs::{key_for, run_prefix, upload_file};
use crate::probe::{current_media, probe_source, publish_original};
use crate::snapshot::run_snapshots;
use crate::{Processing, derived_id, events};

/// The payload of `media.transcode` (`vod_core::service::media::processing_job` writes the
/// first three fields; SubmitTranscodeJobs may add the others).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct TranscodePayload {
    pub media_id: String,
    pub generation: i64,
    /// The group to use instead of the media's own.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub template_group_id: Option<String>,
    /// UserData of the SubmitTranscodeJobs call (callback URL and Extend for this run).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user_data: Option<String>,
}

impl JobPayload for TranscodePayload {
    const KIND: &'static str = JOB_MEDIA_TRANSCODE;
    const VERSION: u32 = 1;
}

pub struct TranscodeHandler(pub Arc<Processing>);

#[async_trait]
impl JobHandler for TranscodeHandler {
    fn kind(&self) -> &'static str {
        JOB_MEDIA_TRANSCODE
    }

    fn concurrency(&self) -> usize {
        self.0.config.concurrency.max(1)
    }

    async fn run(&self, job: &Job, ctx: &JobContext) -> Result<Value, JobError> {
        let payload: TranscodePayload = decode(job)?;
        let p = &self.0;
        let Some(media) = current_media(p, &payload.media_id, payload.generation).await? else {
            return Ok(json!({"skipped": "the media was deleted or its source replaced"}));
        };
        let group_id = payload
            .template_group_id
            .clone()
            .unwrap_or_else(|| media.template_group_id.clone());
        let group =
            vod_core::service::templates::resolve_group(p.store.as_ref(), &media.account_id, &media.app_id, &group_id)
                .await
                .map_err(|e| JobError::retry(e.to_string()))?
                .ok_or_else(|| JobError::abort(format!("template group {group_id} does not exist")))?;

        let work = p.work_dir(&job.id)?;
        let source = crate::source::fetch(p, &media, &work.0).await?;
        let Some(info) = probe_source(p, &media, payload.generation, &source).await? else {
            return Ok(json!({"damaged": true}));
        };
        if group.templates.is_empty() {
            return publish_original(p, &media, payload.generation, &info, &job.id).await;
        }
        let renditions = vod_media::plan(&group.templates, &info);
        if renditions.is_empty() {
            return Err(JobError::abort("the template group has no template for this source"));
        }
        let now = vod_core::now_ms();
        p.store
            .set_media_status(
                &media.media_id,
                payload.generation,
                &[MediaStatus::UploadSucc, MediaStatus::TranscodeFail],
                MediaStatus::Transcoding,
                now,
            )
            .await
            .map_err(|e| JobError::retry(e.to_string()))?;

        let out_dir = work.0.join("out");
        let opts = vod_media::EncodeOptions {
            preset: p.config.preset.clone(),
            threads: p.config.threads,
            ..Default::default()
        };
        let command = vod_media::build(&source, &out_dir, &renditions, &opts);
        let timeout = Duration::from_secs(p.config.transcode_timeout_secs.max(1));
        let cancel = crate::CancelBridge::new(ctx);
        let outputs = match vod_media::transcode(&p.tools, &command, timeout, cancel.token()).await {
            Ok(outputs) => outputs,
            Err(ToolError::Cancelled) => return Err(JobError::retry("cancelled: the node is shutting down")),
            Err(e @ (ToolError::NotFound { .. } | ToolError::Spawn { .. })) => {
                return Err(JobError::retry(e.to_string()));
            }
            Err(e) => return fail(p, &media, &payload, &job.id, &renditions, e).await,
        };

        let prefix = run_prefix(&media, "streams", &job.id);
        let bucket = media.storage_location.clone();
        let mut streams = Vec::new();
        let mut infos = Vec::new();
        for out in &outputs {
            let mut keys = Vec::new();
            for file in &out.files {
                let key = key_for(&prefix, &out_dir, file);
                upload_file(p, &media, &bucket, &key, file)
                    .await
                    .map_err(JobError::retry)?;
                keys.push(key);
            }
            let Some((main, segments)) = keys.split_first() else {
                continue;
            };
            // The master playlist is not a rendition's file; it stays out of the stream rows.
            let stream = MediaStream {
                stream_id: derived_id(&[&job.id, &out.definition, &out.format]),
                media_id: media.media_id.clone(),
                account_id: media.account_id.clone(),
                job_id: job.id.clone(),
                definition: out.definition.clone(),
                format: out.format.clone(),
                stream_type: out.stream_type.clone(),
                bucket: bucket.clone(),
                object_key: main.clone(),
                segments: segments.to_vec(),
                bitrate: out.bitrate.clone(),
                duration: out.duration.clone(),
                fps: out.fps.clone(),
                width: i64::from(out.width),
                height: i64::from(out.height),
                size: i64::try_from(out.size).unwrap_or(i64::MAX),
                specification: out.specification.clone(),
                codec_name: out.codec_name.clone(),
                source_generation: payload.generation,
                created_at: now,
            };
            infos.push(stream_info(p, &stream));
            streams.push(stream);
        }
        if let Some(master) = &command.master_playlist {
            let key = key_for(&prefix, &out_dir, master);
            upload_file(p, &media, &bucket, &key, master)
                .await
                .map_err(JobError::retry)?;
        }

        let mut publication = Publication {
            media_id: media.media_id.clone(),
            source_generation: payload.generation,
            streams,
            snapshot_sets: Vec::new(),
            status: Some((
                vec![
                    MediaStatus::Transcoding,
                    MediaStatus::UploadSucc,
                    MediaStatus::TranscodeFail,
                ],
                MediaStatus::Normal,
            )),
            cover_url: None,
            snapshots: None,
            now_ms: vod_core::now_ms(),
        };
        let mut jobs = events::transcode_events(p, &media, payload.user_data.as_deref(), &job.id, &infos)
            .await
            .map_err(|e| JobError::retry(e.to_string()))?;
        if info.has_video
            && let Some(shots) = run_snapshots(p, &media, &source, &info, &work.0, &job.id, ctx).await?
        {
            publication.cover_url = shots.cover_url;
            publication.snapshots = Some(shots.urls);
            publication.snapshot_sets = shots.sets;
            jobs.extend(shots.event_jobs);
        }
        let count = publication.streams.len();
        match p.store.publish(&publication, &jobs).await {
            Ok(true) => Ok(json!({"streams": count})),
            Ok(false) => Ok(json!({"skipped": "the media was deleted or its source replaced"})),
            // A re-run of a run that was already published (same stream ids).
            Err(vod_core::CoreError::AlreadyExists { .. }) => Ok(json!({"streams": count, "already": true})),
            Err(e) => Err(JobError::retry(e.to_string())),
        }
    }
}

/// The StreamInfo of a published stream (events carry the unsigned play URL).
fn stream_info(p: &Processing, s: &MediaStream) -> StreamInfo {
    StreamInfo {
        job_id: s.job_id.clone(),
        definition: s.definition.clone(),
        format: s.format.clone(),
        bitrate: s.bitrate.clone(),
        duration: s.duration.parse().unwrap_or(0.0),
        encrypt: false,
        file_url: p.media.play_url(&s.bucket, &s.object_key),
        fps: s.fps.clone(),
        height: s.height,
        width: s.width,
        size: s.size,
        error: None,
    }
}

/// Records a failed transcode: `TranscodeFail` (unless the media is still playable from an
/// earlier run), failed stream events, and the job fails with ffmpeg's stderr.
async fn fail(
    p: &Processing,
    media: &Media,
    payload: &TranscodePayload,
    job_id: &str,
    renditions: &[vod_media::Rendition],
    error: ToolError,
) -> Result<Value, JobError> {
    let (code, message) = match &error {
        ToolError::Timeout { .. } => (
            "TranscodeTimeout",
            "The transcode took longer than allowed.".to_string(),
        ),
        _ => ("TranscodeFailed", "The source could not be transcoded.".to_string()),
    };
    let infos: Vec<StreamInfo> = renditions
        .iter()
        .map(|r| StreamInfo {
            job_id: job_id.to_string(),
            definition: r.definition.clone(),
            format: r.format.clone(),
            error: Some(EventError::new(code, message.clone())),
            ..Default::default()
        })
        .collect();
    let jobs = events::transcode_events(p, media, payload.user_data.as_deref(), job_id, &infos)
        .await
        .map_err(|e| JobError::retry(e.to_string()))?;
    let publication = Publication {
        media_id: media.media_id.clone(),
        source_generation: payload.generation,
        streams: Vec::new(),
        snapshot_sets: Vec::new(),
        status: Some((vec![MediaStatus::Transcoding], MediaStatus::TranscodeFail)),
        cover_url: None,
        snapshots: None,
        now_ms: vod_core::now_ms(),
    };
    match p.store.publish(&publication, &jobs).await {
        Ok(_) | Err(vod_core::CoreError::AlreadyExists { .. }) => Err(JobError::abort(error.to_string())),
        Err(e) => Err(JobError::retry(e.to_string())),
    }
}
