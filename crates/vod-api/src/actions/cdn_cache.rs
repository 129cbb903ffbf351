//! URL-level CDN actions: RefreshVodObjectCaches (files or directories),
//! PreloadVodObjectCaches, DescribeVodRefreshTasks and DescribeVodRefreshQuota, with the
//! daily quotas (`[cdn].quotas`, counted in URLs per account and UTC day).
//!
//! A call stores one task per path and one `cdn.refresh` job for them all in one
//! transaction; the job (vod-cdn) reaches every edge and marks each task `Complete` or
//! `Failed`. Paths are URLs (`http://host/bucket/key`) or scheme-less `host/bucket/key`
//! (stored with `http://`), separated by newlines.

use serde_json::{Value, json};
use vod_core::model::refresh::{
    REFRESH_JOB_ATTEMPTS, RefreshObjectType, RefreshTask, RefreshTaskQuery, RefreshTaskStatus, plan_tasks,
    quota_counter, quota_day, refresh_job,
};
use vod_core::now_ms;
use vod_wire::timefmt::{iso8601, parse_iso8601};
use vod_wire::{ApiError, Params};

use super::{ActionResult, Ctx, body};
use crate::error::core_to_api;

/// Paths one call takes.
const MAX_PATHS: usize = 1000;
/// Tasks are listed for this long when no TaskId / ObjectPath / StartTime narrows the query.
const DEFAULT_WINDOW_MS: i64 = 3 * 86_400_000;

fn malformed_path() -> ApiError {
    ApiError::custom(
        "InvalidObjectPath.Malformed",
        400,
        "The specific value of parameter ObjectPath is malformed.",
    )
}

fn invalid_object_type() -> ApiError {
    ApiError::custom(
        "InvalidObjectType.Malformed",
        400,
        "The specified ObjectType is invalid.",
    )
}

/// `QuotaExceeded.Refresh` (400), Alibaba's answer when a day's refresh or preload quota is
/// used up.
fn quota_exceeded(what: &str, limit: u64) -> ApiError {
    ApiError::custom(
        "QuotaExceeded.Refresh",
        400,
        format!("You've exceeded the prescribed refresh limits. ({what}: {limit} per day)"),
    )
}

/// One path: `http(s)://host/path` as given, or `host/path` with `http://` added.
pub(super) fn normalize_path(raw: &str) -> Option<String> {
    let raw = raw.trim();
    let lower = raw.to_ascii_lowercase();
    let (scheme, rest) = if lower.starts_with("http://") {
        ("http://", &raw[7..])
    } else if lower.starts_with("https://") {
        ("https://", &raw[8..])
    } else if raw.contains("://") {
        return None;
    } else {
        ("http://", raw)
    };
    let (host, path) = rest.split_once('/')?;
    let host_ok = !host.is_empty()
        && host
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'-' | b':' | b'_' | b'[' | b']'));
    if !host_ok || path.trim().is_empty() || raw.chars().any(char::is_whitespace) {
        return None;
    }
    Some(format!("{scheme}{host}/{path}"))
}

/// `ObjectPath`: newline-separated (`\n` or `\r\n`) paths, at most 1,000.
fn object_paths(p: &Params) -> Result<Vec<String>, ApiError> {
    let raw = p.required("ObjectPath")?;
    let items: Vec<&str> = raw.lines().map(str::trim).filter(|l| !l.is_empty()).collect();
    if items.is_empty() {
        return Err(ApiError::missing("ObjectPath"));
    }
    if items.len() > MAX_PATHS {
        return Err(ApiError::custom(
            "InvalidObjectPath.Size.Malformed",
            400,
            "The size of ObjectPath is bigger than 1000.",
        ));
    }
    let mut out: Vec<String> = Vec::with_capacity(items.len());
    for item in items {
        let path = normalize_path(item).ok_or_else(malformed_path)?;
        if !out.contains(&path) {
            out.push(path);
        }
    }
    Ok(out)
}

/// Counts `n` URLs of `kind` against the account's quota of the day (nothing is counted when
/// the quota would be exceeded).
pub(super) async fn take_quota(ctx: &Ctx<'_>, kind: RefreshObjectType, n: usize) -> Result<(), ApiError> {
    if n == 0 {
        return Ok(());
    }
    let quotas = ctx.state.refresh_quotas();
    let (limit, what) = match kind {
        RefreshObjectType::File => (quotas.url_per_day, "URL refreshes"),
        RefreshObjectType::Directory => (quotas.dir_per_day, "directory refreshes"),
        RefreshObjectType::Preload => (quotas.preload_per_day, "preloads"),
    };
    let taken = ctx
        .state
        .store()
        .take_daily_quota(
            &quota_counter(kind, &ctx.caller.account_id),
            &quota_day(now_ms()),
            i64::try_from(n).unwrap_or(i64::MAX),
            i64::try_from(limit).unwrap_or(i64::MAX),
        )
        .await
        .map_err(core_to_api)?;
    match taken {
        Some(_) => Ok(()),
        None => Err(quota_exceeded(what, limit)),
    }
}

/// Stores one task per path and their job; returns the task ids joined with `,`.
async fn submit(ctx: &Ctx<'_>, paths: Vec<String>, kind: RefreshObjectType) -> Result<String, ApiError> {
    take_quota(ctx, kind, paths.len()).await?;
    let batch = vod_core::ids::hex_id();
    let items: Vec<(String, RefreshObjectType)> = paths.into_iter().map(|p| (p, kind)).collect();
    let tasks = plan_tasks(&ctx.caller.account_id, &batch, &items, now_ms());
    ctx.state
        .store()
        .submit_refresh(&[], &tasks, &[refresh_job(&batch, REFRESH_JOB_ATTEMPTS)])
        .await
        .map_err(core_to_api)?;
    ctx.state.wake_jobs();
    Ok(tasks.iter().map(|t| t.task_id.as_str()).collect::<Vec<_>>().join(","))
}

pub async fn refresh_vod_object_caches(ctx: &Ctx<'_>, p: &Params) -> ActionResult {
    let mut paths = object_paths(p)?;
    let kind = match p.get("ObjectType").map(str::trim) {
        None => RefreshObjectType::File,
        Some(t) if t.eq_ignore_ascii_case("File") || t.eq_ignore_ascii_case("IgnoreParams") => RefreshObjectType::File,
        Some(t) if t.eq_ignore_ascii_case("Directory") => RefreshObjectType::Directory,
        Some(t) if t.eq_ignore_ascii_case("Regex") => {
            return Err(ApiError::custom(
                "InvalidObjectType.ValueNotSupported",
                400,
                "The specified value of ObjectType is not supported: Regex purges are not available.",
            ));
        }
        Some(_) => return Err(invalid_object_type()),
    };
    p.opt_bool("Force")?;
    if kind == RefreshObjectType::Directory {
        let mut dirs: Vec<String> = Vec::with_capacity(paths.len());
        for path in paths {
            let no_query = path.split(['?', '#']).next().unwrap_or_default();
            let dir = if no_query.ends_with('/') {
                no_query.to_string()
            } else {
                format!("{no_query}/")
            };
            if !dirs.contains(&dir) {
                dirs.push(dir);
            }
        }
        paths = dirs;
    }
    let ids = submit(ctx, paths, kind).await?;
    Ok(body([("RefreshTaskId", json!(ids))]))
}

pub async fn preload_vod_object_caches(ctx: &Ctx<'_>, p: &Params) -> ActionResult {
    let paths = object_paths(p)?;
    if let Some(area) = p.get("Area")
        && !["domestic", "overseas"].contains(&area.trim())
    {
        return Err(ApiError::invalid_because("Area", "It must be domestic or overseas."));
    }
    p.opt_bool("L2Preload")?;
    if let Some(h) = p.get("WithHeader")
        && !matches!(serde_json::from_str::<Value>(h), Ok(Value::Object(_)))
    {
        return Err(ApiError::invalid_because("WithHeader", "It must be a JSON object."));
    }
    let ids = submit(ctx, paths, RefreshObjectType::Preload).await?;
    Ok(body([("PreloadTaskId", json!(ids))]))
}

fn time_param(p: &Params, name: &str, code: &'static str) -> Result<Option<i64>, ApiError> {
    match p.get(name) {
        None => Ok(None),
        Some(v) => parse_iso8601(v.trim())
            .map(Some)
            .ok_or_else(|| ApiError::custom(code, 400, format!("Specified {name} is malformed."))),
    }
}

fn task_json(t: &RefreshTask) -> Value {
    json!({
        "TaskId": t.task_id,
        "ObjectPath": t.object_path,
        "ObjectType": t.object_type.as_str(),
        "Status": t.status.as_str(),
        "Process": format!("{}%", t.process),
        "CreationTime": iso8601(t.created_at),
        "Description": t.description,
    })
}

pub async fn describe_vod_refresh_tasks(ctx: &Ctx<'_>, p: &Params) -> ActionResult {
    let page_no = p.i64_in("PageNumber", 1, 100_000, 1)?;
    let page_size = p.i64_in("PageSize", 1, 50, 20)?;
    let object_type = match p.get("ObjectType") {
        None => None,
        Some(t) => Some(RefreshObjectType::parse(t.trim()).ok_or_else(invalid_object_type)?),
    };
    let status = match p.get("Status") {
        None => None,
        Some(s) => Some(
            RefreshTaskStatus::parse(s.trim())
                .ok_or_else(|| ApiError::invalid_because("Status", "It must be Complete, Refreshing or Failed."))?,
        ),
    };
    let domain = p.get("DomainName").map(|d| d.trim().to_string());
    if (domain.is_some() || status.is_some()) && object_type.is_none() {
        return Err(ApiError::missing("ObjectType"));
    }
    let object_path = match p.get("ObjectPath") {
        None => None,
        Some(o) => Some(normalize_path(o).ok_or_else(malformed_path)?),
    };
    let task_ids = p.list("TaskId");
    let mut start_ms = time_param(p, "StartTime", "InvalidStartTime.Malformed")?;
    let end_ms = time_param(p, "EndTime", "InvalidEndTime.Malformed")?;
    if let (Some(s), Some(e)) = (start_ms, end_ms)
        && e < s
    {
        return Err(ApiError::custom(
            "InvalidEndTime.Mismatch",
            400,
            "Specified end time does not match the specified start time.",
        ));
    }
    if start_ms.is_none() && task_ids.is_empty() && object_path.is_none() {
        start_ms = Some(now_ms() - DEFAULT_WINDOW_MS);
    }
    let query = RefreshTaskQuery {
        task_ids,
        object_path,
        object_type,
        status,
        domain,
        start_ms,
        end_ms,
        page_no: u32::try_from(page_no).unwrap_or(1),
        page_size: u32::try_from(page_size).unwrap_or(20),
    };
    let (tasks, total) = ctx
        .state
        .store()
        .list_refresh_tasks(&ctx.caller.account_id, &query)
        .await
        .map_err(core_to_api)?;
    Ok(body([
        ("PageNumber", json!(page_no)),
        ("PageSize", json!(page_size)),
        ("TotalCount", json!(total)),
        (
            "Tasks",
            json!({"Task": tasks.iter().map(task_json).collect::<Vec<_>>()}),
        ),
    ]))
}

pub async fn describe_vod_refresh_quota(ctx: &Ctx<'_>, _p: &Params) -> ActionResult {
    let q = ctx.state.refresh_quotas();
    let day = quota_day(now_ms());
    let store = ctx.state.store();
    let mut used = Vec::new();
    for kind in [
        RefreshObjectType::File,
        RefreshObjectType::Directory,
        RefreshObjectType::Preload,
    ] {
        let n = store
            .daily_counter(&quota_counter(kind, &ctx.caller.account_id), &day)
            .await
            .map_err(core_to_api)?;
        used.push(u64::try_from(n).unwrap_or(0));
    }
    let remain = |limit: u64, used: u64| limit.saturating_sub(used).to_string();
    // Field names and string types of the SDK model (note `blockRemain`).
    Ok(body([
        ("UrlQuota", json!(q.url_per_day.to_string())),
        ("UrlRemain", json!(remain(q.url_per_day, used[0]))),
        ("DirQuota", json!(q.dir_per_day.to_string())),
        ("DirRemain", json!(remain(q.dir_per_day, used[1]))),
        ("PreloadQuota", json!(q.preload_per_day.to_string())),
        ("PreloadRemain", json!(remain(q.preload_per_day, used[2]))),
        ("BlockQuota", json!(q.block_per_day.to_string())),
        ("blockRemain", json!(q.block_per_day.to_string())),
    ]))
}
