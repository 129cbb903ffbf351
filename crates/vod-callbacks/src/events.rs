//! Event payloads, one builder per event type, with the field names and JSON types of
//! Alibaba's event reference (protocol.md §4.2): strings stay strings (`Bitrate`, `Fps`,
//! `Size` of UploadByURLComplete), `Size`/`Width`/`Height` are integers, `Duration` a
//! float, `Encrypt` a boolean. `ErrorCode`/`ErrorMessage` appear only on failure.
//!
//! Every event also carries:
//! * `Extend` — the caller's pass-through string from UserData, when one was given (added
//!   by [`Event::with_extend`], which [`crate::emit`] calls);
//! * `EventId` — 32 hex characters, fixed when the event is built and kept across every
//!   retry, so receivers can drop duplicates. It is the last field of the body and is
//!   repeated in the `X-VOD-EVENT-ID` header. Alibaba sends no such field; receivers that
//!   ignore unknown fields (all JSON mappers by default) are unaffected.

use serde_json::{Map, Value, json};

/// Every event type the builders produce.
pub mod types {
    pub const FILE_UPLOAD_COMPLETE: &str = "FileUploadComplete";
    pub const IMAGE_UPLOAD_COMPLETE: &str = "ImageUploadComplete";
    pub const ATTACHED_MEDIA_UPLOAD_COMPLETE: &str = "AttachedMediaUploadComplete";
    pub const UPLOAD_BY_URL_COMPLETE: &str = "UploadByURLComplete";
    pub const STREAM_TRANSCODE_COMPLETE: &str = "StreamTranscodeComplete";
    pub const TRANSCODE_COMPLETE: &str = "TranscodeComplete";
    pub const SNAPSHOT_COMPLETE: &str = "SnapshotComplete";
    pub const VIDEO_ANALYSIS_COMPLETE: &str = "VideoAnalysisComplete";
    pub const DELETE_MEDIA_COMPLETE: &str = "DeleteMediaComplete";
    pub const MEDIA_BASE_CHANGE_COMPLETE: &str = "MediaBaseChangeComplete";
    pub const SUBMIT_MEDIA_REFRESH_COMPLETE: &str = "SubmitMediaRefreshComplete";
}

/// An error attached to a failed event or stream (`ErrorCode`, `ErrorMessage`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EventError {
    pub code: String,
    pub message: String,
}

impl EventError {
    pub fn new(code: impl Into<String>, message: impl Into<String>) -> Self {
        Self {
            code: code.into(),
            message: message.into(),
        }
    }
}

fn status(ok: bool) -> &'static str {
    if ok { "success" } else { "fail" }
}

/// One event: its type, stable id and body (fields in wire order).
#[derive(Debug, Clone, PartialEq)]
pub struct Event {
    id: String,
    event_type: &'static str,
    body: Map<String, Value>,
}

impl Event {
    /// A body starting with `EventTime` (now) and `EventType`.
    fn new(event_type: &'static str) -> Self {
        let mut body = Map::new();
        body.insert("EventTime".into(), Value::from(event_time_str(vod_core::now_ms())));
        body.insert("EventType".into(), Value::from(event_type));
        Self {
            id: vod_core::ids::hex_id(),
            event_type,
            body,
        }
    }

    fn put(&mut self, key: &str, value: impl Into<Value>) -> &mut Self {
        self.body.insert(key.into(), value.into());
        self
    }

    fn put_error(&mut self, error: Option<&EventError>) -> &mut Self {
        if let Some(e) = error {
            self.put("ErrorCode", e.code.as_str())
                .put("ErrorMessage", e.message.as_str());
        }
        self
    }

    pub fn id(&self) -> &str {
        &self.id
    }

    pub fn event_type(&self) -> &'static str {
        self.event_type
    }

    /// The event time as sent (`yyyy-MM-ddTHH:mm:ssZ`).
    pub fn event_time(&self) -> &str {
        self.body.get("EventTime").and_then(Value::as_str).unwrap_or_default()
    }

    /// Replaces the id (e.g. with one derived from the job that caused the event, so a
    /// re-run emits the same id).
    pub fn with_id(mut self, id: impl Into<String>) -> Self {
        self.id = id.into();
        self
    }

    /// Sets `EventTime` to `unix_ms` (UTC, second precision).
    pub fn at(mut self, unix_ms: i64) -> Self {
        let t = if self.event_type == types::IMAGE_UPLOAD_COMPLETE {
            image_time(unix_ms)
        } else {
            event_time_str(unix_ms)
        };
        self.body.insert("EventTime".into(), Value::from(t));
        self
    }

    /// Adds `Extend` (the UserData pass-through string); `None` leaves the event as it is.
    pub fn with_extend(mut self, extend: Option<&str>) -> Self {
        if let Some(e) = extend {
            self.body.insert("Extend".into(), Value::from(e));
        }
        self
    }

    /// The body without `EventId`, exactly as Alibaba defines the event.
    pub fn body(&self) -> &Map<String, Value> {
        &self.body
    }

    /// The JSON that is POSTed: the body plus `EventId` as its last field.
    pub fn to_json(&self) -> Value {
        let mut body = self.body.clone();
        body.insert("EventId".into(), Value::from(self.id.as_str()));
        Value::Object(body)
    }
}

/// `yyyy-MM-ddTHH:mm:ssZ`.
fn event_time_str(unix_ms: i64) -> String {
    let (date, time) = civil(unix_ms);
    format!("{date}T{time}Z")
}

/// ImageUploadComplete documents `yyyy-MM-ddTHH:mm:ss:SSSZ` (milliseconds after a colon).
fn image_time(unix_ms: i64) -> String {
    let (date, time) = civil(unix_ms);
    format!("{date}T{time}:{:03}Z", unix_ms.rem_euclid(1000))
}

/// (`yyyy-MM-dd`, `HH:mm:ss`) of a UTC instant (civil-from-days, proleptic Gregorian).
fn civil(unix_ms: i64) -> (String, String) {
    let secs = unix_ms.div_euclid(1000);
    let days = secs.div_euclid(86_400);
    let sod = secs.rem_euclid(86_400);
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    (
        format!("{year:04}-{month:02}-{day:02}"),
        format!("{:02}:{:02}:{:02}", sod / 3600, sod % 3600 / 60, sod % 60),
    )
}

/// FileUploadComplete: a video or audio file reached storage. (No event for failed uploads.)
pub fn file_upload_complete(video_id: &str, size: i64, file_url: &str) -> Event {
    let mut e = Event::new(types::FILE_UPLOAD_COMPLETE);
    e.put("VideoId", video_id)
        .put("Size", size)
        .put("FileUrl", file_url)
        .put("Status", "success");
    e
}

/// ImageUploadComplete: an image reached storage. Its documented sample carries `AppId`
/// and a millisecond `EventTime` (`2024-04-10T01:37:14:627Z`); both are reproduced.
pub fn image_upload_complete(image_id: &str, size: i64, file_url: &str, app_id: &str) -> Event {
    let now = vod_core::now_ms();
    let mut e = Event::new(types::IMAGE_UPLOAD_COMPLETE).at(now);
    e.put("ImageId", image_id)
        .put("Size", size)
        .put("FileURL", file_url)
        .put("Status", "success")
        .put("AppId", app_id);
    e
}

/// AttachedMediaUploadComplete: an auxiliary media file reached storage.
pub fn attached_media_upload_complete(attached_media_id: &str, size: i64, file_url: &str) -> Event {
    let mut e = Event::new(types::ATTACHED_MEDIA_UPLOAD_COMPLETE);
    e.put("AttachedMediaId", attached_media_id)
        .put("Size", size)
        .put("FileURL", file_url)
        .put("Status", "success");
    e
}

/// One URL pull (UploadMediaByURL) as UploadByURLComplete reports it.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct UrlUpload {
    pub job_id: String,
    pub source_url: String,
    /// Set once the pull created the media.
    pub video_id: Option<String>,
    /// Bytes pulled (sent as a string, as in Alibaba's sample).
    pub size: Option<i64>,
    pub error: Option<EventError>,
}

/// UploadByURLComplete: a URL pull finished (success or fail).
pub fn upload_by_url_complete(u: &UrlUpload) -> Event {
    let mut e = Event::new(types::UPLOAD_BY_URL_COMPLETE);
    if let Some(v) = &u.video_id {
        e.put("VideoId", v.as_str());
    }
    e.put("JobId", u.job_id.as_str())
        .put("SourceURL", u.source_url.as_str())
        .put("Status", status(u.error.is_none()));
    if let Some(size) = u.size.filter(|_| u.error.is_none()) {
        e.put("Size", size.to_string());
    }
    e.put_error(u.error.as_ref());
    e
}

/// One transcoded stream (a definition × format), as StreamTranscodeComplete and the
/// `StreamInfos` items of TranscodeComplete report it.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct StreamInfo {
    pub job_id: String,
    pub definition: String,
    pub format: String,
    /// Kbit/s, as a string.
    pub bitrate: String,
    /// Seconds.
    pub duration: f64,
    pub encrypt: bool,
    /// Playback URL without any auth_key.
    pub file_url: String,
    /// Frames per second, as a string.
    pub fps: String,
    pub height: i64,
    pub width: i64,
    pub size: i64,
    pub error: Option<EventError>,
}

impl StreamInfo {
    pub fn ok(&self) -> bool {
        self.error.is_none()
    }

    /// The stream fields in documented order. A failed stream carries only Status,
    /// Definition, Format, ErrorCode, ErrorMessage and JobId.
    fn fields(&self, into: &mut Event) {
        into.put("Status", status(self.ok()));
        if self.ok() {
            into.put("Bitrate", self.bitrate.as_str())
                .put("Definition", self.definition.as_str())
                .put("Duration", self.duration)
                .put("Encrypt", self.encrypt)
                .put("FileUrl", self.file_url.as_str())
                .put("Format", self.format.as_str())
                .put("Fps", self.fps.as_str())
                .put("Height", self.height)
                .put("Width", self.width)
                .put("Size", self.size);
        } else {
            into.put("Definition", self.definition.as_str())
                .put("Format", self.format.as_str());
            into.put_error(self.error.as_ref());
        }
        into.put("JobId", self.job_id.as_str());
    }
}

/// StreamTranscodeComplete: one stream finished.
pub fn stream_transcode_complete(video_id: &str, stream: &StreamInfo) -> Event {
    let mut e = Event::new(types::STREAM_TRANSCODE_COMPLETE);
    e.put("VideoId", video_id);
    stream.fields(&mut e);
    e
}

/// TranscodeComplete: every stream of a transcode finished; `success` when at least one
/// stream succeeded.
pub fn transcode_complete(video_id: &str, streams: &[StreamInfo]) -> Event {
    let mut e = Event::new(types::TRANSCODE_COMPLETE);
    e.put("VideoId", video_id)
        .put("Status", status(streams.iter().any(StreamInfo::ok)));
    let infos: Vec<Value> = streams
        .iter()
        .map(|s| {
            let mut item = Event {
                id: String::new(),
                event_type: "",
                body: Map::new(),
            };
            s.fields(&mut item);
            Value::Object(item.body)
        })
        .collect();
    e.put("StreamInfos", infos);
    e
}

/// One snapshot set of a SnapshotComplete event.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct SnapshotInfo {
    pub job_id: String,
    /// `CoverSnapshot`, `NormalSnapshot` or `SpriteSnapshot`.
    pub snapshot_type: String,
    pub snapshot_count: i64,
    /// The object path template, e.g. `snapshot/{id}/normal-{SnapshotCount}.jpg`.
    pub snapshot_format: String,
    /// The full URL template (`{SnapshotCount}` is 5 digits, `00001` first).
    pub snapshot_regular: String,
    pub error: Option<EventError>,
}

/// A finished snapshot job.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct SnapshotResult {
    pub video_id: String,
    /// `SpecifiedTime` for SubmitSnapshotJob; None for snapshots taken while transcoding.
    pub sub_type: Option<String>,
    pub cover_url: Option<String>,
    pub infos: Vec<SnapshotInfo>,
    pub error: Option<EventError>,
}

/// SnapshotComplete.
pub fn snapshot_complete(r: &SnapshotResult) -> Event {
    let mut e = Event::new(types::SNAPSHOT_COMPLETE);
    e.put("VideoId", r.video_id.as_str())
        .put("Status", status(r.error.is_none()));
    if let Some(s) = &r.sub_type {
        e.put("SubType", s.as_str());
    }
    e.put_error(r.error.as_ref());
    if let Some(c) = r.cover_url.as_deref().filter(|_| r.error.is_none()) {
        e.put("CoverUrl", c);
    }
    let infos: Vec<Value> = r
        .infos
        .iter()
        .map(|i| {
            let mut item = Event {
                id: String::new(),
                event_type: "",
                body: Map::new(),
            };
            item.put("Status", status(i.error.is_none()))
                .put("SnapshotType", i.snapshot_type.as_str());
            if i.error.is_none() {
                item.put("SnapshotCount", i.snapshot_count)
                    .put("SnapshotFormat", i.snapshot_format.as_str())
                    .put("SnapshotRegular", i.snapshot_regular.as_str());
            }
            item.put_error(i.error.as_ref()).put("JobId", i.job_id.as_str());
            Value::Object(item.body)
        })
        .collect();
    e.put("SnapshotInfos", infos);
    e
}

/// Media facts probed after upload (VideoAnalysisComplete; numbers as strings, as in
/// Alibaba's sample).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct VideoAnalysis {
    pub video_id: String,
    pub width: String,
    pub height: String,
    pub duration: String,
    pub bitrate: String,
    pub fps: String,
    pub size: String,
    pub error: Option<EventError>,
}

/// VideoAnalysisComplete.
pub fn video_analysis_complete(a: &VideoAnalysis) -> Event {
    let mut e = Event::new(types::VIDEO_ANALYSIS_COMPLETE);
    e.put("VideoId", a.video_id.as_str())
        .put("Status", status(a.error.is_none()));
    if a.error.is_none() {
        e.put("Width", a.width.as_str())
            .put("Height", a.height.as_str())
            .put("Duration", a.duration.as_str())
            .put("Bitrate", a.bitrate.as_str())
            .put("Fps", a.fps.as_str())
            .put("Size", a.size.as_str());
    }
    e.put_error(a.error.as_ref());
    e
}

/// What a DeleteVideo (or stream / mezzanine delete) removed.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct MediaDeletion {
    pub media_id: String,
    /// `video`, `image` or `attached`.
    pub media_type: String,
    /// `all`, `mezzanine` or `stream`.
    pub delete_type: String,
    /// Transcode job ids of the deleted streams (sent, comma-separated, for `stream` only).
    pub job_ids: Vec<String>,
    pub error: Option<EventError>,
}

/// DeleteMediaComplete.
pub fn delete_media_complete(d: &MediaDeletion) -> Event {
    let mut e = Event::new(types::DELETE_MEDIA_COMPLETE);
    e.put("Status", status(d.error.is_none()))
        .put("MediaType", d.media_type.as_str())
        .put("DeleteType", d.delete_type.as_str())
        .put("MediaId", d.media_id.as_str());
    if d.delete_type == "stream" && !d.job_ids.is_empty() {
        e.put("JobIds", d.job_ids.join(","));
    }
    e.put_error(d.error.as_ref());
    e
}

/// One changed base field of MediaBaseChangeComplete: `(field, old, new)`.
pub type FieldChange = (String, Value, Value);

/// MediaBaseChangeComplete: `operate_mode` is `create`, `update` or `delete`; each entry
/// of `MediaContent` is a JSON **string** `{"OldValue":..,"NewValue":..}`.
pub fn media_base_change_complete(
    media_id: &str,
    media_type: &str,
    operate_mode: &str,
    changes: &[FieldChange],
) -> Event {
    let mut e = Event::new(types::MEDIA_BASE_CHANGE_COMPLETE);
    let content: Map<String, Value> = changes
        .iter()
        .map(|(field, old, new)| {
            (
                field.clone(),
                Value::from(json!({"OldValue": old, "NewValue": new}).to_string()),
            )
        })
        .collect();
    e.put("Status", "success")
        .put("MediaType", media_type)
        .put("MediaId", media_id)
        .put("OperateMode", operate_mode)
        .put("MediaContent", Value::Object(content));
    e
}

/// A finished RefreshMediaPlayUrls job.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct MediaRefresh {
    pub media_refresh_job_id: String,
    pub media_id: String,
    /// As submitted (`Refresh` / `Preload`); Alibaba's sample shows it lower-cased.
    pub task_type: String,
    pub success_play_urls: Vec<String>,
    pub task_ids: Vec<String>,
    /// The filter of the call as a JSON string, e.g. `{"SliceFlag":false,"ResultType":"Single"}`.
    pub filter_policy: String,
    pub error: Option<EventError>,
}

/// SubmitMediaRefreshComplete.
pub fn submit_media_refresh_complete(r: &MediaRefresh) -> Event {
    let mut e = Event::new(types::SUBMIT_MEDIA_REFRESH_COMPLETE);
    e.put("Status", status(r.error.is_none()))
        .put("MediaRefreshJobId", r.media_refresh_job_id.as_str())
        .put("MediaId", r.media_id.as_str())
        .put("TaskType", r.task_type.as_str())
        .put("SuccessPlayUrls", r.success_play_urls.join(","))
        .put("TaskIds", r.task_ids.join(","))
        .put("FilterPolicy", r.filter_policy.as_str());
    e.put_error(r.error.as_ref());
    e
}

#[cfg(test)]
mod tests {
    use super::*;

    const T: i64 = 1_489_996_157_000; // 2017-03-20T07:49:17Z
    const ID: &str = "0123456789abcdef0123456789abcdef";

    fn wire(e: Event) -> String {
        e.at(T).with_id(ID).to_json().to_string()
    }

    #[test]
    fn times() {
        assert_eq!(event_time_str(T), "2017-03-20T07:49:17Z");
        assert_eq!(event_time_str(0), "1970-01-01T00:00:00Z");
        assert_eq!(event_time_str(951_782_400_000), "2000-02-29T00:00:00Z");
        assert_eq!(image_time(1_712_713_034_627), "2024-04-10T01:37:14:627Z");
    }

    #[test]
    fn file_upload() {
        let e = file_upload_complete("43q91jdh7df", 1_439_213, "http://b.example/x.mp4")
            .with_extend(Some(r#"{"test":"your extend data"}"#));
        assert_eq!(e.event_type(), "FileUploadComplete");
        assert_eq!(
            wire(e),
            r#"{"EventTime":"2017-03-20T07:49:17Z","EventType":"FileUploadComplete","VideoId":"43q91jdh7df","Size":1439213,"FileUrl":"http://b.example/x.mp4","Status":"success","Extend":"{\"test\":\"your extend data\"}","EventId":"0123456789abcdef0123456789abcdef"}"#
        );
    }

    #[test]
    fn image_and_attached_upload() {
        assert_eq!(
            image_upload_complete("img1", 105_520, "http://b/i.jpg", "app-1000000")
                .at(1_712_713_034_627)
                .with_id(ID)
                .to_json()
                .to_string(),
            r#"{"EventTime":"2024-04-10T01:37:14:627Z","EventType":"ImageUploadComplete","ImageId":"img1","Size":105520,"FileURL":"http://b/i.jpg","Status":"success","AppId":"app-1000000","EventId":"0123456789abcdef0123456789abcdef"}"#
        );
        assert_eq!(
            wire(attached_media_upload_complete("att1", 14_333, "http://b/a.png")),
            r#"{"EventTime":"2017-03-20T07:49:17Z","EventType":"AttachedMediaUploadComplete","AttachedMediaId":"att1","Size":14333,"FileURL":"http://b/a.png","Status":"success","EventId":"0123456789abcdef0123456789abcdef"}"#
        );
    }

    #[test]
    fn upload_by_url() {
        let ok = UrlUpload {
            job_id: "job1".into(),
            source_url: "http://src/a.mp4".into(),
            video_id: Some("vid1".into()),
            size: Some(123_456),
            error: None,
        };
        assert_eq!(
            wire(upload_by_url_complete(&ok)),
            r#"{"EventTime":"2017-03-20T07:49:17Z","EventType":"UploadByURLComplete","VideoId":"vid1","JobId":"job1","SourceURL":"http://src/a.mp4","Status":"success","Size":"123456","EventId":"0123456789abcdef0123456789abcdef"}"#
        );
        let fail = UrlUpload {
            job_id: "job2".into(),
            source_url: "http://src/b.mp4".into(),
            error: Some(EventError::new(
                "URLInvalidError",
                "download video failed by the url, please check it",
            )),
            ..Default::default()
        };
        assert_eq!(
            wire(upload_by_url_complete(&fail)),
            r#"{"EventTime":"2017-03-20T07:49:17Z","EventType":"UploadByURLComplete","JobId":"job2","SourceURL":"http://src/b.mp4","Status":"fail","ErrorCode":"URLInvalidError","ErrorMessage":"download video failed by the url, please check it","EventId":"0123456789abcdef0123456789abcdef"}"#
        );
    }

    fn stream(def: &str, ok: bool) -> StreamInfo {
        StreamInfo {
            job_id: format!("job-{def}"),
            definition: def.into(),
            format: "m3u8".into(),
            bitrate: "450.551".into(),
            duration: 100.0,
            encrypt: false,
            file_url: format!("http://cdn/{def}.m3u8"),
            fps: "25".into(),
            height: 640,
            width: 480,
            size: 39_200,
            error: (!ok).then(|| EventError::new("InvalidParameter", "bad")),
        }
    }

    #[test]
    fn stream_transcode() {
        let e = stream_transcode_complete("vid1", &stream("FD", true)).with_extend(Some("x"));
        assert_eq!(
            wire(e),
            r#"{"EventTime":"2017-03-20T07:49:17Z","EventType":"StreamTranscodeComplete","VideoId":"vid1","Status":"success","Bitrate":"450.551","Definition":"FD","Duration":100.0,"Encrypt":false,"FileUrl":"http://cdn/FD.m3u8","Format":"m3u8","Fps":"25","Height":640,"Width":480,"Size":39200,"JobId":"job-FD","Extend":"x","EventId":"0123456789abcdef0123456789abcdef"}"#
        );
        assert_eq!(
            wire(stream_transcode_complete("vid1", &stream("HD", false))),
            r#"{"EventTime":"2017-03-20T07:49:17Z","EventType":"StreamTranscodeComplete","VideoId":"vid1","Status":"fail","Definition":"HD","Format":"m3u8","ErrorCode":"InvalidParameter","ErrorMessage":"bad","JobId":"job-HD","EventId":"0123456789abcdef0123456789abcdef"}"#
        );
    }

    #[test]
    fn transcode() {
        let e = transcode_complete("vid1", &[stream("FD", true), stream("HD", false)]);
        assert_eq!(
            wire(e),
            r#"{"EventTime":"2017-03-20T07:49:17Z","EventType":"TranscodeComplete","VideoId":"vid1","Status":"success","StreamInfos":[{"Status":"success","Bitrate":"450.551","Definition":"FD","Duration":100.0,"Encrypt":false,"FileUrl":"http://cdn/FD.m3u8","Format":"m3u8","Fps":"25","Height":640,"Width":480,"Size":39200,"JobId":"job-FD"},{"Status":"fail","Definition":"HD","Format":"m3u8","ErrorCode":"InvalidParameter","ErrorMessage":"bad","JobId":"job-HD"}],"EventId":"0123456789abcdef0123456789abcdef"}"#
        );
        let all_failed = transcode_complete("vid1", &[stream("HD", false)]);
        assert_eq!(all_failed.body()["Status"], "fail");
        assert_eq!(transcode_complete("vid1", &[]).body()["Status"], "fail");
    }

    #[test]
    fn snapshot() {
        let r = SnapshotResult {
            video_id: "vid1".into(),
            sub_type: Some("SpecifiedTime".into()),
            cover_url: Some("http://cdn/cover.jpg".into()),
            infos: vec![SnapshotInfo {
                job_id: "sj1".into(),
                snapshot_type: "NormalSnapshot".into(),
                snapshot_count: 3,
                snapshot_format: "snapshot/vid1/normal-{SnapshotCount}.jpg".into(),
                snapshot_regular: "http://cdn/snapshot/vid1/normal-{SnapshotCount}.jpg".into(),
                error: None,
            }],
            error: None,
        };
        assert_eq!(
            wire(snapshot_complete(&r)),
            r#"{"EventTime":"2017-03-20T07:49:17Z","EventType":"SnapshotComplete","VideoId":"vid1","Status":"success","SubType":"SpecifiedTime","CoverUrl":"http://cdn/cover.jpg","SnapshotInfos":[{"Status":"success","SnapshotType":"NormalSnapshot","SnapshotCount":3,"SnapshotFormat":"snapshot/vid1/normal-{SnapshotCount}.jpg","SnapshotRegular":"http://cdn/snapshot/vid1/normal-{SnapshotCount}.jpg","JobId":"sj1"}],"EventId":"0123456789abcdef0123456789abcdef"}"#
        );
        let failed = SnapshotResult {
            video_id: "vid1".into(),
            error: Some(EventError::new("SnapshotFailed", "no frames")),
            ..Default::default()
        };
        assert_eq!(
            wire(snapshot_complete(&failed)),
            r#"{"EventTime":"2017-03-20T07:49:17Z","EventType":"SnapshotComplete","VideoId":"vid1","Status":"fail","ErrorCode":"SnapshotFailed","ErrorMessage":"no frames","SnapshotInfos":[],"EventId":"0123456789abcdef0123456789abcdef"}"#
        );
    }

    #[test]
    fn video_analysis() {
        let a = VideoAnalysis {
            video_id: "vid1".into(),
            width: "1280".into(),
            height: "720".into(),
            duration: "10.5".into(),
            bitrate: "800".into(),
            fps: "25".into(),
            size: "1048576".into(),
            error: None,
        };
        assert_eq!(
            wire(video_analysis_complete(&a)),
            r#"{"EventTime":"2017-03-20T07:49:17Z","EventType":"VideoAnalysisComplete","VideoId":"vid1","Status":"success","Width":"1280","Height":"720","Duration":"10.5","Bitrate":"800","Fps":"25","Size":"1048576","EventId":"0123456789abcdef0123456789abcdef"}"#
        );
    }

    #[test]
    fn delete_media() {
        let all = MediaDeletion {
            media_id: "m1".into(),
            media_type: "video".into(),
            delete_type: "all".into(),
            job_ids: vec!["ignored".into()],
            error: None,
        };
        assert_eq!(
            wire(delete_media_complete(&all)),
            r#"{"EventTime":"2017-03-20T07:49:17Z","EventType":"DeleteMediaComplete","Status":"success","MediaType":"video","DeleteType":"all","MediaId":"m1","EventId":"0123456789abcdef0123456789abcdef"}"#
        );
        let streams = MediaDeletion {
            delete_type: "stream".into(),
            job_ids: vec!["j1".into(), "j2".into()],
            error: Some(EventError::new("InvalidVideo.NotFound", "The video does not exist.")),
            ..all
        };
        assert_eq!(
            wire(delete_media_complete(&streams)),
            r#"{"EventTime":"2017-03-20T07:49:17Z","EventType":"DeleteMediaComplete","Status":"fail","MediaType":"video","DeleteType":"stream","MediaId":"m1","JobIds":"j1,j2","ErrorCode":"InvalidVideo.NotFound","ErrorMessage":"The video does not exist.","EventId":"0123456789abcdef0123456789abcdef"}"#
        );
    }

    #[test]
    fn media_base_change() {
        let e = media_base_change_complete(
            "m1",
            "video",
            "update",
            &[
                ("Title".into(), json!("old"), json!("new")),
                ("CateId".into(), json!(1), json!(2)),
            ],
        );
        assert_eq!(
            wire(e),
            r#"{"EventTime":"2017-03-20T07:49:17Z","EventType":"MediaBaseChangeComplete","Status":"success","MediaType":"video","MediaId":"m1","OperateMode":"update","MediaContent":{"Title":"{\"OldValue\":\"old\",\"NewValue\":\"new\"}","CateId":"{\"OldValue\":1,\"NewValue\":2}"},"EventId":"0123456789abcdef0123456789abcdef"}"#
        );
    }

    #[test]
    fn media_refresh() {
        let r = MediaRefresh {
            media_refresh_job_id: "c5ae61bf9af1".into(),
            media_id: "affab".into(),
            task_type: "refresh".into(),
            success_play_urls: vec!["https://cdn/a.mp4".into(), "https://cdn/b.m3u8".into()],
            task_ids: vec!["146043".into(), "146044".into()],
            filter_policy: r#"{"SliceFlag":false,"ResultType":"Single"}"#.into(),
            error: None,
        };
        assert_eq!(
            wire(submit_media_refresh_complete(&r).with_extend(Some("e"))),
            r#"{"EventTime":"2017-03-20T07:49:17Z","EventType":"SubmitMediaRefreshComplete","Status":"success","MediaRefreshJobId":"c5ae61bf9af1","MediaId":"affab","TaskType":"refresh","SuccessPlayUrls":"https://cdn/a.mp4,https://cdn/b.m3u8","TaskIds":"146043,146044","FilterPolicy":"{\"SliceFlag\":false,\"ResultType\":\"Single\"}","Extend":"e","EventId":"0123456789abcdef0123456789abcdef"}"#
        );
    }

    #[test]
    fn ids_are_fresh_and_stable() {
        let a = file_upload_complete("v", 1, "u");
        let b = file_upload_complete("v", 1, "u");
        assert_ne!(a.id(), b.id());
        assert_eq!(a.id().len(), 32);
        assert_eq!(a.to_json()["EventId"], a.id());
        assert!(!a.body().contains_key("EventId"), "the Alibaba body has no EventId");
    }
}
