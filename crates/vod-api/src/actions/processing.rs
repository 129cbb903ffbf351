//! Processing actions: SubmitTranscodeJobs and SubmitSnapshotJob queue `media.transcode` /
//! `media.snapshot` jobs for the media's current source (the jobs are run by the
//! processing workers of any node); ListSnapshots reads the snapshot sets they stored;
//! DeleteStream deletes the streams of transcode runs (and, through `media.purge`, their
//! objects).

use serde_json::{Value, json};
use vod_core::model::media::{JOB_MEDIA_SNAPSHOT, JOB_MEDIA_TRANSCODE};
use vod_core::model::stream::{SNAPSHOT_COVER, SNAPSHOT_NORMAL, SNAPSHOT_SPRITE};
use vod_core::model::{Media, MediaStatus, NewJob};
use vod_wire::timefmt::iso8601;
use vod_wire::{ApiError, Params, codes};

use super::media::{check_user_data, load_media, video_damaged};
use super::play::{UrlMode, illegal_status};
use super::{ActionResult, Ctx, body};
use crate::error::core_to_api;

const NOT_FOUND: &str = "The video does not exist.";

/// The media must have a stored, undamaged source to be processed.
fn check_processable(m: &Media) -> Result<(), ApiError> {
    if m.is_damaged() {
        return Err(video_damaged());
    }
    if m.source_generation == 0 || matches!(m.status, MediaStatus::Uploading | MediaStatus::UploadFail) {
        return Err(illegal_status(m.status));
    }
    Ok(())
}

async fn enqueue(ctx: &Ctx<'_>, job: NewJob) -> Result<String, ApiError> {
    let (id, _) = ctx.state.store().enqueue(&job).await.map_err(core_to_api)?;
    ctx.state.wake_jobs();
    Ok(id)
}

fn user_data(ctx: &Ctx<'_>, p: &Params) -> Result<Option<String>, ApiError> {
    p.get("UserData").map(|u| check_user_data(ctx, u)).transpose()
}

pub async fn submit_transcode_jobs(ctx: &Ctx<'_>, p: &Params) -> ActionResult {
    let group_id = p.required("TemplateGroupId")?.trim().to_string();
    let user_data = user_data(ctx, p)?;
    for json_param in ["EncryptConfig", "OverrideParams"] {
        if let Some(v) = p.get(json_param)
            && serde_json::from_str::<Value>(v).is_err()
        {
            return Err(ApiError::invalid_because(json_param, "It must be JSON."));
        }
    }
    let media = load_media(ctx, p, "VideoId", NOT_FOUND).await?;
    check_processable(&media)?;
    let group =
        vod_core::service::templates::resolve_group(ctx.state.store(), &media.account_id, &media.app_id, &group_id)
            .await
            .map_err(core_to_api)?
            .ok_or_else(|| ApiError::new(codes::TEMPLATE_GROUP_NOT_FOUND))?;
    let mut payload = json!({
        "v": 1,
        "media_id": media.media_id,
        "generation": media.source_generation,
        "template_group_id": group.group_id,
    });
    if let Some(u) = user_data {
        payload["user_data"] = json!(u);
    }
    let id = enqueue(ctx, NewJob::new(JOB_MEDIA_TRANSCODE, payload, 5)).await?;
    Ok(body([
        ("TranscodeTaskId", json!(id)),
        // One ffmpeg run makes every rendition: one job for the whole group.
        ("TranscodeJobs", json!({"TranscodeJob": [{"JobId": id}]})),
    ]))
}

pub async fn submit_snapshot_job(ctx: &Ctx<'_>, p: &Params) -> ActionResult {
    let offset = p.i64_in("SpecifiedOffsetTime", 0, i64::MAX / 2, 0)?;
    let count = p.i64_in("Count", 1, 1000, 1)?;
    let interval = p.i64_in("Interval", 0, 86_400, 1)?;
    let width = p.opt_i64("Width")?;
    let height = p.opt_i64("Height")?;
    for (name, v) in [("Width", width), ("Height", height)] {
        if v.is_some_and(|v| !(8..=4096).contains(&v)) {
            return Err(ApiError::invalid_because(name, "It must be between 8 and 4096."));
        }
    }
    let user_data = user_data(ctx, p)?;
    let media = load_media(ctx, p, "VideoId", NOT_FOUND).await?;
    check_processable(&media)?;
    let payload = json!({
        "v": 1,
        "media_id": media.media_id,
        "generation": media.source_generation,
        "offset_ms": offset,
        "count": count,
        "interval_ms": interval * 1000,
        "width": width,
        "height": height,
        "user_data": user_data,
    });
    let id = enqueue(ctx, NewJob::new(JOB_MEDIA_SNAPSHOT, payload, 5)).await?;
    Ok(body([("SnapshotJob", json!({"JobId": id}))]))
}

pub async fn list_snapshots(ctx: &Ctx<'_>, p: &Params) -> ActionResult {
    let kind = p.one_of(
        "SnapshotType",
        &[SNAPSHOT_COVER, SNAPSHOT_NORMAL, SNAPSHOT_SPRITE],
        None,
    )?;
    let page_no = p.i64_in("PageNo", 1, i64::from(u32::MAX), 1)?;
    let page_size = p.i64_in("PageSize", 1, 100, 20)?;
    let auth_timeout = p.i64_in("AuthTimeout", 1, 2_592_000, 3600)?;
    let media = load_media(ctx, p, "VideoId", NOT_FOUND).await?;
    let sets = ctx
        .state
        .store()
        .list_snapshot_sets(&media.media_id)
        .await
        .map_err(core_to_api)?;
    let Some(set) = sets.iter().find(|s| kind.is_none_or(|k| k == s.snapshot_type)) else {
        return Ok(body([(
            "MediaSnapshot",
            json!({"Total": 0, "Snapshots": {"Snapshot": []}}),
        )]));
    };
    let mode = UrlMode::new(ctx, &media, false, auth_timeout);
    let skip = usize::try_from((page_no - 1) * page_size).unwrap_or(usize::MAX);
    let items: Vec<Value> = set
        .keys
        .iter()
        .enumerate()
        .skip(skip)
        .take(usize::try_from(page_size).unwrap_or(20))
        .map(|(i, k)| json!({"Index": i + 1, "Url": mode.url(&set.bucket, k)}))
        .collect();
    let regular = set
        .keys
        .first()
        .map(|k| {
            let base = k.rsplit_once('-').map_or(k.as_str(), |(b, _)| b);
            ctx.state
                .media()
                .config()
                .play_url(&set.bucket, &format!("{base}-{{SnapshotCount}}.jpg"))
        })
        .unwrap_or_default()
        .replace("%7B", "{")
        .replace("%7D", "}");
    Ok(body([(
        "MediaSnapshot",
        json!({
            "Total": set.keys.len(),
            "Regular": regular,
            "CreationTime": iso8601(set.created_at),
            "JobId": set.job_id,
            "Snapshots": {"Snapshot": items},
        }),
    )]))
}

pub async fn delete_stream(ctx: &Ctx<'_>, p: &Params) -> ActionResult {
    let job_ids = p.list("JobIds");
    if job_ids.is_empty() {
        return Err(ApiError::missing("JobIds"));
    }
    if job_ids.len() > 20 {
        return Err(ApiError::invalid_because("JobIds", "At most 20 job ids can be given."));
    }
    let media = load_media(ctx, p, "VideoId", NOT_FOUND).await?;
    let service = ctx.state.media();
    let mut jobs = service
        .events()
        .delete_streams_complete(&media, &job_ids)
        .await
        .map_err(core_to_api)?;
    jobs.extend(
        job_ids
            .iter()
            .map(|j| vod_core::service::media::purge_run_job(&media, j)),
    );
    let deleted = ctx
        .state
        .store()
        .delete_streams(&media.media_id, &job_ids, &jobs)
        .await
        .map_err(core_to_api)?;
    if deleted.is_empty() {
        return Err(ApiError::custom(
            "InvalidJobIds.NotFound",
            404,
            "None of the JobIds names a stream of the video.",
        ));
    }
    ctx.state.wake_jobs();
    Ok(body([]))
}
