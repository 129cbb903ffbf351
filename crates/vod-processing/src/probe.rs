//! `media.probe` (sources that are not transcoded) and the probe step every processing job
//! starts with: ffprobe the local copy, record duration, size, bitrate, fps, dimensions and
//! the stream lists of GetMezzanineInfo, or mark the media damaged when the file is not
//! decodable media. A VOD source that is not transcoded but playable as it is (mp4, m3u8,
//! flv, mp3, webm) is published as one `OD` stream and the media becomes `Normal`; an ICE
//! asset becomes `Normal` (ICE `Normal`) once probed.

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use serde_json::{Value, json};
use vod_core::model::media::{JOB_MEDIA_PROBE, SourceInfo, extension_of};
use vod_core::model::{Job, Media, MediaStatus, MediaStream, MediaType, Publication};
use vod_jobs::{JobContext, JobError, JobHandler};
use vod_media::{ProbeInfo, ProbeOutcome};

use crate::{Processing, derived_id};

/// Formats a player can play without transcoding (the no-transcode group publishes them).
pub const PLAYABLE_FORMATS: &[&str] = &["mp4", "m3u8", "flv", "mp3", "webm"];

pub struct ProbeHandler(pub Arc<Processing>);

#[async_trait]
impl JobHandler for ProbeHandler {
    fn kind(&self) -> &'static str {
        JOB_MEDIA_PROBE
    }

    async fn run(&self, job: &Job, _: &JobContext) -> Result<Value, JobError> {
        let media_id = job.payload["media_id"].as_str().unwrap_or_default().to_string();
        let generation = job.payload["generation"]
            .as_i64()
            .ok_or_else(|| JobError::abort("payload has no generation"))?;
        let p = &self.0;
        let Some(media) = current_media(p, &media_id, generation).await? else {
            return Ok(json!({"skipped": "the media was deleted or its source replaced"}));
        };
        let work = p.work_dir(&job.id)?;
        let source = crate::source::fetch(p, &media, &work.0).await?;
        let Some(info) = probe_source(p, &media, generation, &source).await? else {
            return Ok(json!({"damaged": true}));
        };
        if media.scope == vod_core::model::MediaScope::Vod {
            return publish_original(p, &media, generation, &info, &job.id).await;
        }
        // An ICE asset without a workflow is ready once its source is known to be media.
        p.store
            .set_media_status(
                &media.media_id,
                generation,
                &[MediaStatus::UploadSucc],
                MediaStatus::Normal,
                vod_core::now_ms(),
            )
            .await
            .map_err(|e| JobError::retry(e.to_string()))?;
        Ok(json!({"probed": true}))
    }
}

/// The media when it still exists, has source `generation` and is not damaged.
pub async fn current_media(p: &Processing, media_id: &str, generation: i64) -> Result<Option<Media>, JobError> {
    let media = p
        .store
        .get_media_by_id(media_id)
        .await
        .map_err(|e| JobError::retry(e.to_string()))?;
    Ok(media.filter(|m| m.source_generation == generation && !m.is_damaged()))
}

/// Probes `file`, the source of `media` at `generation`: records what it found and returns
/// it, or marks the media damaged and returns `None`.
pub async fn probe_source(
    p: &Processing,
    media: &Media,
    generation: i64,
    file: &Path,
) -> Result<Option<ProbeInfo>, JobError> {
    let timeout = Duration::from_secs(p.config.probe_timeout_secs.max(1));
    let now = vod_core::now_ms();
    match vod_media::probe(&p.tools, file, timeout).await {
        Ok(ProbeOutcome::Media(info)) => {
            p.store
                .record_source_info(&media.media_id, generation, &source_info(&info), now)
                .await
                .map_err(|e| JobError::retry(e.to_string()))?;
            Ok(Some(info))
        }
        Ok(ProbeOutcome::NotMedia(reason)) => {
            let reason = format!("the source is not decodable media: {reason}");
            p.store
                .set_media_damaged(&media.media_id, generation, &reason, now)
                .await
                .map_err(|e| JobError::retry(e.to_string()))?;
            Ok(None)
        }
        Err(e) => Err(JobError::retry(format!("probe: {e}"))),
    }
}

/// What the media record keeps of a probe.
pub fn source_info(info: &ProbeInfo) -> SourceInfo {
    let text = |s: &str| (!s.is_empty()).then(|| s.to_string());
    SourceInfo {
        duration: (info.duration > 0.0).then_some(info.duration),
        width: (info.width > 0).then(|| i64::from(info.width)),
        height: (info.height > 0).then(|| i64::from(info.height)),
        bitrate: text(&info.bitrate),
        fps: text(&info.fps),
        streams: Some(json!({
            "VideoStreamList": info.video_streams,
            "AudioStreamList": info.audio_streams,
        })),
    }
}

/// Publishes the source itself as the `OD` stream (no-transcode group) when its format is
/// playable; the media becomes `Normal`. Otherwise it stays `UploadSucc`.
pub async fn publish_original(
    p: &Processing,
    media: &Media,
    generation: i64,
    info: &ProbeInfo,
    run: &str,
) -> Result<Value, JobError> {
    let format = extension_of(&media.object_key).unwrap_or_default();
    if !PLAYABLE_FORMATS.contains(&format.as_str()) {
        return Ok(json!({"published": false, "reason": "the source format is not playable as it is"}));
    }
    let audio = media.media_type == MediaType::Audio || !info.has_video;
    let now = vod_core::now_ms();
    let stream = MediaStream {
        stream_id: derived_id(&[run, "OD", &format]),
        media_id: media.media_id.clone(),
        account_id: media.account_id.clone(),
        job_id: run.to_string(),
        definition: "OD".into(),
        format,
        stream_type: if audio { "audio" } else { "video" }.into(),
        bucket: media.storage_location.clone(),
        object_key: media.object_key.clone(),
        segments: Vec::new(),
        bitrate: info.bitrate.clone(),
        duration: format!("{:.3}", info.duration),
        fps: info.fps.clone(),
        width: i64::from(info.width),
        height: i64::from(info.height),
        size: media.size.unwrap_or(0),
        specification: "Original".into(),
        codec_name: if audio {
            info.audio_codec.clone()
        } else {
            info.video_codec.clone()
        },
        source_generation: generation,
        created_at: now,
    };
    let publication = Publication {
        media_id: media.media_id.clone(),
        source_generation: generation,
        streams: vec![stream],
        snapshot_sets: Vec::new(),
        status: Some((vec![MediaStatus::UploadSucc], MediaStatus::Normal)),
        cover_url: None,
        snapshots: None,
        now_ms: now,
    };
    match p.store.publish(&publication, &[]).await {
        Ok(done) => Ok(json!({"published": done})),
        Err(vod_core::CoreError::AlreadyExists { .. }) => Ok(json!({"published": true, "already": true})),
        Err(e) => Err(JobError::retry(e.to_string())),
    }
}
