//! Stored objects of the OSS-compatible endpoint: an object is one blob (PutObject) or a
//! manifest of part blobs (CompleteMultipartUpload, never concatenated); in-progress
//! multipart uploads and their parts. Blob names are opaque paths inside the blob store.

/// How an object's bytes are stored (also its `x-oss-object-type`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ObjectType {
    /// One blob (`StoredObject::blob`).
    Normal,
    /// An ordered manifest of part blobs (`ObjectRepo::object_manifest`).
    Multipart,
}

impl ObjectType {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Normal => "Normal",
            Self::Multipart => "Multipart",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "Normal" => Some(Self::Normal),
            "Multipart" => Some(Self::Multipart),
            _ => None,
        }
    }
}

/// The current version of the object at `(bucket, key)`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredObject {
    pub bucket: String,
    pub key: String,
    /// Unique per version (a new id on every overwrite); owns the manifest rows.
    pub object_id: String,
    pub account_id: String,
    pub size: u64,
    /// The ETag without quotes: uppercase hex MD5, or `<HEX>-<parts>` for multipart.
    pub etag: String,
    /// Lowercase hex MD5 of the whole object; `None` until computed (multipart objects whose
    /// bytes were not hashed in order while uploading).
    pub md5_hex: Option<String>,
    /// CRC-64/XZ of the whole object (`x-oss-hash-crc64ecma`).
    pub crc64: u64,
    pub content_type: String,
    pub object_type: ObjectType,
    /// The blob of a `Normal` object; `None` for `Multipart`.
    pub blob: Option<String>,
    /// Number of manifest parts (0 for `Normal`).
    pub part_count: u32,
    /// The media the writing credential named, if any.
    pub media_id: Option<String>,
    /// Unix ms.
    pub created_at: i64,
    /// True once `UploadEvents::object_completed` has accepted the object.
    pub notified: bool,
}

/// One entry of a multipart object's manifest, in object order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ManifestPart {
    pub part_number: u32,
    pub blob: String,
    pub size: u64,
    /// Byte offset of this part inside the object.
    pub offset: u64,
}

/// An in-progress multipart upload.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MultipartUpload {
    pub upload_id: String,
    pub bucket: String,
    pub key: String,
    pub account_id: String,
    pub content_type: String,
    pub media_id: Option<String>,
    /// Unix ms.
    pub initiated_at: i64,
}

/// One uploaded part of an in-progress multipart upload.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UploadPart {
    pub upload_id: String,
    pub part_number: u32,
    pub blob: String,
    pub size: u64,
    /// Lowercase hex MD5 of the part (its ETag is the uppercase form, quoted).
    pub md5_hex: String,
    pub crc64: u64,
    /// Unix ms.
    pub last_modified: i64,
}
