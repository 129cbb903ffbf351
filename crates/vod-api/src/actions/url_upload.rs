//! URL-based uploads (VOD): UploadMediaByURL, GetURLUploadInfos, CancelUrlUploadJobs.
//!
//! UploadMediaByURL stores one `url_uploads` record per URL and its `upload.url_pull` job in
//! one transaction (the job id is the JobId returned), then answers at once; the pull runs
//! on the job runtime (`vod-server/src/url_pull.rs`). URLs arrive URL-encoded and
//! comma-joined: each item is percent-decoded once and kept as submitted-decoded, which is
//! also the form `UploadURLs` of GetURLUploadInfos is matched against.

use std::collections::{HashMap, HashSet};

use serde_json::{Map, Value, json};
use vod_core::CoreError;
use vod_core::ids::hex_id;
use vod_core::model::NewJob;
use vod_core::model::media::{AUDIO_EXTENSIONS, VIDEO_EXTENSIONS, extension_of, new_media_id};
use vod_core::model::url_upload::{
    JOB_URL_PULL, UrlMediaMeta, UrlUpload, UrlUploadStatus, UrlUploadUpdate, codes as url_codes,
};
use vod_core::now_ms;
use vod_wire::timefmt::iso8601;
use vod_wire::{ApiError, Params, codes};

use super::media::{check_app, check_cate, check_description, check_title, check_user_data, normalize_tags};
use super::{ActionResult, Ctx, body};
use crate::error::core_to_api;

/// URLs one UploadMediaByURL call takes.
const MAX_SUBMIT_URLS: usize = 20;
/// URLs (and job ids) one GetURLUploadInfos / CancelUrlUploadJobs call takes.
const MAX_QUERY_ITEMS: usize = 10;
/// Records GetURLUploadInfos returns at most.
const MAX_RECORDS: u32 = 100;
/// A SessionId is refused when it was used within this window.
const SESSION_WINDOW_MS: i64 = 10 * 60 * 1000;

fn bad_urls(reason: &str) -> ApiError {
    ApiError::custom(
        "InvalidParameter.UploadURLs",
        400,
        format!("The specified parameter \"UploadURLs\" is not valid. {reason}"),
    )
}

/// Splits a comma-joined list of URL-encoded URLs and decodes each once.
fn decode_urls(raw: &str) -> Vec<String> {
    raw.split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(|s| vod_auth::percent::percent_decode(s).trim().to_string())
        .filter(|s| !s.is_empty())
        .collect()
}

/// Only `http://host...` and `https://host...` can be pulled.
fn check_url_form(url: &str) -> Result<(), ApiError> {
    let lower = url.to_ascii_lowercase();
    let rest = lower
        .strip_prefix("http://")
        .or_else(|| lower.strip_prefix("https://"))
        .ok_or_else(|| bad_urls(&format!("{url} is not an http or https URL.")))?;
    if rest.is_empty() || rest.starts_with('/') {
        return Err(bad_urls(&format!("{url} has no host.")));
    }
    Ok(())
}

/// The extension of the URL's path (query and fragment ignored).
fn url_extension(url: &str) -> Option<String> {
    let no_frag = url.split('#').next().unwrap_or(url);
    let path = no_frag.split('?').next().unwrap_or(no_frag);
    let after_scheme = path.split_once("://").map_or(path, |(_, r)| r);
    let path = after_scheme.split_once('/').map(|(_, p)| p)?;
    extension_of(path)
}

fn supported(ext: &str) -> bool {
    VIDEO_EXTENSIONS.contains(&ext) || AUDIO_EXTENSIONS.contains(&ext)
}

/// The title a URL gets without one: its last path segment without the extension.
fn default_title(url: &str) -> String {
    let no_q = url.split(['?', '#']).next().unwrap_or(url);
    let name = no_q.rsplit('/').next().unwrap_or_default();
    let stem = name.rsplit_once('.').map_or(name, |(s, _)| s);
    let stem: String = stem.chars().take(128).collect();
    if stem.trim().is_empty() {
        "url-upload".into()
    } else {
        stem
    }
}

fn str_field<'a>(o: &'a Map<String, Value>, k: &str) -> Option<&'a str> {
    o.get(k).and_then(Value::as_str)
}

fn int_field(o: &Map<String, Value>, k: &str) -> Result<Option<i64>, ApiError> {
    match o.get(k) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Number(n)) => n.as_i64().map(Some).ok_or_else(|| ApiError::invalid("UploadMetadatas")),
        Some(Value::String(s)) if s.trim().is_empty() => Ok(None),
        Some(Value::String(s)) => s
            .trim()
            .parse()
            .map(Some)
            .map_err(|_| ApiError::invalid_because("UploadMetadatas", &format!("{k} must be a number."))),
        _ => Err(ApiError::invalid("UploadMetadatas")),
    }
}

/// `UploadMetadatas`: a JSON array of objects, keyed by their (decoded) `SourceURL`.
fn parse_metadatas(raw: Option<&str>) -> Result<HashMap<String, Map<String, Value>>, ApiError> {
    let Some(raw) = raw.map(str::trim).filter(|r| !r.is_empty()) else {
        return Ok(HashMap::new());
    };
    let items = match serde_json::from_str::<Value>(raw) {
        Ok(Value::Array(items)) => items,
        Ok(Value::Object(o)) => vec![Value::Object(o)],
        _ => {
            return Err(ApiError::invalid_because(
                "UploadMetadatas",
                "It must be a JSON array of objects.",
            ));
        }
    };
    let mut out = HashMap::new();
    for item in items {
        let Value::Object(o) = item else {
            return Err(ApiError::invalid_because(
                "UploadMetadatas",
                "It must be a JSON array of objects.",
            ));
        };
        let Some(src) = str_field(&o, "SourceURL").or_else(|| str_field(&o, "SourceUrl")) else {
            continue; // takes effect only when it matches a URL
        };
        let src = src.trim().to_string();
        let decoded = vod_auth::percent::percent_decode(&src);
        out.entry(decoded).or_insert_with(|| o.clone());
        out.entry(src).or_insert(o);
    }
    Ok(out)
}

fn day_of(ms: i64) -> String {
    iso8601(ms)[..10].replace('-', "")
}

/// Counts the call against the account's daily quota (`[url_upload].daily_quota`).
async fn count_quota(ctx: &Ctx<'_>, quota: u64) -> Result<(), ApiError> {
    if quota == 0 {
        return Ok(());
    }
    let used = ctx
        .state
        .store()
        .bump_daily_counter(
            &format!("UploadMediaByURL:{}", ctx.caller.account_id),
            &day_of(now_ms()),
        )
        .await
        .map_err(core_to_api)?;
    if u64::try_from(used).unwrap_or(u64::MAX) > quota {
        return Err(ApiError::with_message(
            codes::QUOTA_EXCEEDED,
            format!("UploadMediaByURL can be called at most {quota} times per day."),
        ));
    }
    Ok(())
}

fn check_session_id(s: &str) -> Result<(), ApiError> {
    if s.chars().count() > 50 || !s.chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_') {
        return Err(ApiError::invalid_because(
            "SessionId",
            "It has at most 50 letters, digits, hyphens and underscores.",
        ));
    }
    Ok(())
}

pub async fn upload_media_by_url(ctx: &Ctx<'_>, p: &Params) -> ActionResult {
    let urls = decode_urls(p.required("UploadURLs")?);
    if urls.is_empty() {
        return Err(ApiError::missing("UploadURLs"));
    }
    if urls.len() > MAX_SUBMIT_URLS {
        return Err(bad_urls(&format!(
            "At most {MAX_SUBMIT_URLS} URLs can be submitted at once."
        )));
    }
    for u in &urls {
        check_url_form(u)?;
    }
    let metas = parse_metadatas(p.get("UploadMetadatas"))?;
    let top_group = p.get("TemplateGroupId").unwrap_or_default().trim().to_string();
    let top_workflow = p.get("WorkflowId").unwrap_or_default().trim().to_string();
    let storage = p.get("StorageLocation").unwrap_or_default().trim().to_string();
    if !storage.is_empty() && !ctx.state.media().config().is_storage_location(&storage) {
        return Err(ApiError::custom(
            "InvalidStorage.NotFound",
            404,
            format!("The specified StorageLocation {storage} does not exist."),
        ));
    }
    let user_data = check_user_data(ctx, p.raw("UserData").unwrap_or_default())?;
    let session = p
        .get("SessionId")
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(|s| check_session_id(s).map(|()| s.to_string()))
        .transpose()?;
    let mut flags = Map::new();
    for flag in ["EnableFirstFrameCover", "GenerateThumbnail"] {
        if let Some(v) = p.opt_bool(flag)? {
            flags.insert(flag.into(), Value::Bool(v));
        }
    }
    let app_id = check_app(ctx, p).await?;

    let mut uploads = Vec::with_capacity(urls.len());
    let config = ctx.state.url_upload_config();
    for url in &urls {
        let empty = Map::new();
        let m = metas.get(url).unwrap_or(&empty);
        let ext = match str_field(m, "FileExtension").map(str::trim).filter(|e| !e.is_empty()) {
            Some(e) => e.trim_start_matches('.').to_ascii_lowercase(),
            None => url_extension(url).unwrap_or_default(),
        };
        if ext.is_empty() {
            return Err(bad_urls(&format!(
                "{url} has no file extension; set FileExtension in UploadMetadatas."
            )));
        }
        if !supported(&ext) {
            return Err(bad_urls(&format!(
                "The file extension {ext} of {url} is not supported."
            )));
        }
        let title = match str_field(m, "Title").filter(|t| !t.trim().is_empty()) {
            Some(t) => check_title("Title", t, 128, false)?,
            None => default_title(url),
        };
        let description = check_description(
            "Description",
            str_field(m, "Description").unwrap_or_default(),
            1024,
            false,
        )?;
        let tags = normalize_tags("Tags", str_field(m, "Tags").unwrap_or_default(), false)?;
        let cate_id = int_field(m, "CateId")?;
        if let Some(c) = cate_id {
            check_cate(ctx, c).await?;
        }
        let declared_size = int_field(m, "FileSize")?;
        let pick = |k: &str, top: &str| {
            str_field(m, k)
                .map(str::trim)
                .filter(|v| !v.is_empty())
                .unwrap_or(top)
                .to_string()
        };
        let (media_id, _) = new_media_id();
        let now = now_ms();
        uploads.push(UrlUpload {
            job_id: hex_id(),
            account_id: ctx.caller.account_id.clone(),
            app_id: app_id.clone(),
            upload_url: url.clone(),
            status: UrlUploadStatus::Pending,
            media_id,
            media_created: false,
            file_size: None,
            error_code: String::new(),
            error_message: String::new(),
            user_data: user_data.clone(),
            meta: UrlMediaMeta {
                title,
                description,
                tags,
                cate_id,
                cover_url: str_field(m, "CoverURL").unwrap_or_default().trim().to_string(),
                template_group_id: pick("TemplateGroupId", &top_group),
                workflow_id: pick("WorkflowId", &top_workflow),
                file_extension: ext,
                declared_size,
                storage_location: storage.clone(),
                extra: Value::Object(flags.clone()),
            },
            created_at: now,
            completed_at: None,
        });
    }
    let mut groups: Vec<&str> = uploads.iter().map(|u| u.meta.template_group_id.as_str()).collect();
    groups.sort_unstable();
    groups.dedup();
    for group in groups {
        super::templates::check_template_group(ctx, &app_id, group).await?;
    }
    count_quota(ctx, config.daily_quota).await?;
    let jobs: Vec<NewJob> = uploads
        .iter()
        .map(|u| {
            let mut job = NewJob::new(
                JOB_URL_PULL,
                json!({"v": 1, "job_id": u.job_id}),
                config.max_attempts.max(1),
            );
            job.id = u.job_id.clone();
            job.unique_key = Some(format!("{JOB_URL_PULL}:{}", u.job_id));
            job
        })
        .collect();
    let stored = ctx
        .state
        .store()
        .create_url_uploads(
            &ctx.caller.account_id,
            session.as_deref().map(|s| (s, SESSION_WINDOW_MS)),
            now_ms(),
            &uploads,
            &jobs,
        )
        .await
        .map_err(core_to_api)?;
    if stored {
        ctx.state.wake_jobs();
    }
    if !stored {
        return Err(ApiError::custom(
            "InvalidParameter.SessionId",
            400,
            "The specified SessionId has been used within the last 10 minutes.",
        ));
    }
    let list: Vec<Value> = uploads
        .iter()
        .map(|u| json!({"JobId": u.job_id, "SourceURL": u.upload_url}))
        .collect();
    Ok(body([("UploadJobs", Value::Array(list))]))
}

fn info_json(u: &UrlUpload) -> Value {
    json!({
        "JobId": u.job_id,
        "UploadURL": u.upload_url,
        "MediaId": if u.media_created { u.media_id.as_str() } else { "" },
        "Status": u.status.as_str(),
        "FileSize": u.file_size.map(|s| s.to_string()).unwrap_or_default(),
        "CreationTime": iso8601(u.created_at),
        "CompleteTime": u.completed_at.map(iso8601).unwrap_or_default(),
        "ErrorCode": u.error_code,
        "ErrorMessage": u.error_message,
        "UserData": u.user_data,
    })
}

/// `JobIds` (comma-separated, at most 10).
fn job_ids(p: &Params) -> Result<Vec<String>, ApiError> {
    let mut ids = p.list("JobIds");
    let mut seen = HashSet::new();
    ids.retain(|i| seen.insert(i.clone()));
    if ids.len() > MAX_QUERY_ITEMS {
        return Err(ApiError::custom(
            "InvalidParameter.JobIds",
            400,
            format!("The specified parameter \"JobIds\" is not valid. At most {MAX_QUERY_ITEMS} job ids can be given."),
        ));
    }
    Ok(ids)
}

/// `UploadURLs` (URL-encoded, comma-separated, at most 10) under `names` (first present).
fn query_urls(p: &Params, names: &[&str]) -> Result<Vec<String>, ApiError> {
    let raw = names.iter().find_map(|n| p.get(n)).unwrap_or_default();
    let mut urls = decode_urls(raw);
    let mut seen = HashSet::new();
    urls.retain(|u| seen.insert(u.clone()));
    if urls.len() > MAX_QUERY_ITEMS {
        return Err(bad_urls(&format!(
            "At most {MAX_QUERY_ITEMS} URLs can be queried at once."
        )));
    }
    Ok(urls)
}

pub async fn get_url_upload_infos(ctx: &Ctx<'_>, p: &Params) -> ActionResult {
    let ids = job_ids(p)?;
    let store = ctx.state.store();
    let account = &ctx.caller.account_id;
    let (mut found, non_exists) = if !ids.is_empty() {
        let rows = store.url_uploads_by_ids(account, &ids).await.map_err(core_to_api)?;
        let by_id: HashMap<&str, &UrlUpload> = rows.iter().map(|u| (u.job_id.as_str(), u)).collect();
        let missing: Vec<String> = ids
            .iter()
            .filter(|i| !by_id.contains_key(i.as_str()))
            .cloned()
            .collect();
        let ordered: Vec<UrlUpload> = ids
            .iter()
            .filter_map(|i| by_id.get(i.as_str()).map(|u| (*u).clone()))
            .collect();
        (ordered, missing)
    } else {
        let urls = query_urls(p, &["UploadURLs", "UploadURL"])?;
        if urls.is_empty() {
            return Err(ApiError::missing("JobIds"));
        }
        let rows = store
            .url_uploads_by_urls(account, &urls, MAX_RECORDS)
            .await
            .map_err(core_to_api)?;
        let present: HashSet<&str> = rows.iter().map(|u| u.upload_url.as_str()).collect();
        let missing: Vec<String> = urls.iter().filter(|u| !present.contains(u.as_str())).cloned().collect();
        (rows, missing)
    };
    found.truncate(MAX_RECORDS as usize);
    Ok(body([
        ("NonExists", json!(non_exists)),
        ("URLUploadInfoList", Value::Array(found.iter().map(info_json).collect())),
    ]))
}

pub async fn cancel_url_upload_jobs(ctx: &Ctx<'_>, p: &Params) -> ActionResult {
    let ids = job_ids(p)?;
    let store = ctx.state.store();
    let account = &ctx.caller.account_id;
    let (targets, mut non_exists): (Vec<UrlUpload>, Vec<String>) = if !ids.is_empty() {
        let rows = store.url_uploads_by_ids(account, &ids).await.map_err(core_to_api)?;
        let present: HashSet<&str> = rows.iter().map(|u| u.job_id.as_str()).collect();
        let missing = ids.iter().filter(|i| !present.contains(i.as_str())).cloned().collect();
        (rows, missing)
    } else {
        let urls = query_urls(p, &["UploadUrls", "UploadURLs"])?;
        if urls.is_empty() {
            return Err(ApiError::missing("JobIds"));
        }
        let rows = store
            .url_uploads_by_urls(account, &urls, MAX_RECORDS)
            .await
            .map_err(core_to_api)?;
        let present: HashSet<&str> = rows.iter().map(|u| u.upload_url.as_str()).collect();
        let missing = urls.iter().filter(|u| !present.contains(u.as_str())).cloned().collect();
        (rows, missing)
    };
    let mut canceled = Vec::new();
    for u in &targets {
        let update = UrlUploadUpdate {
            error_code: Some(url_codes::CANCELED.into()),
            error_message: Some("The job was canceled.".into()),
            completed_at: Some(now_ms()),
            ..Default::default()
        };
        // A job still queued is cancelled in the queue too; a running pull sees the status
        // and stops.
        match store
            .update_url_upload(&u.job_id, &[], UrlUploadStatus::Canceled, &update, &[])
            .await
        {
            Ok(true) => {
                let _ = store.cancel_job(&u.job_id).await;
                canceled.push(u.job_id.clone());
            }
            Ok(false) => {}
            Err(CoreError::NotFound { .. }) => non_exists.push(u.job_id.clone()),
            Err(e) => return Err(core_to_api(e)),
        }
    }
    Ok(body([
        ("CanceledJobs", json!(canceled)),
        ("NonExists", json!(non_exists)),
    ]))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_and_extensions() {
        assert_eq!(
            decode_urls("http%3A%2F%2Fa%2Fb%20c.mp4%3Fx%3D1%2C2,http://b/%E4%B8%AD.mov"),
            vec!["http://a/b c.mp4?x=1,2".to_string(), "http://b/中.mov".into()]
        );
        assert_eq!(url_extension("http://a/b c.MP4?x=1.flv").as_deref(), Some("mp4"));
        assert_eq!(url_extension("http://a.com").as_deref(), None);
        assert_eq!(url_extension("http://a.com/dir.x/file").as_deref(), None);
        assert_eq!(default_title("http://a/x/clip one.mp4?q"), "clip one");
        assert!(check_url_form("ftp://a/b.mp4").is_err());
        assert!(check_url_form("http:///b.mp4").is_err());
        assert!(check_url_form("HTTPS://a/b.mp4").is_ok());
        assert_eq!(day_of(0), "19700101");
        assert!(check_session_id("abc-_1").is_ok());
        assert!(check_session_id("a b").is_err());
    }
}
