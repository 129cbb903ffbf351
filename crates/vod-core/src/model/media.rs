//! The media library: videos and audio uploaded through VOD (CreateUploadVideo) and media
//! assets of ICE (CreateUploadMedia, RegisterMediaInfo), one record per media.
//!
//! # State machine
//!
//! ```text
//!   CreateUploadVideo / CreateUploadMedia ──► Uploading
//!   Uploading ──(object complete, ≥ 1 byte)──► UploadSucc ──(processing)──► Transcoding ──► Normal | TranscodeFail
//!   Uploading ──(object complete, 0 bytes)──► UploadFail  (damaged)
//!   any status ──(source overwritten through a refreshed credential)──► UploadSucc (jobs queued again)
//!   any status ──(probe: source not decodable)──► UploadFail (damaged)
//! ```
//!
//! Images, text and other ICE files skip processing: a complete upload makes them `Normal`.
//! `Checking`, `Blocked` and `ProduceFail` exist for review and editing (later issues).
//!
//! # Damaged
//!
//! A media is *damaged* when [`Media::damaged`] holds a reason. That happens exactly when
//! (1) the object completed for its upload address is empty (0 bytes): nothing can be
//! decoded from it, or (2) the probe (first step of every processing job) finds that the current
//! source cannot be decoded (`MediaRepo::set_media_damaged`, guarded by the source
//! generation). A damaged media has status `UploadFail`; its upload credentials are revoked
//! (`UploadEvents::upload_allowed` is false), RefreshUploadVideo / RefreshUploadMedia answer
//! `InvalidVideo.Damaged`, and it can only be deleted.
//!
//! # Object keys
//!
//! Every media gets its own key space in the upload bucket: VOD media
//! `sv/<media_id>/<media_id>.<ext>`, ICE media `ice/<media_id>/<media_id>.<ext>` (the
//! extension of the caller's file name, lower case). An `m3u8` upload also gets the
//! `ObjectPrefix` `sv/<media_id>/` (`ice/<media_id>/`) for its TS segments; its credential
//! covers that prefix, and only the playlist (`FileName`) completes the upload.

use serde_json::Value;

/// Which API a media belongs to: VOD (`vod`) and ICE (`ice`) keep separate libraries.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum MediaScope {
    Vod,
    Ice,
}

impl MediaScope {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Vod => "vod",
            Self::Ice => "ice",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "vod" => Some(Self::Vod),
            "ice" => Some(Self::Ice),
            _ => None,
        }
    }

    /// First path segment of this scope's object keys.
    pub fn key_root(self) -> &'static str {
        match self {
            Self::Vod => "sv",
            Self::Ice => "ice",
        }
    }
}

/// What a media holds. VOD media are `video` or `audio` (from the file extension); ICE
/// media may also be `image`, `text` or `other` (`FileInfo.Type`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum MediaType {
    Video,
    Audio,
    Image,
    Text,
    Other,
}

impl MediaType {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Video => "video",
            Self::Audio => "audio",
            Self::Image => "image",
            Self::Text => "text",
            Self::Other => "other",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "video" => Some(Self::Video),
            "audio" => Some(Self::Audio),
            "image" => Some(Self::Image),
            "text" => Some(Self::Text),
            "other" => Some(Self::Other),
            _ => None,
        }
    }

    /// Audio and video go through probe / transcode after upload; other files do not.
    pub fn is_av(self) -> bool {
        matches!(self, Self::Video | Self::Audio)
    }
}

/// Alibaba's audio/video status (`Status` of GetVideoInfo and SearchMedia).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum MediaStatus {
    /// Created; the source has not been uploaded yet.
    Uploading,
    /// The upload failed or the source is damaged (see the module doc).
    UploadFail,
    /// The source is stored; processing (if any) has not started.
    UploadSucc,
    Transcoding,
    TranscodeFail,
    /// Waiting for review before publishing.
    Checking,
    Blocked,
    /// Playable.
    Normal,
    /// Editing (production) failed.
    ProduceFail,
}

impl MediaStatus {
    pub const ALL: [MediaStatus; 9] = [
        Self::Uploading,
        Self::UploadFail,
        Self::UploadSucc,
        Self::Transcoding,
        Self::TranscodeFail,
        Self::Checking,
        Self::Blocked,
        Self::Normal,
        Self::ProduceFail,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Uploading => "Uploading",
            Self::UploadFail => "UploadFail",
            Self::UploadSucc => "UploadSucc",
            Self::Transcoding => "Transcoding",
            Self::TranscodeFail => "TranscodeFail",
            Self::Checking => "Checking",
            Self::Blocked => "Blocked",
            Self::Normal => "Normal",
            Self::ProduceFail => "ProduceFail",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|v| v.as_str() == s)
    }

    /// The status as ICE reports it (`MediaBasicInfo.Status`): `Init` before the source
    /// arrives, `Preparing` while it is processed, `PrepareFail` on failure, then `Normal`.
    pub fn ice_str(self) -> &'static str {
        match self {
            Self::Uploading => "Init",
            Self::UploadSucc | Self::Transcoding | Self::Checking => "Preparing",
            Self::UploadFail | Self::TranscodeFail | Self::ProduceFail => "PrepareFail",
            Self::Blocked => "Blocked",
            Self::Normal => "Normal",
        }
    }

    /// The mezzanine (source file) status of GetMezzanineInfo: `Uploading`, `UploadFail`
    /// or `Normal`.
    pub fn mezzanine_str(self) -> &'static str {
        match self {
            Self::Uploading => "Uploading",
            Self::UploadFail => "UploadFail",
            _ => "Normal",
        }
    }
}

/// The built-in template group that skips transcoding (`TemplateGroupId`).
pub const NO_TRANSCODE_TEMPLATE_GROUP: &str = "VOD_NO_TRANSCODE";

/// Job kind: probe a newly stored source (size, streams, duration; marks damaged sources).
pub const JOB_MEDIA_PROBE: &str = "media.probe";
/// Job kind: transcode a newly stored source with its template group or workflow.
pub const JOB_MEDIA_TRANSCODE: &str = "media.transcode";
/// Job kind: snapshots asked for with SubmitSnapshotJob.
pub const JOB_MEDIA_SNAPSHOT: &str = "media.snapshot";
/// Job kind: delete the objects under a deleted media's key prefix.
pub const JOB_MEDIA_PURGE: &str = "media.purge";

/// One media record.
#[derive(Debug, Clone, PartialEq)]
pub struct Media {
    /// 32 lowercase hex (a v7 UUID: ids sort by creation time).
    pub media_id: String,
    pub account_id: String,
    pub app_id: String,
    pub scope: MediaScope,
    pub media_type: MediaType,
    pub status: MediaStatus,
    pub title: String,
    pub description: String,
    /// Comma-separated, trimmed, without empty items.
    pub tags: String,
    pub cate_id: Option<i64>,
    pub cover_url: String,
    /// Caller-chosen id, unique per (account, scope).
    pub reference_id: Option<String>,
    /// The UserData JSON string as given (empty when none).
    pub user_data: String,
    pub template_group_id: String,
    pub workflow_id: String,
    /// ICE `BusinessType` (empty for VOD).
    pub business_type: String,
    /// The upload bucket (reported as `StorageLocation`).
    pub storage_location: String,
    /// The caller's file name (`FileName`; ICE: `Name.Ext`; registered: last URL segment).
    pub file_name: String,
    /// The object key the upload address names (`FileName` of UploadAddress); empty for
    /// registered media.
    pub object_key: String,
    /// `ObjectPrefix` of m3u8 uploads.
    pub object_prefix: Option<String>,
    /// ICE RegisterMediaInfo `InputURL` (empty otherwise).
    pub input_url: String,
    /// ICE RegisterMediaInfo `ClientToken` (idempotency).
    pub client_token: Option<String>,
    /// `FileSize` as declared at creation.
    pub declared_size: Option<i64>,
    /// Upload credentials issued so far (1 after creation; +1 per refresh). Credentials
    /// carry the generation they were issued at.
    pub upload_generation: i64,
    /// Sources accepted so far (0 until the first upload completes; +1 per overwrite).
    /// Processing jobs carry it so a job for a replaced source can tell it is stale.
    pub source_generation: i64,
    /// The object version of the current source (idempotency of `object_completed`).
    pub source_object_id: Option<String>,
    /// Source size in bytes, once uploaded.
    pub size: Option<i64>,
    /// Lowercase hex MD5 of the source, once uploaded.
    pub md5: Option<String>,
    /// The source URL on the OSS endpoint (unsigned), once uploaded.
    pub file_url: String,
    /// Filled by the probe (`vod-processing`).
    pub duration: Option<f64>,
    pub width: Option<i64>,
    pub height: Option<i64>,
    pub bitrate: Option<String>,
    pub fps: Option<String>,
    /// Probe output: `{"VideoStreamList":[..],"AudioStreamList":[..]}` with Alibaba's
    /// stream field names (all strings).
    pub streams: Option<Value>,
    /// Snapshot URLs (cover first), filled by processing.
    pub snapshots: Vec<String>,
    /// Why the media is damaged; `None` when it is not.
    pub damaged: Option<String>,
    /// Other creation parameters kept for processing and reporting (e.g.
    /// `EnableFirstFrameCover`, `PostProcessConfig`, `DynamicMetaData`).
    pub extra: Value,
    /// Unix ms.
    pub created_at: i64,
    pub modified_at: i64,
    /// When the current source was accepted.
    pub uploaded_at: Option<i64>,
}

impl Media {
    /// A new media in `Uploading` with generation 1 and nothing uploaded.
    pub fn new(
        media_id: String,
        account_id: String,
        app_id: String,
        scope: MediaScope,
        media_type: MediaType,
        created_at: i64,
    ) -> Self {
        Self {
            media_id,
            account_id,
            app_id,
            scope,
            media_type,
            status: MediaStatus::Uploading,
            title: String::new(),
            description: String::new(),
            tags: String::new(),
            cate_id: None,
            cover_url: String::new(),
            reference_id: None,
            user_data: String::new(),
            template_group_id: String::new(),
            workflow_id: String::new(),
            business_type: String::new(),
            storage_location: String::new(),
            file_name: String::new(),
            object_key: String::new(),
            object_prefix: None,
            input_url: String::new(),
            client_token: None,
            declared_size: None,
            upload_generation: 1,
            source_generation: 0,
            source_object_id: None,
            size: None,
            md5: None,
            file_url: String::new(),
            duration: None,
            width: None,
            height: None,
            bitrate: None,
            fps: None,
            streams: None,
            snapshots: Vec::new(),
            damaged: None,
            extra: Value::Object(Default::default()),
            created_at,
            modified_at: created_at,
            uploaded_at: None,
        }
    }

    pub fn is_damaged(&self) -> bool {
        self.damaged.is_some()
    }

    /// True when `key` (in the upload bucket) is this media's source object.
    pub fn is_source_key(&self, key: &str) -> bool {
        !self.object_key.is_empty() && self.object_key == key
    }

    /// True when `key` lies under this media's `ObjectPrefix` (m3u8 segments).
    pub fn is_under_prefix(&self, key: &str) -> bool {
        self.object_prefix
            .as_deref()
            .is_some_and(|p| !p.is_empty() && key.starts_with(p))
    }

    /// Whether a new source of this media queues a transcode: VOD media unless the template
    /// group is [`NO_TRANSCODE_TEMPLATE_GROUP`] (no group = the app's default group), and
    /// any media with a workflow.
    pub fn wants_transcode(&self) -> bool {
        if !self.media_type.is_av() {
            return false;
        }
        if !self.workflow_id.is_empty() {
            return true;
        }
        self.scope == MediaScope::Vod && self.template_group_id != NO_TRANSCODE_TEMPLATE_GROUP
    }
}

/// The creation time (unix ms) a media id encodes: ids are v7 UUIDs whose first 48 bits
/// are the creation millisecond. Media are created with exactly this time, so a media id
/// alone is a SearchMedia position (`ScrollToken`). `None` for ids of another shape.
pub fn created_at_of_id(media_id: &str) -> Option<i64> {
    if media_id.len() != 32 || !media_id.bytes().all(|b| b.is_ascii_hexdigit()) {
        return None;
    }
    i64::from_str_radix(&media_id[..12], 16).ok()
}

/// A new media id and its creation time (see [`created_at_of_id`]).
pub fn new_media_id() -> (String, i64) {
    let id = crate::ids::hex_id();
    let at = created_at_of_id(&id).unwrap_or_else(crate::now_ms);
    (id, at)
}

/// The key prefix of a media: `sv/<id>/` or `ice/<id>/`.
pub fn object_prefix_of(scope: MediaScope, media_id: &str) -> String {
    format!("{}/{media_id}/", scope.key_root())
}

/// The source object key of a media: `sv/<id>/<id>.<ext>` (`ice/...` for ICE).
pub fn object_key_of(scope: MediaScope, media_id: &str, ext: &str) -> String {
    format!(
        "{}{media_id}.{}",
        object_prefix_of(scope, media_id),
        ext.to_ascii_lowercase()
    )
}

/// Video file extensions VOD accepts (`FileName`), lower case.
pub const VIDEO_EXTENSIONS: &[&str] = &[
    "3gp", "asf", "avi", "dat", "dv", "f4v", "flv", "gif", "m2t", "m2ts", "m3u8", "m4v", "mj2", "mjpeg", "mkv", "mov",
    "mp4", "mpe", "mpeg", "mpg", "mts", "mxf", "ogg", "qt", "rm", "rmvb", "swf", "ts", "vob", "webm", "wmv",
];
/// Audio file extensions VOD accepts, lower case.
pub const AUDIO_EXTENSIONS: &[&str] = &[
    "aac", "ac3", "acm", "aiff", "amr", "ape", "caf", "flac", "m4a", "mp3", "ra", "wav", "wma",
];

/// The lower-case extension of a file name (`None` without one).
pub fn extension_of(file_name: &str) -> Option<String> {
    let name = file_name.rsplit(['/', '\\']).next().unwrap_or(file_name);
    let (_, ext) = name.rsplit_once('.')?;
    if ext.is_empty() {
        return None;
    }
    Some(ext.to_ascii_lowercase())
}

/// The VOD media type of a file name (`None` when the extension is not supported).
pub fn vod_media_type_of(file_name: &str) -> Option<(MediaType, String)> {
    let ext = extension_of(file_name)?;
    if VIDEO_EXTENSIONS.contains(&ext.as_str()) {
        Some((MediaType::Video, ext))
    } else if AUDIO_EXTENSIONS.contains(&ext.as_str()) {
        Some((MediaType::Audio, ext))
    } else {
        None
    }
}

/// Image extensions (ICE RegisterMediaInfo type detection).
pub const IMAGE_EXTENSIONS: &[&str] = &["jpg", "jpeg", "png", "gif", "bmp", "webp", "tiff", "heic"];
/// Text extensions (subtitles and fonts).
pub const TEXT_EXTENSIONS: &[&str] = &["srt", "vtt", "ass", "ssa", "ttf", "otf", "txt"];

/// Any media type of a file name, for ICE (`Other` when unknown).
pub fn any_media_type_of(file_name: &str) -> MediaType {
    let Some(ext) = extension_of(file_name) else {
        return MediaType::Other;
    };
    if let Some((t, _)) = vod_media_type_of(file_name)
        && ext != "gif"
    {
        return t;
    }
    if IMAGE_EXTENSIONS.contains(&ext.as_str()) {
        MediaType::Image
    } else if TEXT_EXTENSIONS.contains(&ext.as_str()) {
        MediaType::Text
    } else {
        MediaType::Other
    }
}

/// How to find one media of an account (within a scope).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MediaKey {
    Id(String),
    ReferenceId(String),
    /// ICE `InputURL` of a registered media.
    InputUrl(String),
    /// ICE `ClientToken` of a registration.
    ClientToken(String),
}

/// The editable descriptive fields (UpdateVideoInfo); `None` leaves a field unchanged.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct MediaPatch {
    pub title: Option<String>,
    pub description: Option<String>,
    pub tags: Option<String>,
    /// `Some(None)` clears the category.
    pub cate_id: Option<Option<i64>>,
    pub cover_url: Option<String>,
    pub reference_id: Option<String>,
    pub user_data: Option<String>,
}

impl MediaPatch {
    pub fn is_empty(&self) -> bool {
        self == &Self::default()
    }
}

/// A new source accepted for a media (`MediaRepo::complete_media_upload`).
#[derive(Debug, Clone, PartialEq)]
pub struct SourceUpdate {
    pub account_id: String,
    pub media_id: String,
    /// The `source_generation` the caller read; the update applies only if it still holds.
    pub expected_generation: i64,
    /// The object version accepted (becomes `source_object_id`).
    pub object_id: String,
    pub status: MediaStatus,
    /// `None` when unknown (a registered external URL).
    pub size: Option<i64>,
    pub md5: Option<String>,
    pub file_url: String,
    pub damaged: Option<String>,
    pub uploaded_at: i64,
}

/// What the probe learned about a source (`MediaRepo::record_source_info`).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct SourceInfo {
    pub duration: Option<f64>,
    pub width: Option<i64>,
    pub height: Option<i64>,
    pub bitrate: Option<String>,
    pub fps: Option<String>,
    pub streams: Option<Value>,
}

/// A field the SearchMedia `Match` language can filter on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MediaField {
    MediaId,
    Title,
    Description,
    Tags,
    CateId,
    Status,
    StorageLocation,
    AppId,
    ReferenceId,
    CreationTime,
    ModificationTime,
    Duration,
    Size,
}

/// A literal of a filter.
#[derive(Debug, Clone, PartialEq)]
pub enum FilterValue {
    Text(String),
    Int(i64),
    Float(f64),
}

/// One condition on one field.
#[derive(Debug, Clone, PartialEq)]
pub enum Condition {
    /// The field equals one of the values (text compared exactly; for `Tags`: one of the
    /// media's tags equals one of the values, case-insensitively).
    AnyOf(Vec<FilterValue>),
    /// The field contains one of the strings (case-insensitive substring).
    Contains(Vec<String>),
    /// `min <= field <= max`; a missing bound is open.
    Range {
        min: Option<FilterValue>,
        max: Option<FilterValue>,
    },
}

/// A parsed `Match` expression.
#[derive(Debug, Clone, PartialEq)]
pub enum MediaFilter {
    And(Vec<MediaFilter>),
    Or(Vec<MediaFilter>),
    Cond(MediaField, Condition),
}

/// One SearchMedia page.
#[derive(Debug, Clone, PartialEq)]
pub struct MediaQuery {
    pub scope: MediaScope,
    /// Only media of these types (empty: none match).
    pub media_types: Vec<MediaType>,
    pub filter: Option<MediaFilter>,
    /// Sort by creation time (then id) ascending when true, descending otherwise.
    pub ascending: bool,
    /// Keyset pagination: only media after this one in the sort order (ScrollToken).
    pub after: Option<(i64, String)>,
    /// Offset pagination (ignored with `after`): rows to skip.
    pub offset: u64,
    pub limit: u32,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_and_types() {
        assert_eq!(object_key_of(MediaScope::Vod, "abc", "MP4"), "sv/abc/abc.mp4");
        assert_eq!(object_prefix_of(MediaScope::Ice, "abc"), "ice/abc/");
        assert_eq!(vod_media_type_of("a b.MP4"), Some((MediaType::Video, "mp4".into())));
        assert_eq!(vod_media_type_of("x.mp3"), Some((MediaType::Audio, "mp3".into())));
        assert_eq!(vod_media_type_of("x.exe"), None);
        assert_eq!(vod_media_type_of("noext"), None);
        assert_eq!(vod_media_type_of("trailing."), None);
        assert_eq!(any_media_type_of("a.png"), MediaType::Image);
        assert_eq!(any_media_type_of("a.gif"), MediaType::Image);
        assert_eq!(any_media_type_of("a.srt"), MediaType::Text);
        assert_eq!(any_media_type_of("a.bin"), MediaType::Other);
        assert_eq!(MediaStatus::parse("UploadSucc"), Some(MediaStatus::UploadSucc));
        assert_eq!(MediaStatus::Uploading.ice_str(), "Init");
        let before = crate::now_ms();
        let (id, at) = new_media_id();
        assert!((before..=crate::now_ms()).contains(&at));
        assert_eq!(created_at_of_id(&id), Some(at));
        assert_eq!(created_at_of_id("xyz"), None);
    }

    #[test]
    fn transcode_rule() {
        let mut m = Media::new(
            "id".into(),
            "a".into(),
            "app".into(),
            MediaScope::Vod,
            MediaType::Video,
            0,
        );
        assert!(m.wants_transcode(), "no group: the default group transcodes");
        m.template_group_id = NO_TRANSCODE_TEMPLATE_GROUP.into();
        assert!(!m.wants_transcode());
        m.workflow_id = "wf".into();
        assert!(m.wants_transcode(), "a workflow wins");
        let ice = Media::new(
            "id".into(),
            "a".into(),
            "app".into(),
            MediaScope::Ice,
            MediaType::Video,
            0,
        );
        assert!(!ice.wants_transcode());
        let img = Media::new(
            "id".into(),
            "a".into(),
            "app".into(),
            MediaScope::Ice,
            MediaType::Image,
            0,
        );
        assert!(!img.wants_transcode());
    }
}
