//! Transcode template groups (AddTranscodeTemplateGroup and friends): what each template of a
//! group asks for, in Alibaba's JSON vocabulary, plus the two built-in groups every app has:
//! the default ladder and `VOD_NO_TRANSCODE`.
//!
//! A template is kept as the JSON object the caller gave (`raw`, echoed back by
//! GetTranscodeTemplateGroup; nested settings sent as JSON strings are stored as the objects
//! they encode) and as the typed fields processing needs. Numbers are accepted as JSON
//! numbers or numeric strings, as the Alibaba console and SDK examples mix both. Ranges follow
//! the TranscodeTemplate reference (basic data types page).

use serde_json::{Map, Value, json};

use self::spec::{audio_spec, flag, normalize, number, sub, text, video_spec};

mod spec;

/// The built-in group that publishes the source as an `OD` stream without transcoding.
pub use super::media::NO_TRANSCODE_TEMPLATE_GROUP;

/// The id of the built-in default ladder (used while an app has no default group of its own).
pub const DEFAULT_TEMPLATE_GROUP: &str = "VOD_DEFAULT_LADDER";

/// Container formats a template may produce.
pub const TEMPLATE_FORMATS: &[&str] = &["mp4", "m3u8", "mp3", "flv", "webm"];
/// Definitions a template may name (protocol §3.16; `FHD` legacy).
pub const DEFINITIONS: &[&str] = &["FD", "LD", "SD", "HD", "FHD", "2K", "4K", "OD", "SQ", "HQ", "AUTO"];
/// Template types (`Type`); `Normal` when absent.
pub const TEMPLATE_TYPES: &[&str] = &["Normal", "VideoPackage", "SubtitlePackage"];
/// Keys whose value is a JSON object (the Tea models send and receive them as JSON strings).
pub const OBJECT_KEYS: &[&str] = &[
    "Video",
    "Audio",
    "Container",
    "MuxConfig",
    "TransConfig",
    "EncryptSetting",
    "PackageSetting",
    "Clip",
    "CopyrightMark",
    "TraceMark",
];
/// Keys whose value is a JSON array (also sent as JSON strings).
pub const ARRAY_KEYS: &[&str] = &["SubtitleList", "OpeningList", "TailSlateList"];
/// Video settings of a template (`Video`).
#[derive(Debug, Clone, PartialEq)]
pub struct VideoSpec {
    /// `H.264` (default), `H.265` or `VP9` (webm).
    pub codec: String,
    /// Output box (even, 128..=4096); `None` keeps the source's (or scales by the other side).
    pub width: Option<u32>,
    pub height: Option<u32>,
    /// Target bitrate in Kbps (`Bitrate`, 10..=50000).
    pub bitrate_kbps: Option<u32>,
    /// Constant rate factor (`Crf`, 0..=51), used when no bitrate is given.
    pub crf: Option<u32>,
    /// Frame rate cap (`Fps`, up to 60).
    pub fps: Option<f64>,
    /// Keyframe interval in frames (`Gop`).
    pub gop: Option<u32>,
    /// `baseline`, `main` or `high` (H.264 `Profile`).
    pub profile: Option<String>,
}

/// Audio settings of a template (`Audio`).
#[derive(Debug, Clone, PartialEq)]
pub struct AudioSpec {
    /// `AAC` (default for video containers), `MP3` (mp3) or `OPUS` (webm).
    pub codec: String,
    /// Kbps, 8..=1000.
    pub bitrate_kbps: Option<u32>,
    pub samplerate: Option<u32>,
    /// 1, 2, 4, 5, 6 or 8 (MP3: 1 or 2).
    pub channels: Option<u32>,
}

/// One template of a group.
#[derive(Debug, Clone, PartialEq)]
pub struct TranscodeTemplate {
    /// 32 lowercase hex.
    pub template_id: String,
    pub name: String,
    /// `LD`, `SD`, ... (see [`DEFINITIONS`]).
    pub definition: String,
    /// `Container.Format`, lower case (see [`TEMPLATE_FORMATS`]).
    pub format: String,
    /// `None` for audio-only formats or `Video.Remove = true`.
    pub video: Option<VideoSpec>,
    /// `None` when `Audio.Remove = true`.
    pub audio: Option<AudioSpec>,
    /// HLS segment length in seconds (`MuxConfig.Segment.Duration`, m3u8 only).
    pub segment_seconds: Option<u32>,
    /// The template object as given, with `TranscodeTemplateId` set and nested settings
    /// given as JSON strings replaced by the objects / arrays they encode.
    pub raw: Map<String, Value>,
}

impl TranscodeTemplate {
    /// True for templates that produce audio only (`mp3`, or video removed).
    pub fn is_audio_only(&self) -> bool {
        self.video.is_none()
    }

    /// Parses one element of `TranscodeTemplateList`. `template_id` is kept when the object
    /// carries a `TranscodeTemplateId`, else `new_id` is assigned. `Err` says what is wrong.
    pub fn from_json(value: &Value, new_id: impl FnOnce() -> String) -> Result<Self, String> {
        let obj = value.as_object().ok_or("each template must be a JSON object")?;
        let mut raw = normalize(obj)?;
        let template_id = match obj.get("TranscodeTemplateId").and_then(Value::as_str) {
            Some(id) if !id.trim().is_empty() => id.trim().to_string(),
            _ => new_id(),
        };
        raw.insert("TranscodeTemplateId".into(), Value::from(template_id.clone()));
        let definition = text(obj.get("Definition")).ok_or("Definition is required")?;
        if !DEFINITIONS.contains(&definition.as_str()) {
            return Err(format!("Definition '{definition}' is not supported"));
        }
        if let Some(t) = text(obj.get("Type"))
            && !TEMPLATE_TYPES.contains(&t.as_str())
        {
            return Err(format!(
                "Type '{t}' is not one of Normal, VideoPackage, SubtitlePackage"
            ));
        }
        let name = text(obj.get("TemplateName")).unwrap_or_default();
        if name.len() > 128 {
            return Err("TemplateName must be at most 128 bytes".into());
        }
        let container = sub(&raw, "Container")?;
        let format = container
            .as_ref()
            .and_then(|c| text(c.get("Format")))
            .map(|f| f.to_ascii_lowercase())
            .ok_or("Container.Format is required")?;
        if !TEMPLATE_FORMATS.contains(&format.as_str()) {
            return Err(format!("Container.Format '{format}' is not supported"));
        }
        let audio_only_format = format == "mp3";
        let video = match sub(&raw, "Video")? {
            _ if audio_only_format => None,
            Some(v) if flag(v.get("Remove")) => None,
            v => Some(video_spec(v.as_ref(), &format)?),
        };
        let audio = match sub(&raw, "Audio")? {
            Some(a) if flag(a.get("Remove")) => None,
            a => Some(audio_spec(a.as_ref(), &format)?),
        };
        if video.is_none() && audio.is_none() {
            return Err("a template must keep video or audio".into());
        }
        let segment_seconds = sub(&raw, "MuxConfig")?
            .and_then(|m| m.get("Segment").cloned())
            .and_then(|s| number(s.get("Duration")))
            .map(|d| d.round() as u32);
        if segment_seconds.is_some_and(|d| !(1..=60).contains(&d)) {
            return Err("MuxConfig.Segment.Duration must be between 1 and 60".into());
        }
        Ok(Self {
            template_id,
            name,
            definition,
            format,
            video,
            audio,
            segment_seconds,
            raw,
        })
    }

    /// `WatermarkIds` of the template (see [`watermark_ids`]).
    pub fn watermark_ids(&self) -> Vec<String> {
        watermark_ids(self.raw.get("WatermarkIds"))
    }
}

/// The watermark ids of a template's `WatermarkIds`: a JSON array, a JSON string holding one,
/// or a comma-separated string.
pub fn watermark_ids(v: Option<&Value>) -> Vec<String> {
    let items: Vec<Value> = match v {
        Some(Value::Array(a)) => a.clone(),
        Some(Value::String(s)) => match serde_json::from_str::<Value>(s) {
            Ok(Value::Array(a)) => a,
            _ => s.split(',').map(|x| Value::from(x.trim().trim_matches('"'))).collect(),
        },
        _ => Vec::new(),
    };
    items
        .iter()
        .filter_map(|x| text(Some(x)))
        .filter(|x| !x.is_empty())
        .collect()
}

/// A group of templates.
#[derive(Debug, Clone, PartialEq)]
pub struct TemplateGroup {
    pub account_id: String,
    /// 32 lowercase hex, or one of the built-in ids.
    pub group_id: String,
    pub app_id: String,
    pub name: String,
    pub is_default: bool,
    /// `Locked` groups cannot be changed or deleted (`Locked` = `Enabled`).
    pub locked: bool,
    pub templates: Vec<TranscodeTemplate>,
    pub created_at: i64,
    pub modified_at: i64,
}

impl TemplateGroup {
    /// True for groups that publish the source instead of transcoding.
    pub fn is_no_transcode(&self) -> bool {
        self.group_id == NO_TRANSCODE_TEMPLATE_GROUP
    }

    /// True for the built-in groups (never stored, never changed).
    pub fn is_builtin(&self) -> bool {
        is_builtin_group(&self.group_id)
    }

    /// The templates as stored: a JSON array of their `raw` objects.
    pub fn templates_json(&self) -> String {
        Value::Array(self.templates.iter().map(|t| Value::Object(t.raw.clone())).collect()).to_string()
    }

    /// Parses [`templates_json`](Self::templates_json) back (ids are kept).
    pub fn templates_from_json(stored: &str) -> Result<Vec<TranscodeTemplate>, String> {
        match serde_json::from_str::<Value>(stored) {
            Ok(Value::Array(items)) => items
                .iter()
                .map(|v| TranscodeTemplate::from_json(v, String::new))
                .collect(),
            _ => Err("stored templates are not a JSON array".into()),
        }
    }
}

/// True for `VOD_DEFAULT_LADDER` and `VOD_NO_TRANSCODE`.
pub fn is_builtin_group(group_id: &str) -> bool {
    group_id == DEFAULT_TEMPLATE_GROUP || group_id == NO_TRANSCODE_TEMPLATE_GROUP
}

/// The built-in default ladder: H.264/AAC LD (480p), SD (720p) and HD (1080p) as MP4 and as
/// HLS (6 s TS segments), and MP3 SQ (128 Kbps) and HQ (256 Kbps) for audio sources.
pub fn default_ladder_templates() -> Vec<TranscodeTemplate> {
    let mut list = Vec::new();
    for (def, height, kbps) in [("LD", 480, 900), ("SD", 720, 1800), ("HD", 1080, 3500)] {
        for format in ["mp4", "m3u8"] {
            let mut t = json!({
                "TemplateName": format!("{def} {format}"),
                "Definition": def,
                "Container": {"Format": format},
                "Video": {"Codec": "H.264", "Height": height, "Bitrate": kbps, "Profile": "high"},
                "Audio": {"Codec": "AAC", "Bitrate": 128, "Samplerate": 44100, "Channels": 2},
                "TransConfig": {"IsCheckReso": "true"},
            });
            if format == "m3u8" {
                t["MuxConfig"] = json!({"Segment": {"Duration": 6}});
            }
            list.push(t);
        }
    }
    for (def, kbps) in [("SQ", 128), ("HQ", 256)] {
        list.push(json!({
            "TemplateName": format!("{def} mp3"),
            "Definition": def,
            "Container": {"Format": "mp3"},
            "Audio": {"Codec": "MP3", "Bitrate": kbps, "Samplerate": 44100, "Channels": 2},
        }));
    }
    list.iter()
        .enumerate()
        .map(|(i, v)| {
            // Stable ids: the built-in group is the same on every node and after restarts.
            TranscodeTemplate::from_json(v, || format!("{:032x}", 0xd0_0000 + i)).expect("built-in template is valid")
        })
        .collect()
}

/// The built-in groups of an account's app: the default ladder and the no-transcode group
/// (locked, not default, times 0: callers fill `is_default` and times from the app).
pub fn builtin_group(account_id: &str, app_id: &str, group_id: &str) -> Option<TemplateGroup> {
    let (name, templates) = match group_id {
        DEFAULT_TEMPLATE_GROUP => ("Default", default_ladder_templates()),
        NO_TRANSCODE_TEMPLATE_GROUP => ("No transcoding", Vec::new()),
        _ => return None,
    };
    Some(TemplateGroup {
        account_id: account_id.to_string(),
        group_id: group_id.to_string(),
        app_id: app_id.to_string(),
        name: name.to_string(),
        is_default: false,
        locked: true,
        templates,
        created_at: 0,
        modified_at: 0,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn id() -> String {
        "t".repeat(32)
    }

    #[test]
    fn parses_strings_and_numbers() {
        let t = TranscodeTemplate::from_json(
            &json!({"Definition":"SD","Container":{"Format":"M3U8"},"Video":"{\"Bitrate\":\"800\",\"Height\":720}",
                    "Audio":{"Bitrate":"96"},"MuxConfig":{"Segment":{"Duration":"4"}},
                    "WatermarkIds":"[\"USER_DEFAULT_WATERMARK\",\"w2\"]"}),
            id,
        )
        .unwrap();
        assert_eq!(t.format, "m3u8");
        let v = t.video.clone().unwrap();
        assert_eq!(
            (v.codec.as_str(), v.bitrate_kbps, v.height, v.width),
            ("H.264", Some(800), Some(720), None)
        );
        assert_eq!(t.audio.clone().unwrap().bitrate_kbps, Some(96));
        assert_eq!(t.segment_seconds, Some(4));
        assert_eq!(t.raw["TranscodeTemplateId"], json!(id()));
        assert_eq!(
            t.raw["Video"],
            json!({"Bitrate":"800","Height":720}),
            "JSON strings are decoded"
        );
        assert_eq!(t.watermark_ids(), ["USER_DEFAULT_WATERMARK", "w2"]);
        let again = TranscodeTemplate::from_json(&Value::Object(t.raw.clone()), String::new).unwrap();
        assert_eq!(again, t, "raw round-trips");
    }

    #[test]
    fn audio_only_and_errors() {
        let t = TranscodeTemplate::from_json(&json!({"Definition":"SQ","Container":{"Format":"mp3"}}), id).unwrap();
        assert!(t.is_audio_only());
        assert_eq!(t.audio.unwrap().codec, "MP3");
        for (bad, why) in [
            (json!({"Container":{"Format":"mp4"}}), "Definition is required"),
            (
                json!({"Definition":"XX","Container":{"Format":"mp4"}}),
                "Definition 'XX'",
            ),
            (
                json!({"Definition":"LD","Container":{"Format":"avi"}}),
                "Container.Format 'avi'",
            ),
            (json!({"Definition":"LD"}), "Container.Format is required"),
            (
                json!({"Definition":"LD","Container":"nope"}),
                "Container must be a JSON object",
            ),
            (
                json!({"Definition":"LD","Container":{"Format":"mp4"},"Video":{"Bitrate":"-1"}}),
                "Video.Bitrate",
            ),
            (
                json!({"Definition":"LD","Container":{"Format":"mp4"},"Video":{"Width":"641"}}),
                "even",
            ),
            (
                json!({"Definition":"LD","Container":{"Format":"mp4"},"Video":{"Fps":"0"}}),
                "Video.Fps",
            ),
            (
                json!({"Definition":"LD","Container":{"Format":"mp4"},"Video":{"Codec":"VP9"}}),
                "VP9",
            ),
            (
                json!({"Definition":"LD","Container":{"Format":"flv"},"Video":{"Codec":"H.265"}}),
                "flv",
            ),
            (
                json!({"Definition":"LD","Container":{"Format":"mp4"},"Audio":{"Samplerate":"12345"}}),
                "Samplerate",
            ),
            (
                json!({"Definition":"LD","Container":{"Format":"mp4"},"Audio":{"Codec":"MP3","Channels":6}}),
                "Channels",
            ),
            (
                json!({"Definition":"LD","Container":{"Format":"mp4"},"Type":"Fancy"}),
                "Type",
            ),
            (
                json!({"Definition":"LD","Container":{"Format":"mp4"},"Video":{"Remove":true},"Audio":{"Remove":"true"}}),
                "keep video or audio",
            ),
            (json!("x"), "JSON object"),
        ] {
            let err = TranscodeTemplate::from_json(&bad, id).unwrap_err();
            assert!(err.contains(why), "{bad}: {err}");
        }
    }

    #[test]
    fn builtin_groups() {
        let d = builtin_group("a", "app-1000000", DEFAULT_TEMPLATE_GROUP).unwrap();
        assert_eq!(d.templates.len(), 8);
        assert!(d.templates.iter().filter(|t| t.is_audio_only()).count() == 2);
        assert!(d.is_builtin() && d.locked);
        let n = builtin_group("a", "app-1000000", NO_TRANSCODE_TEMPLATE_GROUP).unwrap();
        assert!(n.is_no_transcode() && n.templates.is_empty());
        assert!(builtin_group("a", "x", "other").is_none());
        let stored = TemplateGroup::templates_from_json(&d.templates_json()).unwrap();
        assert_eq!(stored, d.templates, "stored form round-trips with ids");
    }
}
