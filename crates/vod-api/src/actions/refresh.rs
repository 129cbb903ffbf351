//! RefreshMediaPlayUrls and GetMediaRefreshJobs: refresh (purge) or preload the play URLs of
//! media on the playback edges.
//!
//! RefreshMediaPlayUrls selects each media's streams with GetPlayInfo's filters
//! (`RefreshFilter::play_urls`: Formats, Definitions, StreamType, ResultType, plus the first
//! SliceCount segments of each m3u8 with SliceFlag), and stores per media one record
//! (`processing`), one URL task per URL and one `cdn.refresh` job in one transaction; the
//! job (vod-cdn) reaches every edge and finishes the record with SubmitMediaRefreshComplete.
//! The URLs count against the daily URL (Refresh) or preload (Preload) quota.

use std::collections::HashSet;

use serde_json::{Value, json};
use vod_core::model::media::{MediaKey, MediaScope};
use vod_core::model::refresh::{
    MediaRefreshJob, MediaRefreshRequest, RefreshFilter, RefreshObjectType, RefreshTaskType,
};
use vod_core::model::template::DEFINITIONS;
use vod_core::now_ms;
use vod_wire::timefmt::iso8601;
use vod_wire::{ApiError, Params};

use super::cdn_cache::take_quota;
use super::media::{AppAccess, check_user_data};
use super::{ActionResult, Ctx, body};
use crate::error::core_to_api;

/// Media ids one call takes.
const MAX_MEDIA_IDS: usize = 20;
/// `Formats` values (the seed page's list).
const FORMATS: &[&str] = &["mp4", "m3u8", "mp3", "flv", "webm", "ts"];
const STREAM_TYPES: &[&str] = &["video", "audio"];

/// A comma list whose items must each be one of `allowed` (case-insensitively); returned in
/// the table's spelling, joined with `,`.
fn checked_list(p: &Params, name: &str, allowed: &[&str]) -> Result<String, ApiError> {
    let mut out: Vec<&str> = Vec::new();
    for item in p.list(name) {
        let Some(known) = allowed.iter().find(|a| a.eq_ignore_ascii_case(&item)) else {
            return Err(ApiError::invalid_because(
                name,
                &format!("'{item}' is not supported; the values are {}.", allowed.join(", ")),
            ));
        };
        if !out.contains(known) {
            out.push(known);
        }
    }
    Ok(out.join(","))
}

/// The filter parameters of RefreshMediaPlayUrls, checked.
fn filter_of(p: &Params) -> Result<RefreshFilter, ApiError> {
    let result_type = match p.get("ResultType").map(str::trim) {
        None => "Single",
        Some(v) if v.eq_ignore_ascii_case("Single") => "Single",
        Some(v) if v.eq_ignore_ascii_case("Multiple") => "Multiple",
        Some(_) => {
            return Err(ApiError::invalid_because(
                "ResultType",
                "It must be Single or Multiple.",
            ));
        }
    };
    let slice_count = match p.opt_i64("SliceCount") {
        Ok(Some(n)) if (1..=20).contains(&n) => n,
        Ok(None) => 5,
        _ => {
            return Err(ApiError::invalid_because(
                "SliceCount",
                "It must be an integer from 1 to 20.",
            ));
        }
    };
    let slice_flag = p
        .opt_bool("SliceFlag")
        .map_err(|_| ApiError::invalid_because("SliceFlag", "It must be true or false."))?
        .unwrap_or(false);
    Ok(RefreshFilter {
        formats: checked_list(p, "Formats", FORMATS)?,
        definitions: checked_list(p, "Definitions", DEFINITIONS)?,
        stream_type: checked_list(p, "StreamType", STREAM_TYPES)?,
        result_type: result_type.into(),
        slice_flag,
        slice_count,
    })
}

pub async fn refresh_media_play_urls(ctx: &Ctx<'_>, p: &Params) -> ActionResult {
    let raw_ids = p.list("MediaIds");
    if raw_ids.is_empty() {
        return Err(ApiError::missing("MediaIds"));
    }
    if raw_ids.len() > MAX_MEDIA_IDS {
        return Err(ApiError::invalid_because(
            "MediaIds",
            &format!("At most {MAX_MEDIA_IDS} media ids can be submitted at once."),
        ));
    }
    let mut seen = HashSet::new();
    let ids: Vec<String> = raw_ids.into_iter().filter(|i| seen.insert(i.clone())).collect();
    let task_type = RefreshTaskType::parse(p.required("TaskType")?.trim())
        .ok_or_else(|| ApiError::invalid_because("TaskType", "It must be Refresh or Preload."))?;
    let filter = filter_of(p)?;
    let user_data = match p.raw("UserData") {
        Some(u) if !u.trim().is_empty() => check_user_data(ctx, u)?,
        _ => String::new(),
    };

    let store = ctx.state.store();
    let media_config = ctx.state.media().config();
    let request = MediaRefreshRequest {
        job_id: vod_core::ids::hex_id(),
        account_id: ctx.caller.account_id.clone(),
        task_type,
        filter,
        user_data,
        now_ms: now_ms(),
    };
    let mut access = AppAccess::default();
    let (mut missing, mut forbidden) = (Vec::new(), Vec::new());
    let (mut records, mut tasks, mut jobs) = (Vec::new(), Vec::new(), Vec::new());
    for id in &ids {
        let found = store
            .find_media(&ctx.caller.account_id, MediaScope::Vod, &MediaKey::Id(id.clone()))
            .await
            .map_err(core_to_api)?;
        let Some(media) = found else {
            missing.push(id.as_str());
            continue;
        };
        if !access.allows(ctx, &media.app_id).await? {
            forbidden.push(id.as_str());
            continue;
        }
        let streams = store.list_streams(&media.media_id).await.map_err(core_to_api)?;
        let urls = request.filter.play_urls(&streams, media_config);
        let seq = i64::try_from(records.len()).unwrap_or(i64::MAX);
        let (record, media_tasks, job) = request.plan(seq, &media.media_id, &media.app_id, &urls);
        records.push(record);
        tasks.extend(media_tasks);
        jobs.push(job);
    }
    let kind = match task_type {
        RefreshTaskType::Refresh => RefreshObjectType::File,
        RefreshTaskType::Preload => RefreshObjectType::Preload,
    };
    take_quota(ctx, kind, tasks.len()).await?;
    if !records.is_empty() {
        store
            .submit_refresh(&records, &tasks, &jobs)
            .await
            .map_err(core_to_api)?;
        ctx.state.wake_jobs();
    }
    Ok(body([
        ("MediaRefreshJobId", json!(request.job_id)),
        ("NonExistMediaIds", json!(missing.join(","))),
        ("ForbiddenMediaIds", json!(forbidden.join(","))),
    ]))
}

fn job_json(j: &MediaRefreshJob) -> Value {
    json!({
        "MediaRefreshJobId": j.job_id,
        "MediaId": j.media_id,
        "TaskType": j.task_type.as_str(),
        "FilterPolicy": j.filter_policy,
        "Status": j.status.as_str(),
        "SuccessPlayUrls": j.success_play_urls.join(","),
        "TaskIds": j.task_ids.join(","),
        "ErrorCode": j.error_code,
        "ErrorMessage": j.error_message,
        "UserData": j.user_data,
        "GmtCreate": iso8601(j.created_at),
        "GmtModified": iso8601(j.modified_at),
    })
}

/// The records of a MediaRefreshJobId (optionally one media). An unknown id, or one of
/// another account, gives an empty list; records of apps the caller may not act on are left
/// out.
pub async fn get_media_refresh_jobs(ctx: &Ctx<'_>, p: &Params) -> ActionResult {
    let job_id = p.required("MediaRefreshJobId")?.trim();
    let media_id = p.get("MediaId").map(str::trim);
    if media_id.is_some_and(|m| m.contains(',')) {
        return Err(ApiError::invalid_because("MediaId", "Only one media id can be given."));
    }
    let records = ctx
        .state
        .store()
        .media_refresh_jobs(&ctx.caller.account_id, job_id, media_id)
        .await
        .map_err(core_to_api)?;
    let mut access = AppAccess::default();
    let mut list = Vec::new();
    for r in &records {
        if access.allows(ctx, &r.app_id).await? {
            list.push(job_json(r));
        }
    }
    Ok(body([("MediaRefreshJobs", Value::Array(list))]))
}
