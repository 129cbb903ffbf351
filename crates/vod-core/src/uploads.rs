//! The seam between the OSS-compatible endpoint and the media library: the endpoint asks
//! whether an upload credential is still honoured and reports every completed object.

use async_trait::async_trait;

use crate::CoreResult;

/// An object the OSS endpoint has fully and durably written (PutObject, or
/// CompleteMultipartUpload).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CompletedObject {
    pub account_id: String,
    pub bucket: String,
    pub key: String,
    pub size: u64,
    /// Lowercase hex MD5 of the whole object (for multipart: of the assembled bytes).
    pub md5_hex: String,
    /// The ETag as returned to the client, without quotes.
    pub etag: String,
    /// CRC-64/XZ (`x-oss-hash-crc64ecma`).
    pub crc64: u64,
    pub content_type: Option<String>,
    /// The media the writing credential was issued for, if it named one.
    pub media_id: Option<String>,
}

/// Implemented by the media library; called by the OSS endpoint.
#[async_trait]
pub trait UploadEvents: Send + Sync {
    /// Whether a credential issued for `media_id` at `generation` may still write: false once
    /// the media is deleted (revocation) or its upload was re-issued with a newer generation
    /// when the caller requires that. Implementations may cache briefly.
    async fn upload_allowed(&self, account_id: &str, media_id: &str, generation: Option<i64>) -> CoreResult<bool>;

    /// Called once per completed object, after the bytes are durable. The media library moves
    /// the media to UploadSucc, records size and MD5, emits FileUploadComplete and queues
    /// processing, in one transaction. Must be idempotent (the same object may be reported
    /// twice after a crash).
    async fn object_completed(&self, object: &CompletedObject) -> CoreResult<()>;
}
