//! Play streams and snapshots of a media: what transcoding (or the no-transcode group)
//! published. Streams are versioned: every transcode run adds rows with a newer
//! `created_at`; `ResultType=Single` picks the newest per (definition, format), `Multiple`
//! sees them all until they are deleted.

/// One playable output.
#[derive(Debug, Clone, PartialEq)]
pub struct MediaStream {
    /// 32 lowercase hex.
    pub stream_id: String,
    pub media_id: String,
    pub account_id: String,
    /// The transcode run that made it (`JobId` of PlayInfo and of the events).
    pub job_id: String,
    /// `LD`, `SD`, `HD`, `OD`, `SQ`, `HQ`, ...
    pub definition: String,
    /// `mp4`, `m3u8`, `mp3`, `flv`, `webm`.
    pub format: String,
    /// `video` or `audio`.
    pub stream_type: String,
    /// Bucket and key of the playable object (the playlist for m3u8).
    pub bucket: String,
    pub object_key: String,
    /// m3u8: the keys of the segments, in playlist order (relative names live next to the
    /// playlist); empty otherwise.
    pub segments: Vec<String>,
    /// Kbps, as a decimal string (PlayInfo `Bitrate`).
    pub bitrate: String,
    /// Seconds, as a decimal string.
    pub duration: String,
    pub fps: String,
    pub width: i64,
    pub height: i64,
    /// Bytes: the file, or for m3u8 the playlist plus its segments.
    pub size: i64,
    /// e.g. `H264.LD`, `Original`, `Audio`.
    pub specification: String,
    pub codec_name: String,
    /// The source generation it was made from.
    pub source_generation: i64,
    /// Unix ms.
    pub created_at: i64,
}

/// What kind of snapshot set (`SnapshotType` of ListSnapshots and SnapshotComplete).
pub const SNAPSHOT_COVER: &str = "CoverSnapshot";
pub const SNAPSHOT_NORMAL: &str = "NormalSnapshot";
pub const SNAPSHOT_SPRITE: &str = "SpriteSnapshot";

/// One snapshot job's output: a numbered series of images.
#[derive(Debug, Clone, PartialEq)]
pub struct SnapshotSet {
    pub job_id: String,
    pub media_id: String,
    pub account_id: String,
    /// [`SNAPSHOT_COVER`], [`SNAPSHOT_NORMAL`] or [`SNAPSHOT_SPRITE`].
    pub snapshot_type: String,
    pub bucket: String,
    /// The keys of the images, in order.
    pub keys: Vec<String>,
    pub created_at: i64,
}

/// The outcome of one processing run (`StreamRepo::publish`): stored in one transaction
/// when the media's source is still `source_generation`.
#[derive(Debug, Clone, PartialEq)]
pub struct Publication {
    pub media_id: String,
    pub source_generation: i64,
    pub streams: Vec<MediaStream>,
    pub snapshot_sets: Vec<SnapshotSet>,
    /// Move the media to `.1` when its status is one of `.0` (any when empty).
    pub status: Option<(Vec<super::MediaStatus>, super::MediaStatus)>,
    /// Becomes `CoverURL` unless the media already has one (the caller's cover wins).
    pub cover_url: Option<String>,
    /// Replaces the media's snapshot URLs (GetVideoInfo `Snapshots`).
    pub snapshots: Option<Vec<String>>,
    pub now_ms: i64,
}

/// Definitions in the order play lists (PlayInfoList, refresh URLs) list them: the
/// definitions table itself, lowest first.
pub const DEFINITION_ORDER: &[&str] = super::template::DEFINITIONS;

/// The streams a request's filters select (GetPlayInfo, RefreshMediaPlayUrls): each filter
/// list matches case-insensitively and an empty list matches all; `single` keeps the newest
/// stream per (definition, format) (`streams` come newest first, as `list_streams` returns
/// them). Ordered by definition ([`DEFINITION_ORDER`]), format, newest first.
pub fn select_streams<'a>(
    streams: &'a [MediaStream],
    formats: &[String],
    definitions: &[String],
    stream_types: &[String],
    single: bool,
) -> Vec<&'a MediaStream> {
    let mut seen = std::collections::HashSet::new();
    let mut picked: Vec<&MediaStream> = streams
        .iter()
        .filter(|s| formats.is_empty() || formats.iter().any(|f| f.eq_ignore_ascii_case(&s.format)))
        .filter(|s| definitions.is_empty() || definitions.iter().any(|d| d.eq_ignore_ascii_case(&s.definition)))
        .filter(|s| stream_types.is_empty() || stream_types.iter().any(|t| t.eq_ignore_ascii_case(&s.stream_type)))
        .filter(|s| !single || seen.insert((s.definition.clone(), s.format.clone())))
        .collect();
    let rank = |d: &str| {
        DEFINITION_ORDER
            .iter()
            .position(|x| *x == d)
            .unwrap_or(DEFINITION_ORDER.len())
    };
    picked.sort_by(|a, b| {
        (rank(&a.definition), &a.format, std::cmp::Reverse(a.created_at)).cmp(&(
            rank(&b.definition),
            &b.format,
            std::cmp::Reverse(b.created_at),
        ))
    });
    picked
}
