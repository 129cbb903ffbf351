//! CDN refresh and preload: RefreshMediaPlayUrls jobs (one record per MediaRefreshJobId ×
//! MediaId), URL-level tasks (RefreshVodObjectCaches / PreloadVodObjectCaches, and the
//! per-URL tasks of a media refresh), the daily quotas and the registry of edge nodes.
//!
//! # Flow
//!
//! A call stores its records, one [`RefreshTask`] per URL (status `Refreshing`) and one
//! `cdn.refresh` job per *batch* in one transaction (`RefreshRepo::submit_refresh`). A batch
//! is the unit of work of one job: the URLs of one media of a RefreshMediaPlayUrls call, or
//! all paths of one Refresh/PreloadVodObjectCaches call. The job purges (or preloads) every
//! URL on every live edge node and writes the outcome of every task, the media record's
//! final status and the SubmitMediaRefreshComplete delivery in one transaction
//! (`RefreshRepo::complete_refresh_batch`), which only the first finishing attempt can do.

use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use crate::model::MediaStream;
use crate::model::NewJob;
use crate::model::stream::select_streams;
use crate::service::media::MediaConfig;

/// Job kind of a refresh/preload batch.
pub const JOB_CDN_REFRESH: &str = "cdn.refresh";

/// Attempts of a `cdn.refresh` job: an unreachable edge or purge hook is tried again; after
/// the last attempt its URLs count as failed.
pub const REFRESH_JOB_ATTEMPTS: i64 = 3;

/// The `cdn.refresh` job of a batch: payload `{"v":1,"batch_id":..}`, id = the batch id,
/// unique key `cdn.refresh:<batch>`.
pub fn refresh_job(batch_id: &str, max_attempts: i64) -> NewJob {
    let mut job = NewJob::new(JOB_CDN_REFRESH, json!({"v": 1, "batch_id": batch_id}), max_attempts);
    job.id = batch_id.to_string();
    job.unique_key = Some(format!("{JOB_CDN_REFRESH}:{batch_id}"));
    job
}

/// `TaskType` of RefreshMediaPlayUrls.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum RefreshTaskType {
    Refresh,
    Preload,
}

impl RefreshTaskType {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Refresh => "Refresh",
            Self::Preload => "Preload",
        }
    }

    /// Case-insensitive.
    pub fn parse(s: &str) -> Option<Self> {
        if s.eq_ignore_ascii_case("Refresh") {
            Some(Self::Refresh)
        } else if s.eq_ignore_ascii_case("Preload") {
            Some(Self::Preload)
        } else {
            None
        }
    }
}

/// `Status` of a media refresh record: Alibaba documents `success` and `fail`; a record whose
/// job has not finished yet is `processing`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum MediaRefreshStatus {
    Processing,
    Success,
    Fail,
}

impl MediaRefreshStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Processing => "processing",
            Self::Success => "success",
            Self::Fail => "fail",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        [Self::Processing, Self::Success, Self::Fail]
            .into_iter()
            .find(|v| v.as_str() == s)
    }
}

/// The stream filter of a RefreshMediaPlayUrls call; its JSON is `FilterPolicy`
/// (`{"Formats":"mp4,m3u8","Definitions":"HD,SD","StreamType":"video","ResultType":"Single",
/// "SliceFlag":false,"SliceCount":3}`; unset lists are left out).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct RefreshFilter {
    #[serde(skip_serializing_if = "String::is_empty", default)]
    pub formats: String,
    #[serde(skip_serializing_if = "String::is_empty", default)]
    pub definitions: String,
    #[serde(skip_serializing_if = "String::is_empty", default)]
    pub stream_type: String,
    /// `Single` or `Multiple`.
    pub result_type: String,
    pub slice_flag: bool,
    pub slice_count: i64,
}

impl Default for RefreshFilter {
    fn default() -> Self {
        Self {
            formats: String::new(),
            definitions: String::new(),
            stream_type: String::new(),
            result_type: "Single".into(),
            slice_flag: false,
            slice_count: 5,
        }
    }
}

fn split(list: &str) -> Vec<String> {
    list.split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_string)
        .collect()
}

impl RefreshFilter {
    /// The `FilterPolicy` string.
    pub fn to_policy(&self) -> String {
        serde_json::to_string(self).unwrap_or_else(|_| "{}".into())
    }

    /// The play URLs the filter selects among `streams` (newest first, as
    /// `StreamRepo::list_streams` returns them): each selected stream's URL and, with
    /// `SliceFlag`, the first `SliceCount` segments of each m3u8 stream right after its
    /// playlist. Duplicates are dropped.
    pub fn play_urls(&self, streams: &[MediaStream], media: &MediaConfig) -> Vec<String> {
        let single = !self.result_type.eq_ignore_ascii_case("Multiple");
        let picked = select_streams(
            streams,
            &split(&self.formats),
            &split(&self.definitions),
            &split(&self.stream_type),
            single,
        );
        let mut urls: Vec<String> = Vec::new();
        let mut push = |u: String| {
            if !urls.contains(&u) {
                urls.push(u);
            }
        };
        let slices = usize::try_from(self.slice_count.max(0)).unwrap_or(0);
        for s in picked {
            push(media.play_url(&s.bucket, &s.object_key));
            if self.slice_flag && s.format.eq_ignore_ascii_case("m3u8") {
                for seg in s.segments.iter().take(slices) {
                    push(media.play_url(&s.bucket, seg));
                }
            }
        }
        urls
    }
}

/// One media of a RefreshMediaPlayUrls call (GetMediaRefreshJobs item).
#[derive(Debug, Clone, PartialEq)]
pub struct MediaRefreshJob {
    /// `MediaRefreshJobId` (shared by the media of one call).
    pub job_id: String,
    pub media_id: String,
    /// The batch (and `cdn.refresh` job id) running this media's URLs.
    pub batch_id: String,
    pub account_id: String,
    pub app_id: String,
    /// Position of the media in the call's `MediaIds`.
    pub seq: i64,
    pub task_type: RefreshTaskType,
    /// `FilterPolicy`: the JSON of [`RefreshFilter`].
    pub filter_policy: String,
    pub status: MediaRefreshStatus,
    pub success_play_urls: Vec<String>,
    /// One per entry of `success_play_urls`, same order.
    pub task_ids: Vec<String>,
    pub error_code: String,
    pub error_message: String,
    pub user_data: String,
    /// Unix ms (`GmtCreate`, `GmtModified`).
    pub created_at: i64,
    pub modified_at: i64,
}

/// The common part of the records of one RefreshMediaPlayUrls call.
#[derive(Debug, Clone)]
pub struct MediaRefreshRequest {
    /// `MediaRefreshJobId`.
    pub job_id: String,
    pub account_id: String,
    pub task_type: RefreshTaskType,
    pub filter: RefreshFilter,
    pub user_data: String,
    pub now_ms: i64,
}

impl MediaRefreshRequest {
    /// One media's record (`processing`), its URL tasks and its `cdn.refresh` job, as
    /// `RefreshRepo::submit_refresh` stores them.
    pub fn plan(
        &self,
        seq: i64,
        media_id: &str,
        app_id: &str,
        urls: &[String],
    ) -> (MediaRefreshJob, Vec<RefreshTask>, NewJob) {
        let batch_id = crate::ids::hex_id();
        let kind = match self.task_type {
            RefreshTaskType::Refresh => RefreshObjectType::File,
            RefreshTaskType::Preload => RefreshObjectType::Preload,
        };
        let record = MediaRefreshJob {
            job_id: self.job_id.clone(),
            media_id: media_id.to_string(),
            batch_id: batch_id.clone(),
            account_id: self.account_id.clone(),
            app_id: app_id.to_string(),
            seq,
            task_type: self.task_type,
            filter_policy: self.filter.to_policy(),
            status: MediaRefreshStatus::Processing,
            success_play_urls: Vec::new(),
            task_ids: Vec::new(),
            error_code: String::new(),
            error_message: String::new(),
            user_data: self.user_data.clone(),
            created_at: self.now_ms,
            modified_at: self.now_ms,
        };
        let items: Vec<(String, RefreshObjectType)> = urls.iter().map(|u| (u.clone(), kind)).collect();
        let tasks = plan_tasks(&self.account_id, &batch_id, &items, self.now_ms);
        let job = refresh_job(&batch_id, REFRESH_JOB_ATTEMPTS);
        (record, tasks, job)
    }
}

/// `Refreshing` tasks of one batch, one per `(path, type)`, in order.
pub fn plan_tasks(
    account_id: &str,
    batch_id: &str,
    items: &[(String, RefreshObjectType)],
    now_ms: i64,
) -> Vec<RefreshTask> {
    items
        .iter()
        .enumerate()
        .map(|(i, (path, kind))| RefreshTask {
            task_id: new_task_id(),
            account_id: account_id.to_string(),
            batch_id: batch_id.to_string(),
            seq: i64::try_from(i).unwrap_or(i64::MAX),
            object_path: path.clone(),
            domain: domain_of(path),
            object_type: *kind,
            status: RefreshTaskStatus::Refreshing,
            process: 0,
            description: String::new(),
            created_at: now_ms,
            modified_at: now_ms,
        })
        .collect()
}

/// What a URL task does: `ObjectType` of DescribeVodRefreshTasks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum RefreshObjectType {
    /// Purge one object.
    File,
    /// Purge everything under a path.
    Directory,
    /// Fetch one object into the caches.
    Preload,
}

impl RefreshObjectType {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::File => "file",
            Self::Directory => "directory",
            Self::Preload => "preload",
        }
    }

    /// Case-insensitive; `path` is CDN's older name of `directory`.
    pub fn parse(s: &str) -> Option<Self> {
        match s.to_ascii_lowercase().as_str() {
            "file" => Some(Self::File),
            "directory" | "path" => Some(Self::Directory),
            "preload" => Some(Self::Preload),
            _ => None,
        }
    }
}

/// `Status` of a URL task.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum RefreshTaskStatus {
    Refreshing,
    Complete,
    Failed,
}

impl RefreshTaskStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Refreshing => "Refreshing",
            Self::Complete => "Complete",
            Self::Failed => "Failed",
        }
    }

    /// Case-insensitive.
    pub fn parse(s: &str) -> Option<Self> {
        [Self::Refreshing, Self::Complete, Self::Failed]
            .into_iter()
            .find(|v| v.as_str().eq_ignore_ascii_case(s))
    }
}

/// One URL (or directory) purged or preloaded on every edge.
#[derive(Debug, Clone, PartialEq)]
pub struct RefreshTask {
    /// Decimal digits, like Alibaba's CDN task ids.
    pub task_id: String,
    pub account_id: String,
    pub batch_id: String,
    /// Position in the batch.
    pub seq: i64,
    /// The URL as submitted (`http://host/bucket/key`), or a directory ending in `/`.
    pub object_path: String,
    /// The host of `object_path` (DescribeVodRefreshTasks `DomainName`).
    pub domain: String,
    pub object_type: RefreshObjectType,
    pub status: RefreshTaskStatus,
    /// Percent done (`Process` is `"<n>%"`).
    pub process: i64,
    /// Why it failed (empty otherwise).
    pub description: String,
    pub created_at: i64,
    pub modified_at: i64,
}

/// A new decimal task id (16 digits).
pub fn new_task_id() -> String {
    let hex = crate::ids::hex_id();
    let n = u64::from_str_radix(&hex[16..32], 16).unwrap_or(0);
    format!("{}", 1_000_000_000_000_000 + n % 9_000_000_000_000_000)
}

/// The host of a URL (`http://host:port/path` → `host:port`), or of a scheme-less
/// `host/path`.
pub fn domain_of(url: &str) -> String {
    let rest = url.split_once("://").map_or(url, |(_, r)| r);
    rest.split(['/', '?', '#']).next().unwrap_or_default().to_string()
}

/// The outcome of one task, written by the job.
#[derive(Debug, Clone, PartialEq)]
pub struct TaskResult {
    pub task_id: String,
    pub status: RefreshTaskStatus,
    pub description: String,
}

/// The final state of a media refresh record.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct MediaRefreshOutcome {
    pub success: bool,
    pub success_play_urls: Vec<String>,
    pub task_ids: Vec<String>,
    pub error_code: String,
    pub error_message: String,
}

/// Filter and page of DescribeVodRefreshTasks.
#[derive(Debug, Clone, Default)]
pub struct RefreshTaskQuery {
    /// Any of these ids (empty: any).
    pub task_ids: Vec<String>,
    /// Exact match.
    pub object_path: Option<String>,
    pub object_type: Option<RefreshObjectType>,
    pub status: Option<RefreshTaskStatus>,
    pub domain: Option<String>,
    /// Created at or after (unix ms).
    pub start_ms: Option<i64>,
    /// Created at or before (unix ms).
    pub end_ms: Option<i64>,
    /// 1-based.
    pub page_no: u32,
    pub page_size: u32,
}

/// An edge node that announced itself (`RefreshRepo::upsert_edge_node`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EdgeNode {
    pub node_id: String,
    /// Base URL of its control API, e.g. `http://10.0.0.5:8090`.
    pub control_url: String,
    pub last_seen_at: i64,
}

/// Daily quotas of the URL-level refresh actions (DescribeVodRefreshQuota), per account and
/// UTC day. Counted in URLs (directories for `dir_per_day`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct RefreshQuotas {
    /// URL purges (`UrlQuota`; Alibaba: 2,000).
    pub url_per_day: u64,
    /// Directory purges (`DirQuota`; Alibaba: 100).
    pub dir_per_day: u64,
    /// URL preloads (`PreloadQuota`; Alibaba: 500).
    pub preload_per_day: u64,
    /// Storage purges (`BlockQuota`; reported only, nothing consumes it).
    pub block_per_day: u64,
}

impl Default for RefreshQuotas {
    fn default() -> Self {
        Self {
            url_per_day: 2000,
            dir_per_day: 100,
            preload_per_day: 500,
            block_per_day: 500,
        }
    }
}

/// Names of the daily counters (`daily_counters` table) of an account's quotas.
pub fn quota_counter(kind: RefreshObjectType, account_id: &str) -> String {
    format!("cdn.{}:{account_id}", kind.as_str())
}

/// `YYYYMMDD` (UTC) of a unix ms time, the `day` of daily counters.
pub fn quota_day(unix_ms: i64) -> String {
    let days = unix_ms.div_euclid(86_400_000);
    let date = time::Date::from_julian_day(2_440_588 + i32::try_from(days).unwrap_or(0)).unwrap_or(time::Date::MIN);
    format!("{:04}{:02}{:02}", date.year(), u8::from(date.month()), date.day())
}

/// The JSON result a finished batch job stores.
pub fn batch_result(tasks: usize, ok: usize, edges: usize) -> Value {
    json!({"tasks": tasks, "ok": ok, "edges": edges})
}

#[cfg(test)]
#[path = "refresh_tests.rs"]
mod tests;
