//! URL-based uploads (UploadMediaByURL): one record per submitted URL, reported by
//! GetURLUploadInfos and pulled by a durable `upload.url_pull` job.
//!
//! # Status
//!
//! ```text
//!   PENDING ──► DOWNLOADING ──► DOWNLOAD_SUCCESS ──► UPLOADING ──► UPLOAD_SUCCESS ──► SUCCESS
//!      │             └──► DOWNLOAD_FAIL (origin error, blocked address, too large, timeout)
//!      │                                                 └──► UPLOAD_FAIL (not media, storage)
//!      └──► CANCELED (CancelUrlUploadJobs before the job finished)
//! ```
//!
//! `SUCCESS` is written together with UploadByURLComplete (the callback is stored in the
//! same transaction). `PROCESSING` is accepted on read for compatibility but never written.

use serde::{Deserialize, Serialize};
use serde_json::Value;

/// Job kind of the pull.
pub const JOB_URL_PULL: &str = "upload.url_pull";

/// Alibaba's URL upload job statuses (plus `CANCELED`, see the module doc).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum UrlUploadStatus {
    Pending,
    Processing,
    Downloading,
    DownloadSuccess,
    DownloadFail,
    Uploading,
    UploadSuccess,
    UploadFail,
    Success,
    Canceled,
}

impl UrlUploadStatus {
    pub const ALL: [UrlUploadStatus; 10] = [
        Self::Pending,
        Self::Processing,
        Self::Downloading,
        Self::DownloadSuccess,
        Self::DownloadFail,
        Self::Uploading,
        Self::UploadSuccess,
        Self::UploadFail,
        Self::Success,
        Self::Canceled,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Pending => "PENDING",
            Self::Processing => "PROCESSING",
            Self::Downloading => "DOWNLOADING",
            Self::DownloadSuccess => "DOWNLOAD_SUCCESS",
            Self::DownloadFail => "DOWNLOAD_FAIL",
            Self::Uploading => "UPLOADING",
            Self::UploadSuccess => "UPLOAD_SUCCESS",
            Self::UploadFail => "UPLOAD_FAIL",
            Self::Success => "SUCCESS",
            Self::Canceled => "CANCELED",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|v| v.as_str() == s)
    }

    /// No further change happens (the pull job finishes without work).
    pub fn is_final(self) -> bool {
        matches!(
            self,
            Self::Success | Self::DownloadFail | Self::UploadFail | Self::Canceled
        )
    }

    /// The statuses a job that has not finished may be in.
    pub const UNFINISHED: [UrlUploadStatus; 6] = [
        Self::Pending,
        Self::Processing,
        Self::Downloading,
        Self::DownloadSuccess,
        Self::Uploading,
        Self::UploadSuccess,
    ];
}

/// Per-URL media settings of UploadMediaByURL (`UploadMetadatas` over the top level).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct UrlMediaMeta {
    pub title: String,
    pub description: String,
    pub tags: String,
    pub cate_id: Option<i64>,
    pub cover_url: String,
    pub template_group_id: String,
    pub workflow_id: String,
    /// Lower case, without the dot; empty = from the URL path.
    pub file_extension: String,
    pub declared_size: Option<i64>,
    pub storage_location: String,
    /// Other flags kept for processing (`EnableFirstFrameCover`, `GenerateThumbnail`).
    pub extra: Value,
}

/// One URL upload job.
#[derive(Debug, Clone, PartialEq)]
pub struct UrlUpload {
    /// 32 lowercase hex; also the id of its `upload.url_pull` job.
    pub job_id: String,
    pub account_id: String,
    pub app_id: String,
    /// The URL as submitted (decoded once).
    pub upload_url: String,
    pub status: UrlUploadStatus,
    /// Chosen at submission; the media exists once the pull has stored the file.
    pub media_id: String,
    /// Set once the media was created.
    pub media_created: bool,
    pub file_size: Option<i64>,
    pub error_code: String,
    pub error_message: String,
    pub user_data: String,
    pub meta: UrlMediaMeta,
    /// Unix ms.
    pub created_at: i64,
    pub completed_at: Option<i64>,
}

/// A status change of a running pull (`UrlUploadRepo::update_url_upload`).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct UrlUploadUpdate {
    pub media_created: Option<bool>,
    pub file_size: Option<i64>,
    pub error_code: Option<String>,
    pub error_message: Option<String>,
    pub completed_at: Option<i64>,
}

/// `[url_upload]` settings (pull limits and the daily quota).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct UrlUploadConfig {
    /// Largest file a pull accepts (bytes).
    pub max_file_bytes: u64,
    /// TCP (and TLS) connect limit of a pull request, seconds.
    pub connect_timeout_secs: u64,
    /// A pull fails (and is retried) when no byte arrives for this long, seconds.
    pub idle_timeout_secs: u64,
    /// Time for the response headers of one request, seconds.
    pub header_timeout_secs: u64,
    /// UploadMediaByURL calls per account and UTC day (Alibaba: 200,000); 0 = unlimited.
    pub daily_quota: u64,
    /// Allow origins on loopback addresses (tests and single-host setups).
    pub allow_loopback: bool,
    /// Allow origins on private addresses (RFC 1918, CGNAT, ULA).
    pub allow_private: bool,
    /// Ranges always allowed.
    pub allow_cidrs: Vec<String>,
    /// Redirects followed per request (each target is checked by the address policy).
    pub max_redirects: usize,
    /// Attempts of a pull before it fails for good (transient errors back off).
    pub max_attempts: i64,
    /// Time limit of the media probe (ffprobe), seconds.
    pub probe_timeout_secs: u64,
    /// The probe program.
    pub ffprobe: String,
    /// Pulls one node runs at once.
    pub concurrency: usize,
}

impl Default for UrlUploadConfig {
    fn default() -> Self {
        Self {
            max_file_bytes: 20 << 30,
            connect_timeout_secs: 10,
            idle_timeout_secs: 60,
            header_timeout_secs: 30,
            daily_quota: 200_000,
            allow_loopback: false,
            allow_private: false,
            allow_cidrs: Vec::new(),
            max_redirects: 5,
            max_attempts: 5,
            probe_timeout_secs: 60,
            ffprobe: "ffprobe".into(),
            concurrency: 4,
        }
    }
}

/// Error codes written on failure (ErrorCode of GetURLUploadInfos / UploadByURLComplete).
pub mod codes {
    /// The origin answered with an error status (404, 403, ...), or the URL is unusable.
    pub const URL_INVALID: &str = "URLInvalidError";
    /// The origin address is refused by the outbound address policy.
    pub const URL_FORBIDDEN: &str = "URLForbidden";
    /// The connection failed or dropped and retries were used up.
    pub const DOWNLOAD_FAILED: &str = "DownloadFailed";
    /// The file exceeds `max_file_bytes` (or its announced size does).
    pub const FILE_TOO_LARGE: &str = "FileSizeExceeded";
    /// The downloaded file is not audio or video (the probe found no media).
    pub const NOT_MEDIA: &str = "InvalidMediaFile";
    /// Storing the file failed and retries were used up.
    pub const STORE_FAILED: &str = "UploadFailed";
    /// CancelUrlUploadJobs.
    pub const CANCELED: &str = "Canceled";
}
